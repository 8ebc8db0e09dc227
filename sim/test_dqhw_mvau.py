"""cocotb test of rtl/dqhw_mvau.v: input beats in, output beats compared bit for bit.

Configuration (set by tests/test_rtl_modules.py): DQHW_TB_CFG = JSON with the module parameters
(MW, MH, PE, SIMD, ...) and "vectors": a JSON file {"in": [hex beats], "out": [hex beats],
"count": number of input vectors}. The expected output beats come from the plain-loop reference in
tests/test_rtl_modules.py (not from dqhw.contract, the code under test); the ROM files the DUT reads
were written from the same weights and thresholds.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from axis import AxisSink, AxisSource, compare_streams, reset, settle, start_clock


def _load() -> tuple[dict, list[int], list[int], int]:
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    with open(cfg["vectors"]) as f:
        v = json.load(f)
    return cfg, [int(b, 16) for b in v["in"]], [int(b, 16) for b in v["out"]], int(v["count"])


async def _stream(dut, valid_prob: float, ready_prob: float, seed: int) -> tuple[AxisSource, AxisSink, dict]:
    cfg, beats_in, expected, count = _load()
    start_clock(dut.clk)
    src = AxisSource(dut, valid_prob=valid_prob, rng=random.Random(seed))
    snk = AxisSink(dut, ready_prob=ready_prob, rng=random.Random(seed + 1))
    await reset(dut)
    src.send(beats_in)
    folds = (cfg["MH"] // cfg["PE"]) * (cfg["MW"] // cfg["SIMD"])
    budget = int(count * folds / (valid_prob * ready_prob) * 3) + 2000
    await snk.wait_for(len(expected), budget)
    await settle(dut.clk, 4 * folds + 40)  # anything extra (duplicates) would arrive here
    assert not snk.errors, snk.errors
    assert len(src.sent) == len(beats_in), f"{len(src.sent)} of {len(beats_in)} input beats taken"
    compare_streams(snk.received, expected)
    src.kill()
    snk.kill()
    return src, snk, {"vectors": count, "cycles_per_vector": folds}


@cocotb.test()
async def test_full_rate(dut):
    """No stalls: bit-exact, and one MAC step per cycle with no bubbles: the output beats of N
    vectors span exactly N * NF * SF - SF cycles (first to last), whatever the pipeline latency."""
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    src, snk, info = await _stream(dut, 1.0, 1.0, seed=11)
    ideal = info["vectors"] * info["cycles_per_vector"]
    sf = cfg["MW"] // cfg["SIMD"]
    span = snk.cycles[-1] - snk.cycles[0]
    latency = snk.cycles[0] - src.first_cycle - (sf - 1)  # first fold's last input beat -> its output beat
    dut._log.info("%d vectors: outputs span %d cycles (ideal %d), latency %d cycles", info["vectors"], span,
                  ideal - sf, latency)
    assert span == ideal - sf, f"throughput: outputs span {span} cycles for {ideal} MAC steps (ideal {ideal - sf})"
    if "latency" in cfg:
        assert latency == cfg["latency"], f"latency {latency} cycles, the pipeline formula says {cfg['latency']}"
    assert latency <= 40, f"latency {latency} cycles"


@cocotb.test()
async def test_random_stalls(dut):
    """TVALID and TREADY each low with probability 0.5: same bit-exact stream, nothing lost/duplicated."""
    await _stream(dut, 0.5, 0.5, seed=23)


@cocotb.test()
async def test_output_backpressure(dut):
    """Consumer rarely ready (p=0.2), producer always valid: the output queue fills and the unit
    must stall its input without dropping or duplicating results."""
    await _stream(dut, 1.0, 0.2, seed=37)
