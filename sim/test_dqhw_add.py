"""cocotb test of rtl/dqhw_add.v: two input streams joined beat by beat, out = WA * a + WB * b per lane.

DQHW_TB_CFG = JSON with "vectors": a JSON file {"a": [hex beats], "b": [hex beats], "out": [hex
beats]} written by tests/test_rtl_residual.py, whose plain-loop reference computes the sums (not
dqhw's code under test). Each input has its own random valid pattern and the output its own random
ready pattern, so the two inputs arrive out of step: the join must pair beat k of a with beat k of b.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from axis import AxisSink, AxisSource, compare_streams, reset, settle, start_clock


async def _run(dut, valid_a: float, valid_b: float, ready: float, seed: int) -> None:
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    with open(cfg["vectors"]) as f:
        v = json.load(f)
    a, b, expected = ([int(x, 16) for x in v[k]] for k in ("a", "b", "out"))
    start_clock(dut.clk)
    src_a = AxisSource(dut, prefix="s0_axis", valid_prob=valid_a, rng=random.Random(seed))
    src_b = AxisSource(dut, prefix="s1_axis", valid_prob=valid_b, rng=random.Random(seed + 1))
    snk = AxisSink(dut, ready_prob=ready, rng=random.Random(seed + 2))
    await reset(dut)
    src_a.send(a)
    src_b.send(b)
    await snk.wait_for(len(expected), int(len(a) / (min(valid_a, valid_b) * ready) * 4) + 1000)
    await settle(dut.clk, 50)
    assert not snk.errors, snk.errors
    assert len(src_a.sent) == len(a) and len(src_b.sent) == len(b)
    compare_streams(snk.received, expected)
    if valid_a == valid_b == ready == 1.0:
        used = snk.cycles[-1] - max(src_a.first_cycle, src_b.first_cycle) + 1
        assert used <= len(a) + 4, f"{used} cycles for {len(a)} beats"
    for end in (src_a, src_b, snk):
        end.kill()


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, 1.0, 1.0, 1.0, seed=3)


@cocotb.test()
async def test_random_stalls_everywhere(dut):
    await _run(dut, 0.5, 0.6, 0.5, seed=5)


@cocotb.test()
async def test_one_input_much_slower(dut):
    await _run(dut, 1.0, 0.2, 0.9, seed=7)
