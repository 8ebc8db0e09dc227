"""cocotb test of rtl/dqhw_label_select.v against contract.label_select (highest wins, ties -> lowest).

DQHW_TB_CFG = JSON with NUM_LABELS, PE, ACC_BITS, OUT_BITS (module parameters), FRAMES, SEED.
The logits are drawn from a narrow range so that ties are frequent, plus frames at the extremes of
the signed range and all-equal frames.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from axis import AxisSink, AxisSource, compare_streams, reset, settle, start_clock

from dqhw import contract


def make_logits(cfg: dict, seed: int) -> np.ndarray:
    n, bits = cfg["NUM_LABELS"], cfg["ACC_BITS"]
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    rng = np.random.default_rng(cfg["SEED"] + seed)
    frames = cfg["FRAMES"]
    wide = rng.integers(lo, hi + 1, size=(frames // 2, n))
    # narrow: few distinct values -> many ties, in different places
    centre = rng.integers(lo, hi + 1, size=(frames - frames // 2, 1))
    narrow = np.clip(centre + rng.integers(-1, 2, size=(frames - frames // 2, n)), lo, hi)
    special = np.array([[lo] * n, [hi] * n, [0] * n, [lo] * (n - 1) + [hi], [hi] + [lo] * (n - 1)])
    x = np.concatenate([special, wide, narrow])
    return x[rng.permutation(len(x))]


async def _run(dut, valid_prob: float, ready_prob: float, seed: int) -> None:
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    logits = make_logits(cfg, seed)
    start_clock(dut.clk)
    src = AxisSource(dut, valid_prob=valid_prob, rng=random.Random(seed))
    snk = AxisSink(dut, ready_prob=ready_prob, rng=random.Random(seed + 1))
    await reset(dut)
    beats_in = contract.pack_beats(logits, cfg["ACC_BITS"], cfg["PE"])
    labels = contract.label_select(logits, 1)[:, 0]
    expected = contract.pack_beats(labels, cfg["OUT_BITS"], 1)
    src.send(beats_in)
    await snk.wait_for(len(expected), int(len(beats_in) / (valid_prob * ready_prob) * 3) + 1000)
    await settle(dut.clk, 50)
    assert not snk.errors, snk.errors
    assert len(src.sent) == len(beats_in)
    compare_streams(snk.received, expected, "label")
    if valid_prob == 1.0 and ready_prob == 1.0:
        used = snk.cycles[-1] - src.first_cycle + 1
        assert used <= len(beats_in) + 4, f"{used} cycles for {len(beats_in)} input beats"


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, 1.0, 1.0, seed=1)


@cocotb.test()
async def test_random_stalls(dut):
    await _run(dut, 0.5, 0.5, seed=2)


@cocotb.test()
async def test_output_backpressure(dut):
    await _run(dut, 1.0, 0.25, seed=3)
