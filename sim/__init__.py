# Marks sim/ as package data dqhw.hw.sim so an installed dqhw finds it (dqhw.resources).
