"""Residual networks (dqhw's wrn family) through `dqhw build`: the integer convex-combination add,
forks, global average pooling, FIFOs on the reconvergent paths, and the RTL under random stalls.

References are independent of the code under test: Brevitas (the trained model, float64), qonnx's
execution of the exported file, plain Python loops for the rounding of the requantized sum.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dqhw.errors import DqhwError
from tests.build_helpers import make_run


# --------------------------------------------------------------------------------------------------
# the add's integer contract (docs/integer-contract.md, "Residual add"), without hardware
# --------------------------------------------------------------------------------------------------
def test_wrn_block_add_is_an_exact_integer_rounding():
    """Brevitas' Q(lam * s * a + (1 - lam) * s * c) with lam = m / 15 equals, for every pair of 2-bit
    activations and every m, round((m * a + (15 - m) * c) / 15) computed with plain integer
    arithmetic; and that quotient is never half-way between two integers (15 is odd)."""
    from dqhw.models.wrn import ConvexAdd
    from dqhw.quant import QuantSpec, act

    spec = QuantSpec(act_bits=2, weight_bits=2)
    requant = act(spec).eval()
    s = 6.0 / 3  # the fixed ReLU6 range split into 2^2 - 1 steps
    add = ConvexAdd()
    for m in range(1, 15):
        with torch.no_grad():
            add.lam.fill_(m / 15 + 0.01)  # rounds to m / 15
        assert abs(float(add.quantized_lambda().detach()) - m / 15) < 1e-6
        a = torch.tensor([[x] for x in range(4) for _ in range(4)], dtype=torch.float32).reshape(1, 16, 1, 1)
        c = torch.tensor([[y] for _ in range(4) for y in range(4)], dtype=torch.float32).reshape(1, 16, 1, 1)
        with torch.no_grad():
            got = (requant(add(a * s, c * s)) / s).reshape(-1).tolist()
        for k in range(16):
            x, y = k // 4, k % 4
            z = m * x + (15 - m) * y
            assert 2 * z % 15 != 0 or z % 15 == 0  # z / 15 is never an odd multiple of 1/2
            q, r = divmod(z, 15)
            want = min(q + (1 if 2 * r > 15 else 0), 3)
            assert round(got[k]) == want and abs(got[k] - want) < 1e-4, (m, x, y, got[k], want)


def test_lambda_weights():
    from dqhw.customop.residual import lambda_weights

    assert lambda_weights(2 * 8 / 15, 2 * 7 / 15)[:2] == (8, 7)
    wa, wb, g = lambda_weights(np.float32(1.0666667), np.float32(0.9333333))
    assert (wa, wb) == (8, 7) and abs(g - 2 / 15) < 1e-6
    with pytest.raises(DqhwError, match="not a ratio of integers"):
        lambda_weights(1.0, float(np.pi))
    with pytest.raises(DqhwError, match="must be positive"):
        lambda_weights(1.0, 0.0)


# --------------------------------------------------------------------------------------------------
# a WRN-10-1 run on 8x8 digits through the whole build, RTL included
# --------------------------------------------------------------------------------------------------
def _skip_fifo_depths(design) -> list[int]:
    """For every dqhw_add: the summed FIFO depth on its first input (the shortcut) back to the fork."""
    producer = {o: s for s in design.stages for o in s.outputs}
    out = []
    for s in design.stages:
        if s.module != "dqhw_add":
            continue
        total, stream = 0, s.inputs[0]
        while producer[stream].module != "dqhw_stream_fork":
            p = producer[stream]
            total += p.fifo_depth if p.kind == "fifo" else 0
            stream = p.inputs[0]
        out.append(total)
    return out


@pytest.mark.rtl
def test_wrn_build_rtl_bit_exact_under_stalls(tmp_path):
    from dqhw.data import load_dataset
    from dqhw.flow.export import qonnx_execute
    from dqhw.flow.pipeline import BuildOptions, build
    from dqhw.golden import GoldenModel
    from dqhw.rtlgen.generate import Design
    from dqhw.simulate.runner import bulk_run, compare

    run = make_run(tmp_path / "wrn", model="wrn10", width=0.25, seed=7)
    out = build(BuildOptions(model=str(run), out=str(tmp_path / "b"), target_fps=20_000, verify_frames=24,
                             exec_frames=4, prove_frames=16, synth=False))
    # the build asserts the golden model against Brevitas (float64), qonnx on the exported file and
    # finn's own graph before any RTL, and proves the RTL against the golden model: it finished
    info = json.loads((out / "build.json").read_text())
    assert info["rtl"]["proof"]["mismatches"] == 0
    ops = [n.op_type for n in GoldenModel.from_build(out).model.graph.node]
    # WRN-10: three blocks, each a fork and an add; one global pooling
    assert ops.count("DqhwAddStreams") == 3 and ops.count("DqhwDuplicateStreams") == 3
    assert ops.count("DqhwGlobalAccPool") == 1

    # the shortcut of the identity block (block 1) must hold the residual branch's latency: deeper
    # than finn's shallow 2 (a deadlock-free sizing is the build's own check: no watchdog, all frames)
    design = Design.load(out / "rtl")
    depths = _skip_fifo_depths(design)
    assert len(depths) == 3 and depths[0] > 8, depths

    # every port stalled at random (input valid and both output readies, p = 0.45 / 0.6 per cycle):
    # no deadlock, every logit and class equal to the golden model
    frames = load_dataset("digits").x_test[:24]
    golden = GoldenModel.from_build(out)
    want = golden.run(frames)
    res = bulk_run(out / "rtl", tmp_path / "stall", frames, stall_in=115, stall_out=154)
    assert not res.deadlock and len(res.logits) == len(frames)
    cmp = compare(want.labels, want.logits, res, has_labels=design.label_width > 0)
    assert cmp.ok, cmp.first

    # the RTL's logits against qonnx's execution of the QONNX graph the build started from (Brevitas'
    # export, cleaned up by qonnx; an oracle dqhw's code does not compute)
    from qonnx.core.modelwrapper import ModelWrapper

    scale = float(info["outputs"]["logits_scale"])
    bias = float(info["outputs"]["logits_bias"])
    x = frames.transpose(0, 3, 1, 2).astype(np.float32)
    ref = qonnx_execute(ModelWrapper(str(out / "model.qonnx.onnx")), x)
    np.testing.assert_allclose(res.logits * scale + bias, ref, rtol=1e-3, atol=1e-3 * max(1.0, np.abs(ref).max()))


def test_chain_designs_keep_their_stream_numbering(tmp_path):
    """A chain (no fork, no add) is generated as before residual graphs: stage i consumes s<i> and
    produces s<i+1>, and the top instantiates no residual module."""
    from dqhw.rtlgen.generate import generate_rtl
    from tests.build_helpers import built

    b = built("thr_b2", bits="2", wbits="2", seed=2)
    design = generate_rtl(b / "dataflow.onnx", tmp_path / "rtl")
    for i, s in enumerate(design.stages):
        assert s.inputs == [f"s{i}"] and s.outputs == [f"s{i + 1}"], (i, s.name, s.inputs, s.outputs)
    assert "dqhw_add.v" not in design.files and "dqhw_global_acc_pool.v" not in design.files
    top = (tmp_path / "rtl" / "dqhw_accel.v").read_text()
    assert "dqhw_add" not in top and "dqhw_global_acc_pool" not in top


def _loop_mismatches(alpha, beta, wa, wb, g, a_vals, b_vals, t_sum, t_int):
    """Plain-loop reference: a threshold is wrong when one operand pair lands on different sides
    (a float sum within 1e-6 relative of the threshold is a tie, which goes up)."""
    wrong = 0
    for t, ti in zip(t_sum, t_int):
        tz = t / g
        tol = 1e-6 * max(1.0, abs(tz))
        if any((wa * x + wb * y >= ti) != ((alpha * x + beta * y) / g >= tz - tol)
               for x in a_vals for y in b_vals):
            wrong += 1
    return wrong


@pytest.mark.parametrize("alpha,beta", [(2 * 8 / 15, 2 * 7 / 15), (0.3408, 0.3408 * 15 / 31 * (1 + 5e-6))])
def test_integer_sum_mismatches_against_a_loop(alpha, beta):
    from qonnx.core.datatype import DataType

    from dqhw.customop.residual import integer_sum_mismatches, lambda_weights

    wa, wb, g = lambda_weights(alpha, beta)
    dt = DataType["UINT8"]
    rng = np.random.default_rng(0)
    # random thresholds, one on an integer of the sum (a tie), one just above the pair (0, 255)
    t_z = np.concatenate([rng.uniform(0, (wa + wb) * 255, 40), [100.0, wb * 255 + 0.01]])
    t_int = np.ceil(t_z - 1e-9)
    t_sum = t_z * g
    got = integer_sum_mismatches(wa, wb, g, beta, dt, dt, t_sum, t_int)
    vals = range(256)
    assert got == _loop_mismatches(alpha, beta, wa, wb, g, vals, vals, t_sum, t_int)
    if (wa, wb) == (8, 7):
        assert got == 0  # an exact ratio: every pair agrees
    else:
        assert (wa, wb) == (31, 15) and got >= 1  # near 31 : 15 only: (0, 255) sums to 3825.019 in units of g
