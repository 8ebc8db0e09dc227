# Marks flows/ as package data dqhw.hw.flows so an installed dqhw finds it (dqhw.resources).
