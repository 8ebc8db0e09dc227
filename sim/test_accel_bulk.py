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
    # the clock toggled in C++ by cocotb's GPI. cocotb's runner picks it for Verilator anyway (it sets
    # COCOTB_TRUST_INERTIAL_WRITES); said here because a Python clock task runs the whole CNV W2A2 bulk
    # path 3x slower (65.5 k vs 198 k cycles/s, measured), so a changed default must not slip in
    Clock(dut.clk, 10, unit="ns", impl="gpi").start()
    t0 = time.perf_counter()
    await RisingEdge(dut.done)
    wall = time.perf_counter() - t0
    with open(out, "w") as f:
        json.dump({"wall_s": wall}, f)
