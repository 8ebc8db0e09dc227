"""cocotb test of rtl/dqhw_stream_fork.v: both outputs receive every input beat, in order, exactly
once, whatever the stalls on the input and on each output (independently random).

DQHW_TB_CFG = JSON with WIDTH, BEATS, SEED.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from axis import AxisSink, AxisSource, compare_streams, reset, settle, start_clock


async def _run(dut, valid_prob: float, ready0: float, ready1: float, seed: int) -> None:
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    rng = random.Random(cfg["SEED"] + seed)
    beats = [rng.getrandbits(cfg["WIDTH"]) for _ in range(cfg["BEATS"])]
    start_clock(dut.clk)
    src = AxisSource(dut, valid_prob=valid_prob, rng=random.Random(seed))
    sink0 = AxisSink(dut, prefix="m0_axis", ready_prob=ready0, rng=random.Random(seed + 1))
    sink1 = AxisSink(dut, prefix="m1_axis", ready_prob=ready1, rng=random.Random(seed + 2))
    await reset(dut)
    src.send(beats)
    limit = int(len(beats) / (valid_prob * min(ready0, ready1)) * 4) + 200
    await sink0.wait_for(len(beats), limit)
    await sink1.wait_for(len(beats), limit)
    await settle(dut.clk, 30)
    for sink in (sink0, sink1):
        assert not sink.errors, sink.errors
        compare_streams(sink.received, beats, "beat")
    if valid_prob == ready0 == ready1 == 1.0:
        assert sink0.cycles[-1] - src.first_cycle + 1 == len(beats)  # one beat per cycle


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, 1.0, 1.0, 1.0, seed=1)


@cocotb.test()
async def test_random_stalls_everywhere(dut):
    await _run(dut, 0.5, 0.5, 0.5, seed=2)


@cocotb.test()
async def test_one_output_much_slower(dut):
    await _run(dut, 0.9, 1.0, 0.2, seed=3)
