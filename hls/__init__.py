# Marks hls/ as package data dqhw.hw.hls so an installed dqhw finds it (dqhw.resources).
