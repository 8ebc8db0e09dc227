"""cocotb test: finn-plus' own depthwise ConvolutionInputGenerator_rtl (Verilog from its
generate_hdl) -> dqhw_maxpool, harness sim/dqhw_swg_maxpool_tb.v.

Checks (1) that the SWG's output stream, observed on the internal wires, is exactly
contract.depthwise_swg_stream (the element order dqhw_maxpool relies on), and (2) that the pooled
output equals finn-plus' execute_onnx of the MaxPool graph (computed by the pytest side, in the npz)
and contract.maxpool_nhwc.

DQHW_TB_CFG = JSON with CHANNELS, PE, BITS, K, S and "data" (npz with x: NHWC frames, finn: NHWC).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from axis import AxisSink, AxisSource, compare_streams, reset, settle, start_clock
from cocotb.triggers import ReadOnly, RisingEdge

from dqhw import contract


async def _observe(dut, beats: list[int]) -> None:
    """Passive monitor of the internal SWG -> maxpool stream."""
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if dut.swg_tvalid.value == 1 and dut.swg_tready.value == 1:
            beats.append(dut.swg_tdata.value.to_unsigned())


async def _run(dut, valid_prob: float, ready_prob: float, seed: int) -> None:
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    data = np.load(cfg["data"])
    x, finn_out = data["x"], data["finn"]
    pe, bits, k, s = cfg["PE"], cfg["BITS"], cfg["K"], cfg["S"]
    start_clock(dut.clk)
    src = AxisSource(dut, valid_prob=valid_prob, rng=random.Random(seed))
    snk = AxisSink(dut, ready_prob=ready_prob, rng=random.Random(seed + 1))
    inner: list[int] = []
    await reset(dut)
    cocotb.start_soon(_observe(dut, inner))
    src.send(contract.pack_beats(x, bits, pe))
    expected = contract.pack_beats(finn_out, bits, pe)
    assert np.array_equal(contract.maxpool_nhwc(x, k, s), finn_out)
    await snk.wait_for(len(expected), 200000)
    await settle(dut.clk, 100)
    assert not snk.errors, snk.errors
    swg_expected = contract.pack_beats(contract.depthwise_swg_stream(x, k, s, pe), bits, pe)
    compare_streams(inner, swg_expected, "SWG beat")
    compare_streams(snk.received, expected)


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, 1.0, 1.0, seed=1)


@cocotb.test()
async def test_random_stalls(dut):
    await _run(dut, 0.5, 0.5, seed=2)
