"""cocotb test of rtl/dqhw_global_acc_pool.v: per frame and channel, the sum over all pixels.

DQHW_TB_CFG = JSON with "vectors": a JSON file {"in": [hex beats], "out": [hex beats]} written by
tests/test_rtl_residual.py, whose plain-loop reference computes the sums (not dqhw's code under test).
Several frames back to back: the accumulators must restart with every frame.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from axis import AxisSink, AxisSource, compare_streams, reset, settle, start_clock


async def _run(dut, valid_prob: float, ready_prob: float, seed: int) -> None:
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    with open(cfg["vectors"]) as f:
        v = json.load(f)
    beats_in, expected = [int(b, 16) for b in v["in"]], [int(b, 16) for b in v["out"]]
    start_clock(dut.clk)
    src = AxisSource(dut, valid_prob=valid_prob, rng=random.Random(seed))
    snk = AxisSink(dut, ready_prob=ready_prob, rng=random.Random(seed + 1))
    await reset(dut)
    src.send(beats_in)
    await snk.wait_for(len(expected), int(len(beats_in) / (valid_prob * ready_prob) * 3) + 1000)
    await settle(dut.clk, 50)
    assert not snk.errors, snk.errors
    assert len(src.sent) == len(beats_in)
    compare_streams(snk.received, expected)
    if valid_prob == 1.0 and ready_prob == 1.0:
        used = snk.cycles[-1] - src.first_cycle + 1
        assert used <= len(beats_in) + 4, f"{used} cycles for {len(beats_in)} input beats"
    src.kill()
    snk.kill()


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, 1.0, 1.0, seed=3)


@cocotb.test()
async def test_random_stalls(dut):
    await _run(dut, 0.5, 0.5, seed=5)


@cocotb.test()
async def test_output_backpressure(dut):
    await _run(dut, 1.0, 0.2, seed=7)
