"""cocotb test of rtl/dqhw_maxpool.v: finn-plus' depthwise-SWG window stream in, NHWC maxima out.

DQHW_TB_CFG = JSON with CHANNELS, PE, BITS (module parameters), K (window side), S (stride),
H, W (input size), FRAMES, SEED. The input stream is contract.depthwise_swg_stream; the expected
output is contract.maxpool_nhwc (the golden model's definition) and must also equal
contract.maxpool_window_stream on the same stream.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from axis import AxisSink, AxisSource, compare_streams, reset, settle, start_clock

from dqhw import contract


async def _run(dut, valid_prob: float, ready_prob: float, seed: int) -> None:
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    c, pe, bits, k, s = cfg["CHANNELS"], cfg["PE"], cfg["BITS"], cfg["K"], cfg["S"]
    rng = np.random.default_rng(cfg["SEED"] + seed)
    x = rng.integers(0, 1 << bits, size=(cfg["FRAMES"], cfg["H"], cfg["W"], c))
    x[0, : k, : k, :] = (1 << bits) - 1  # extremes: an all-max window and an all-zero window
    x[-1, -k:, -k:, :] = 0
    stream = contract.depthwise_swg_stream(x, k, s, pe).reshape(-1)
    expected_vals = contract.maxpool_nhwc(x, k, s).reshape(-1)
    assert np.array_equal(contract.maxpool_window_stream(stream, c, pe, k * k), expected_vals)

    start_clock(dut.clk)
    src = AxisSource(dut, valid_prob=valid_prob, rng=random.Random(seed))
    snk = AxisSink(dut, ready_prob=ready_prob, rng=random.Random(seed + 1))
    await reset(dut)
    beats_in = contract.pack_beats(stream, bits, pe)
    expected = contract.pack_beats(expected_vals, bits, pe)
    src.send(beats_in)
    await snk.wait_for(len(expected), int(len(beats_in) / (valid_prob * ready_prob) * 3) + 1000)
    await settle(dut.clk, 50)
    assert not snk.errors, snk.errors
    assert len(src.sent) == len(beats_in)
    compare_streams(snk.received, expected)
    if valid_prob == 1.0 and ready_prob == 1.0:
        used = snk.cycles[-1] - src.first_cycle + 1
        assert used <= len(beats_in) + 4, f"{used} cycles for {len(beats_in)} input beats"


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, 1.0, 1.0, seed=3)


@cocotb.test()
async def test_random_stalls(dut):
    await _run(dut, 0.5, 0.5, seed=5)


@cocotb.test()
async def test_output_backpressure(dut):
    await _run(dut, 1.0, 0.3, seed=7)
