"""cocotb entry of the bulk run: start the clock and await `done` of tb_dqhw_accel.

All stimulus and checking data live in the Verilog testbench (memory-fed, see
dqhw/simulate/testbench.py) and in Python after the run; this coroutine only lets time pass, so the
simulation runs at Verilator speed instead of Python-per-cycle speed.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge


@cocotb.test()
async def bulk(dut):
    out = os.environ.get("DQHW_SIM_TIMING", "timing.json")
    Clock(dut.clk, 10, unit="ns").start()
    t0 = time.perf_counter()
    await RisingEdge(dut.done)
    wall = time.perf_counter() - t0
    with open(out, "w") as f:
        json.dump({"wall_s": wall}, f)
