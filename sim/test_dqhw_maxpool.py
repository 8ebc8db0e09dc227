"""cocotb test of rtl/dqhw_maxpool.v: finn-plus' depthwise-SWG window stream in, NHWC maxima out.

DQHW_TB_CFG = JSON with CHANNELS, PE, KERNEL (module parameters) and "vectors": a JSON file
{"in": [hex beats], "out": [hex beats]} written by tests/test_rtl_modules.py, whose plain-loop
reference builds the window stream and the maxima (not dqhw.contract, the code under test) for
unsigned, signed (two's complement, SIGNED = 1) and BIPOLAR (bits, 1 = +1) elements.
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
    await run_vector_test(dut, 1.0, 0.3, seed=7)
