"""cocotb test of rtl/dqhw_mvau.v against contract.matvec / contract.multithreshold.

Configuration (set by tests/test_rtl_modules.py): DQHW_TB_CFG = JSON with the module parameters
(MW, MH, PE, SIMD, IN_BITS, W_BITS, ACC_BITS, USE_THRESHOLDS, OUT_BITS) and "data": an .npz with
W (MH, MW), T (MH, 2^OUT_BITS - 1; thresholds mode) and X (vectors, MW). The ROM files the DUT reads
were written from the same W and T with contract.write_mvau_memories.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from axis import AxisSink, AxisSource, compare_streams, reset, settle, start_clock

from dqhw import contract


def _load():
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    data = np.load(cfg["data"])
    return cfg, data


def expected_beats(cfg: dict, data) -> list[int]:
    acc = contract.matvec(data["W"], data["X"])
    if cfg["USE_THRESHOLDS"]:
        return contract.pack_beats(contract.multithreshold(acc, data["T"]), cfg["OUT_BITS"], cfg["PE"])
    return contract.pack_beats(acc, cfg["ACC_BITS"], cfg["PE"])


async def _stream(dut, valid_prob: float, ready_prob: float, seed: int) -> tuple[AxisSource, AxisSink, dict]:
    cfg, data = _load()
    start_clock(dut.clk)
    src = AxisSource(dut, valid_prob=valid_prob, rng=random.Random(seed))
    snk = AxisSink(dut, ready_prob=ready_prob, rng=random.Random(seed + 1))
    await reset(dut)
    x = data["X"]
    beats_in = contract.pack_beats(x, cfg["IN_BITS"], cfg["SIMD"])
    expected = expected_beats(cfg, data)
    src.send(beats_in)
    folds = (cfg["MH"] // cfg["PE"]) * (cfg["MW"] // cfg["SIMD"])
    budget = int(len(x) * folds / (valid_prob * ready_prob) * 3) + 2000
    await snk.wait_for(len(expected), budget)
    await settle(dut.clk, 4 * folds + 40)  # anything extra (duplicates) would arrive here
    assert not snk.errors, snk.errors
    assert len(src.sent) == len(beats_in), f"{len(src.sent)} of {len(beats_in)} input beats taken"
    compare_streams(snk.received, expected)
    return src, snk, {"vectors": len(x), "cycles_per_vector": folds}


@cocotb.test()
async def test_full_rate(dut):
    """No stalls: bit-exact, and one MAC step per cycle (vectors * NF * SF cycles + pipeline)."""
    src, snk, info = await _stream(dut, 1.0, 1.0, seed=11)
    ideal = info["vectors"] * info["cycles_per_vector"]
    used = snk.cycles[-1] - src.first_cycle + 1
    dut._log.info("%d vectors: %d cycles from first input to last output, ideal %d", info["vectors"], used, ideal)
    assert used <= ideal + 8, f"throughput: {used} cycles for {ideal} MAC steps"


@cocotb.test()
async def test_random_stalls(dut):
    """TVALID and TREADY each low with probability 0.5: same bit-exact stream, nothing lost/duplicated."""
    await _stream(dut, 0.5, 0.5, seed=23)


@cocotb.test()
async def test_output_backpressure(dut):
    """Consumer rarely ready (p=0.2), producer always valid: the output queue fills and the unit
    must stall its input without dropping or duplicating results."""
    await _stream(dut, 1.0, 0.2, seed=37)
