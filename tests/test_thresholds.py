"""Integer thresholds of the built dataflow graph vs a brute-force float reference, bits 1..5.

For every conv/linear + BatchNorm + QuantReLU block, every integer accumulator value a in the layer's
reachable range and every output channel c, the float Brevitas block (BN and the activation
quantizer, evaluated in float64 on a * s_in * s_w) must give the same integer activation as the
thresholds of the matching DqhwMVAU: #{t : T[c, t] <= a'} with a' = a, or -a where finn negated the
channel's weights (negative BN gamma).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from dqhw import contract
from tests.build_helpers import built, load_dataflow, run_dir


def blocks(model):
    """(weight layer, BatchNorm, activation) triples of a Sequential model, in order."""
    mods = list(model)
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and i + 2 < len(mods):
            bn, act = mods[i + 1], mods[i + 2]
            if isinstance(bn, torch.nn.modules.batchnorm._BatchNorm):
                out.append((m, bn, act))
    return out


def int_weights(layer) -> tuple[np.ndarray, float]:
    """Integer weights as (c_out, kh*kw*c_in) in finn's im2col order, and the weight scale."""
    qw = layer.quant_weight()
    scale = float(qw.scale.detach().reshape(-1)[0])
    w = np.rint(qw.value.detach().double().numpy() / scale).astype(np.int64)
    if w.ndim == 4:
        w = w.transpose(0, 2, 3, 1)
    return w.reshape(w.shape[0], -1), scale


def brute_force_mismatches(run, dataflow) -> tuple[int, int]:
    """(mismatching (channel, accumulator) pairs, pairs checked) over all thresholded layers."""
    from qonnx.custom_op.registry import getCustomOp

    spec = run.config.quant_spec()
    act_scale = spec.act_max / ((1 << spec.act_bits) - 1)
    mvaus = [n for n in dataflow.graph.node
             if n.op_type == "DqhwMVAU" and not getCustomOp(n).get_nodeattr("noActivation")]
    layers = blocks(run.model)
    assert len(mvaus) == len(layers) and len(layers) >= 2
    bad = checked = 0
    s_in = 1.0 / 255.0
    for node, (layer, bn, act) in zip(mvaus, layers):
        inst = getCustomOp(node)
        w_graph = inst.weights(dataflow)  # (MH, MW)
        thr = inst.thresholds(dataflow)
        w_int, s_w = int_weights(layer)
        sign = np.zeros(len(w_int), dtype=np.int64)
        for c in range(len(w_int)):
            if np.array_equal(w_graph[c], w_int[c]):
                sign[c] = 1
            elif np.array_equal(w_graph[c], -w_int[c]):
                sign[c] = -1
        assert (sign != 0).all(), f"{node.name}: graph weights are not +-1 x the Brevitas integer weights"
        lo, hi = inst.get_nodeattr("ACC_MIN"), inst.get_nodeattr("ACC_MAX")
        acc = np.arange(lo, hi + 1, dtype=np.int64)
        bn64, act64 = copy.deepcopy(bn).double().eval(), copy.deepcopy(act).double().eval()
        c_out = len(w_int)
        # float input of BN for graph accumulator a in channel c: (sign_c * a) * s_in * s_w
        x = (acc[:, None] * sign[None, :]).astype(np.float64) * s_in * s_w
        xt = torch.as_tensor(x)
        if isinstance(bn, torch.nn.BatchNorm2d):
            xt = xt.reshape(len(acc), c_out, 1, 1)
        with torch.no_grad():
            y = act64(bn64(xt)).reshape(len(acc), c_out).numpy()
        q_ref = np.rint(y / act_scale).astype(np.int64)
        q_int = contract.multithreshold(acc[:, None].repeat(c_out, axis=1), thr)
        bad += int((q_ref != q_int).sum())
        checked += q_ref.size
        s_in = act_scale
    return bad, checked


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5])
def test_thresholds_match_brute_force(bits):
    name = f"thr_b{bits}"
    out = built(name, bits=str(bits), wbits="2", seed=bits)
    from dqhw.runs import load_run

    run = load_run(run_dir(name, bits=str(bits), wbits="2", seed=bits))
    bad, checked = brute_force_mismatches(run, load_dataflow(out))
    assert checked > 1000
    assert bad == 0, f"{bad} of {checked} (channel, accumulator) pairs differ from the float reference"
