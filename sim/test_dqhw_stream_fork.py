"""cocotb test of rtl/dqhw_stream_fork.v: both outputs receive every input beat, in order, exactly
once, whatever the stalls on the input and on each output (independently random).

DQHW_TB_CFG = JSON with WIDTH, BEATS, SEED.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from axis import run_stream_test


async def _run(dut, valid_prob: float, ready0: float, ready1: float, seed: int) -> None:
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    rng = random.Random(cfg["SEED"] + seed)
    beats = [rng.getrandbits(cfg["WIDTH"]) for _ in range(cfg["BEATS"])]
    # slack 0: at full rate one beat per cycle on both outputs, no bubble
    await run_stream_test(dut, {"s_axis": (beats, valid_prob)},
                          {"m0_axis": (beats, ready0), "m1_axis": (beats, ready1)}, seed, slack=0)


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, 1.0, 1.0, 1.0, seed=1)


@cocotb.test()
async def test_random_stalls_everywhere(dut):
    await _run(dut, 0.5, 0.5, 0.5, seed=2)


@cocotb.test()
async def test_one_output_much_slower(dut):
    await _run(dut, 0.9, 1.0, 0.2, seed=3)
