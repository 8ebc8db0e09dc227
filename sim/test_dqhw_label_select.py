"""cocotb test of rtl/dqhw_label_select.v: logits in, the index of the largest (ties: lowest) out.

DQHW_TB_CFG = JSON with NUM_LABELS, PE, ACC_BITS (module parameters) and "vectors": a JSON file
{"in": [hex beats], "out": [hex beats]} written by tests/test_rtl_modules.py, whose plain-loop
reference computes the argmax (not dqhw.contract, the code under test).
"""

from __future__ import annotations

import cocotb
from axis import run_vector_test


def _full_rate(dut, cfg, src, snk) -> None:
    # one input beat per cycle, no bubbles: the frames' results are exactly NB cycles apart
    nb = cfg["NUM_LABELS"] // cfg["PE"]
    frames = len(snk.received)
    span = snk.cycles[-1] - snk.cycles[0]
    latency = snk.cycles[0] - src.first_cycle - (nb - 1)
    dut._log.info("%d frames: results span %d cycles (ideal %d), latency %d cycles", frames, span,
                  (frames - 1) * nb, latency)
    assert span == (frames - 1) * nb, f"results span {span} cycles for {len(src.sent)} input beats"
    assert latency <= 12, f"latency {latency} cycles"


async def _run(dut, valid_prob: float, ready_prob: float, seed: int) -> None:
    await run_vector_test(dut, valid_prob, ready_prob, seed, what="label", full_rate_check=_full_rate)


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, 1.0, 1.0, seed=1)


@cocotb.test()
async def test_random_stalls(dut):
    await _run(dut, 0.5, 0.5, seed=2)


@cocotb.test()
async def test_output_backpressure(dut):
    await _run(dut, 1.0, 0.25, seed=3)
