"""cocotb test of rtl/dqhw_label_select.v: logits in, the index of the largest (ties: lowest) out.

DQHW_TB_CFG = JSON with NUM_LABELS, PE, ACC_BITS (module parameters) and "vectors": a JSON file
{"in": [hex beats], "out": [hex beats]} written by tests/test_rtl_modules.py, whose plain-loop
reference computes the argmax (not dqhw.contract, the code under test).
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
    compare_streams(snk.received, expected, "label")
    if valid_prob == 1.0 and ready_prob == 1.0:
        # one input beat per cycle, no bubbles: the frames' results are exactly NB cycles apart
        nb = cfg["NUM_LABELS"] // cfg["PE"]
        span = snk.cycles[-1] - snk.cycles[0]
        latency = snk.cycles[0] - src.first_cycle - (nb - 1)
        dut._log.info("%d frames: results span %d cycles (ideal %d), latency %d cycles", len(expected), span,
                      (len(expected) - 1) * nb, latency)
        assert span == (len(expected) - 1) * nb, f"results span {span} cycles for {len(beats_in)} input beats"
        assert latency <= 12, f"latency {latency} cycles"
    src.kill()
    snk.kill()


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, 1.0, 1.0, seed=1)


@cocotb.test()
async def test_random_stalls(dut):
    await _run(dut, 0.5, 0.5, seed=2)


@cocotb.test()
async def test_output_backpressure(dut):
    await _run(dut, 1.0, 0.25, seed=3)
