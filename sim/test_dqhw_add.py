"""cocotb test of rtl/dqhw_add.v: two input streams joined beat by beat, out = WA * a + WB * b per lane.

DQHW_TB_CFG = JSON with "vectors": a JSON file {"a": [hex beats], "b": [hex beats], "out": [hex
beats]} written by tests/test_rtl_residual.py, whose plain-loop reference computes the sums (not
dqhw's code under test). Each input has its own random valid pattern and the output its own random
ready pattern, so the two inputs arrive out of step: the join must pair beat k of a with beat k of b.
"""

from __future__ import annotations

import cocotb
from axis import load_vectors, run_stream_test


async def _run(dut, valid_a: float, valid_b: float, ready: float, seed: int) -> None:
    _, v = load_vectors()
    await run_stream_test(dut, {"s0_axis": (v["a"], valid_a), "s1_axis": (v["b"], valid_b)},
                          {"m_axis": (v["out"], ready)}, seed)


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, 1.0, 1.0, 1.0, seed=3)


@cocotb.test()
async def test_random_stalls_everywhere(dut):
    await _run(dut, 0.5, 0.6, 0.5, seed=5)


@cocotb.test()
async def test_one_input_much_slower(dut):
    await _run(dut, 1.0, 0.2, 0.9, seed=7)
