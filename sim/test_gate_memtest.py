"""cocotb driver of sim/gate/dqhw_gate_memtest.v (RTL or its synth_ecp5 netlist): seeded random inputs
for CYCLES cycles, every output recorded after each clock edge into the JSON file OUT (tests/test_gate.py
compares the RTL's and the netlist's)."""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


@cocotb.test()
async def record_outputs(dut):
    Clock(dut.clk, 10, unit="ns").start()
    rng = random.Random(int(os.environ.get("SEED", "1")))
    out = []
    for _ in range(int(os.environ.get("CYCLES", "4000"))):
        await FallingEdge(dut.clk)
        dut.a.value = rng.getrandbits(11)
        dut.d.value = rng.getrandbits(36)
        dut.we.value = rng.getrandbits(1)
        dut.wa.value = rng.getrandbits(10)
        await RisingEdge(dut.clk)
        await ReadOnly()
        out.append([int(dut.q36.value), int(dut.q18.value), int(dut.q9.value), int(dut.qr.value), int(dut.qw.value)])
    with open(os.environ["OUT"], "w") as f:
        json.dump(out, f)
