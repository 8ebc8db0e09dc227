"""cocotb test of rtl/dqhw_global_acc_pool.v: per frame and channel, the sum over all pixels.

DQHW_TB_CFG = JSON with "vectors": a JSON file {"in": [hex beats], "out": [hex beats]} written by
tests/test_rtl_residual.py, whose plain-loop reference computes the sums (not dqhw's code under test).
Several frames back to back: the accumulators must restart with every frame.
"""

from __future__ import annotations

import cocotb
from axis import run_vector_test


@cocotb.test()
async def test_full_rate(dut):
    await run_vector_test(dut, 1.0, 1.0, seed=3)


@cocotb.test()
async def test_random_stalls(dut):
    await run_vector_test(dut, 0.5, 0.5, seed=5)


@cocotb.test()
async def test_output_backpressure(dut):
    await run_vector_test(dut, 1.0, 0.2, seed=7)
