# Marks rtl/ as package data dqhw.hw.rtl so an installed dqhw finds it (dqhw.resources).
