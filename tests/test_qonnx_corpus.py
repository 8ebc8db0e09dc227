"""A corpus of foreign QONNX networks (issue 28): small Brevitas/torch modules written here (not
dqhw.models, not dqhw.quant) exported with Brevitas' export_qonnx, and QONNX graphs built by hand with
onnx.helper. Each row of docs/qonnx.md's support matrix is built by at least one of them and each
refusal of its refusal table is hit by one.

Built nets go through `dqhw build MODEL.onnx` (RTL included) and their RTL (Verilator, the build's
rtl/) runs the frames; `_compare_with_file` holds every RTL logit to qonnx's execute_onnx of the file
as written, up to the output scale and bias the build reports, and the class except at exact integer
ties. That comparison imports neither dqhw.golden nor dqhw.contract: it reads build.json and the
simulation's logits only. Refusals are check-only (`--no-rtl`; they stop before finn's steps or at the
named step): one line naming the node and a way forward.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.build_helpers import TEST_FPS
from tests.conftest import assert_one_line_error, run_cli

N_FRAMES = 32
UNIT = ("0.00392156862745098", "0")  # inputs in [0, 1]
PM1 = ("0.00784313725490196", "-1")  # inputs in [-1, 1]


# --------------------------------------------------------------------------------------------------
# the nets (each independent of dqhw's model code)
# --------------------------------------------------------------------------------------------------
def _signed_input_pad_pm1():
    """A signed 8-bit input quantizer with per-channel scaling (Int8ActPerTensorFloat made per-channel,
    one channel; Brevitas' default per-tensor one is in _input3_gap) on [-1, 1] inputs, a padded first
    conv with per-channel 4-bit weights, BN, QuantReLU 3 bits, max pooling of unsigned values, a
    second conv into a signed 2-bit QuantHardTanh, max pooling of signed values, an 8-bit linear layer
    (one output scale: the class on the accelerator)."""
    import torch.nn as nn
    from brevitas.nn import QuantConv2d, QuantHardTanh, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerChannelFloat

    return nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFloat, scaling_per_output_channel=True,
                      per_channel_broadcastable_shape=(1, 1, 1, 1), scaling_stats_permute_dims=(1, 0, 2, 3)),
        QuantConv2d(1, 6, 3, padding=1, bias=False, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=4),
        nn.BatchNorm2d(6), QuantReLU(bit_width=3), nn.MaxPool2d(2),
        QuantConv2d(6, 8, 3, bias=False, weight_bit_width=3), nn.BatchNorm2d(8),
        QuantHardTanh(bit_width=2, max_val=1.0, min_val=-1.0), nn.MaxPool2d(2), nn.Flatten(),
        QuantLinear(8, 10, bias=False, weight_bit_width=8))


def _input3_gap():
    """Brevitas' default signed 8-bit input quantizer on 3 channels, a conv, BN, QuantReLU 2 bits (its
    pooled sum over 6x6 fits 8 bits), AdaptiveAvgPool2d(1) (torch's dynamo export, Brevitas' default:
    ReduceMean), a linear layer with per-channel weight scales and a bias (a per-class output affine:
    the class on the host)."""
    import torch.nn as nn
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int8ActPerTensorFloat, Int8WeightPerChannelFloat

    return nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFloat),
        QuantConv2d(3, 8, 3, bias=False, weight_bit_width=3), nn.BatchNorm2d(8), QuantReLU(bit_width=2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        QuantLinear(8, 10, bias=True, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=3))


def _xnor_cnv():
    """A BNN: bipolar input quantizer, a conv with bipolar weights, BN, bipolar activations, max
    pooling of bipolar values, a linear layer with bipolar weights (XNOR-popcount throughout), and
    brevitas_examples' TensorNorm (the scalar affine at the end of FINN's CNV) on the logits."""
    import torch.nn as nn
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
    from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
    from brevitas_examples.bnn_pynq.models.tensor_norm import TensorNorm

    return nn.Sequential(
        QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
        QuantConv2d(1, 8, 3, bias=False, weight_quant=SignedBinaryWeightPerTensorConst), nn.BatchNorm2d(8),
        QuantIdentity(act_quant=SignedBinaryActPerTensorConst), nn.MaxPool2d(2), nn.Flatten(),
        QuantLinear(72, 10, bias=False, weight_quant=SignedBinaryWeightPerTensorConst), TensorNorm())


def _residual(shared: bool, requantized: bool = True, scales=(None, None), sum_bits: int = 2):
    """conv -> a; conv(a) -> b; quantizer(a + b) -> global average pooling -> linear. `shared`: one
    QuantReLU instance quantizes both operands (one scale); else two with constant scales `scales`."""
    import torch.nn as nn
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.q0 = QuantIdentity(bit_width=8)
            self.c1 = QuantConv2d(1, 4, 3, padding=1, bias=False, weight_bit_width=3)
            self.c2 = QuantConv2d(4, 4, 3, padding=1, bias=False, weight_bit_width=3)
            if shared:
                self.qa = self.qb = QuantReLU(bit_width=3)
            else:
                self.qa, self.qb = (QuantReLU(bit_width=2, scaling_impl_type="const", max_val=m) for m in scales)
            self.qs = QuantReLU(bit_width=sum_bits)  # 2 bits: the pooled sum (3 * 64) fits 8 bits
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = QuantLinear(4, 10, bias=False, weight_bit_width=4)

        def forward(self, x):
            a = self.qa(self.c1(self.q0(x)))
            b = self.qb(self.c2(a))
            s = self.qs(a + b) if requantized else a + b
            return self.fc(self.pool(s).flatten(1))

    return Residual()


def _plain(*middle, first_in: int = 1, quant_input: bool = True, fc_in: int = 144):
    """input quantizer, conv 1->4 (6x6), `middle`, flatten, linear to 10."""
    import torch.nn as nn
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear

    head = [QuantIdentity(bit_width=8)] if quant_input else []
    return nn.Sequential(*head, QuantConv2d(first_in, 4, 3, bias=False, weight_bit_width=3), *middle, nn.Flatten(),
                         QuantLinear(fc_in, 10, bias=False, weight_bit_width=2))


def _torch_net(what: str):
    import torch.nn as nn
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import SignedBinaryActPerTensorConst

    if what == "avgpool":
        return _plain(QuantReLU(bit_width=2), nn.AvgPool2d(2), fc_in=36)
    if what == "wide":
        return _plain(QuantReLU(bit_width=12))
    if what == "depthwise":
        return _plain(QuantReLU(bit_width=2), QuantConv2d(4, 4, 3, groups=4, bias=False, weight_bit_width=3),
                      QuantReLU(bit_width=2), fc_in=64)
    if what == "relu":
        return _plain(nn.ReLU(), nn.MaxPool2d(2), QuantReLU(bit_width=2), fc_in=36)
    if what == "pad_offset":
        return nn.Sequential(QuantConv2d(1, 4, 3, padding=1, bias=False, weight_bit_width=3), QuantReLU(bit_width=2),
                             nn.Flatten(), QuantLinear(256, 10, bias=False, weight_bit_width=2))
    if what == "w2a1":
        return nn.Sequential(QuantIdentity(act_quant=SignedBinaryActPerTensorConst), nn.Flatten(),
                             QuantLinear(64, 16, bias=False, weight_bit_width=2), nn.BatchNorm1d(16),
                             QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
                             QuantLinear(16, 10, bias=False, weight_bit_width=2))
    if what == "uint1_relu":
        return _plain(QuantReLU(bit_width=1))
    if what == "residual_scales":
        return _residual(shared=False, scales=(3.3, 3.0 * 1.41421356))
    if what == "per_channel_input":
        from brevitas.quant import Int8ActPerTensorFloat

        return _plain(QuantReLU(bit_width=2), first_in=3, quant_input=False).insert(0, QuantIdentity(
            act_quant=Int8ActPerTensorFloat, scaling_per_output_channel=True,
            per_channel_broadcastable_shape=(1, 3, 1, 1), scaling_stats_permute_dims=(1, 0, 2, 3)))
    if what == "pool_sum_width":
        return _residual(shared=True, sum_bits=3)
    if what == "residual_unrequantized":
        return _residual(shared=True, requantized=False)
    raise KeyError(what)


# --------------------------------------------------------------------------------------------------
# hand-built QONNX graphs (onnx.helper)
# --------------------------------------------------------------------------------------------------
def _hand_built(what: str, path: Path) -> Path:
    """A one-channel 8x8 input, an 8-bit input Quant, a 2-bit-weight MatMul on the flattened input and
    one more node that is the point of the graph."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(5)
    inits = {"s_in": np.float32(1 / 127), "zp": np.float32(0), "b8": np.float32(8), "b2": np.float32(2),
             "s_w": np.float32(0.25), "shape": np.asarray([1, 64], np.int64),
             "w": rng.integers(-2, 2, size=(64, 10)).astype(np.float32) * np.float32(0.25),
             "w2": rng.integers(-2, 2, size=(64, 10)).astype(np.float32) * np.float32(0.25)}
    qd = "qonnx.custom_op.general"
    nodes = [
        helper.make_node("Quant", ["x", "s_in", "zp", "b8"], ["xq"], domain=qd, name="InputQuant", signed=0,
                         narrow=0, rounding_mode="FLOOR" if what == "floor" else "ROUND"),
        helper.make_node("Reshape", ["xq", "shape"], ["flat"], name="Flatten_in"),
        helper.make_node("Quant", ["w", "s_w", "zp", "b2"], ["wq"], domain=qd, name="WeightQuant", signed=1,
                         narrow=0, rounding_mode="ROUND"),
        helper.make_node("MatMul", ["flat", "wq"], ["mm"], name="Linear_0"),
    ]
    out = "mm"
    if what == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["mm"], ["y"], name="Sigmoid_0"))
        out = "y"
    elif what == "sub":
        nodes += [helper.make_node("Quant", ["w2", "s_w", "zp", "b2"], ["wq2"], domain=qd, name="WeightQuant2",
                                   signed=1, narrow=0, rounding_mode="ROUND"),
                  helper.make_node("MatMul", ["flat", "wq2"], ["mm2"], name="Linear_1"),
                  helper.make_node("Sub", ["mm", "mm2"], ["y"], name="Difference")]
        out = "y"
    elif what == "no_layer":
        nodes = nodes[:2]
        out = "flat"
    graph = helper.make_graph(
        nodes, what, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 64 if what == "no_layer" else 10])],
        [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(qd, 1)])
    onnx.save(model, str(path))
    return path


# --------------------------------------------------------------------------------------------------
# export, calibration, frames
# --------------------------------------------------------------------------------------------------
def _frames(channels: int) -> np.ndarray:
    if channels == 1:
        from dqhw.data import load_dataset

        return load_dataset("digits").x_test[:N_FRAMES]
    rng = np.random.default_rng(11)
    base = rng.integers(0, 256, size=(N_FRAMES, 1, 1, channels))
    return np.clip(base + rng.integers(-60, 61, size=(N_FRAMES, 8, 8, channels)), 0, 255).astype(np.uint8)


def _graph_in(images: np.ndarray, convention) -> np.ndarray:
    """uint8 NHWC -> what the file takes (float32 NCHW), by the convention given to dqhw build."""
    scale, offset = (np.float64(v) for v in convention)
    return (images.astype(np.float64).transpose(0, 3, 1, 2) * scale + offset).astype(np.float32)


def _export(net, images: np.ndarray, convention, path: Path, dynamo: bool = False) -> Path:
    """BatchNorm statistics and learned scales from the frames (train mode), then seeded random BN
    affines (negative gammas included), exported with Brevitas' export_qonnx."""
    import torch
    import torch.nn as nn
    from brevitas.export import export_qonnx

    torch.manual_seed(0)
    x = torch.as_tensor(_graph_in(images, convention))
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(x)
    rng = np.random.default_rng(2)
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.data = torch.as_tensor(rng.normal(0.8, 0.6, m.num_features), dtype=torch.float32)
            m.bias.data = torch.as_tensor(rng.normal(0.2, 0.5, m.num_features), dtype=torch.float32)
    net.eval()
    export_qonnx(net, input_t=x[:1], export_path=str(path), dynamo=dynamo)
    return path


# --------------------------------------------------------------------------------------------------
# the independent comparison: RTL logits (the build's rtl/ in Verilator) vs qonnx on the file
# --------------------------------------------------------------------------------------------------
def _qonnx_on_file(path: Path, x: np.ndarray) -> np.ndarray:
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    m = ModelWrapper(str(path)).transform(InferShapes())
    inp = [i.name for i in m.graph.input if m.get_initializer(i.name) is None][0]
    out = m.graph.output[0].name
    return np.stack([np.asarray(execute_onnx(m, {inp: x[i:i + 1]})[out], np.float64).reshape(-1)
                     for i in range(len(x))])


def _compare_with_file(path: Path, build: Path, images: np.ndarray, convention, work: Path) -> dict:
    from dqhw.simulate.runner import bulk_run

    rtl = bulk_run(build / "rtl", work, images)
    assert len(rtl.logits) == len(images) and not rtl.deadlock
    q = _qonnx_on_file(path, _graph_in(images, convention))
    o = json.loads((build / "build.json").read_text())["outputs"]
    n_cls = q.shape[1]
    scale = np.broadcast_to(np.asarray(o["logits_scale"], np.float64), (n_cls,))
    bias = np.broadcast_to(np.asarray(o["logits_bias"], np.float64), (n_cls,))
    g = np.asarray(rtl.logits, np.float64)
    integer_q = (q - bias) / scale  # the file's logits in the RTL's integer units
    worst = float(np.abs(integer_q - g).max())
    assert worst < 1e-3 * max(1.0, float(np.abs(g).max())), (worst, integer_q[:2], g[:2])
    value = g * scale + bias  # the float logits the RTL's integers stand for
    host = o["class_on"] == "host"
    cls = np.argmax(value, axis=1) if host else np.asarray(rtl.labels).reshape(-1)
    ties = 0
    for i in range(len(images)):
        if int(cls[i]) != int(np.argmax(q[i])):  # only where the top value is shared
            top = value[i].max()
            assert (value[i] == top).sum() > 1 and value[i, int(np.argmax(q[i]))] == top, (i, value[i], q[i])
            ties += 1
    return {"frames": len(images), "max_abs_int_diff": worst, "class_ties": ties, "class_on": o["class_on"]}


# --------------------------------------------------------------------------------------------------
# built: every support-matrix row (see docs/qonnx.md), RTL vs qonnx on the original file
# --------------------------------------------------------------------------------------------------
BUILT = {
    # name: (net factory, input channels, input convention, dynamo export)
    "signed_input_pad_pm1": (_signed_input_pad_pm1, 1, PM1, False),
    "input3_gap_host_class": (_input3_gap, 3, UNIT, True),
    "xnor_conv_maxpool": (_xnor_cnv, 1, PM1, False),
    "residual_shared_quantizer": (lambda: _residual(shared=True), 1, UNIT, False),
}


@pytest.mark.rtl
@pytest.mark.parametrize("name", list(BUILT))
def test_corpus_net_builds_and_its_rtl_equals_qonnx_on_the_file(name, tmp_path, capsys):
    factory, channels, convention, dynamo = BUILT[name]
    images = _frames(channels)
    path = _export(factory(), images, convention, tmp_path / f"{name}.onnx", dynamo=dynamo)
    frames = tmp_path / "frames.npz"
    np.savez(frames, images=images)
    out = tmp_path / "build"
    code, _, err = run_cli(["build", path, "--input-scale", convention[0], "--input-offset", convention[1],
                            "--frames", frames, "--verify-frames", str(N_FRAMES), "--out", out,
                            "--target-fps", str(TEST_FPS), "--no-synth", "--quiet"], capsys)
    assert code == 0, err
    r = _compare_with_file(path, out, images, convention, tmp_path / "work")
    assert r["class_ties"] <= N_FRAMES // 4, r
    info = json.loads((out / "build.json").read_text())
    ops = {s["op_type"] for s in json.loads((out / "rtl" / "design.json").read_text())["stages"]}
    expect = {"signed_input_pad_pm1": {"Thresholding_rtl", "FMPadding_rtl"},
              "input3_gap_host_class": {"Thresholding_rtl", "DqhwGlobalAccPool"},
              "xnor_conv_maxpool": set(), "residual_shared_quantizer": {"DqhwAddStreams"}}[name]
    assert expect <= {op.split("_hls")[0] for op in ops} | ops, (expect, ops)
    assert (info["outputs"]["class_on"] == "host") == (name == "input3_gap_host_class")
    if name == "xnor_conv_maxpool":  # both layers XNOR-popcount, the pooling on bipolar values
        import onnx

        graph = onnx.load(str(out / "dataflow.onnx")).graph
        xnor = [n for n in graph.node if any(a.name == "XNOR" and a.i == 1 for a in n.attribute)]
        assert len(xnor) == 2 and any(n.op_type == "DqhwMaxPool" for n in graph.node)


# --------------------------------------------------------------------------------------------------
# refused: one line naming the node and a way forward (docs/qonnx.md, refusal table)
# --------------------------------------------------------------------------------------------------
REFUSED = {
    # name: (how the file is made, convention, the node named, what the line must say)
    "avgpool": ("torch", UNIT, "(AveragePool;", "run it on the host"),
    "wide": ("torch", UNIT, "activation quantizer of 12 bits", "8 bits or fewer"),
    "depthwise": ("torch", UNIT, "(Conv;", "grouped/depthwise conv (group=4)"),
    "relu": ("torch", UNIT, "(Relu;", "unquantized ReLU: its output goes to MaxPool"),
    "pad_offset": ("torch", PM1, "(Conv;", "put an input quantizer"),
    "w2a1": ("torch", UNIT, "(MatMul;", "quantize this layer's weights to 1 bit"),
    "uint1_relu": ("torch", UNIT, "node ", "--accept-rewrites"),
    "residual_scales": ("torch", UNIT, "(Add;", "one shared quantizer"),
    "residual_unrequantized": ("torch", UNIT, "(Add;", "put one on the sum"),
    "per_channel_input": ("torch", UNIT, "(Quant;", "use a per-tensor scale"),
    "pool_sum_width": ("torch", UNIT, "(GlobalAveragePool;", "quantize the pooled activation to fewer bits"),
    "sigmoid": ("hand", UNIT, "(Sigmoid;", "run it on the host"),
    "sub": ("hand", UNIT, "(Sub;", "compute the difference on the host"),
    "floor": ("hand", UNIT, "(Quant;", "export the activation with ROUND"),
    "no_layer": ("hand", UNIT, "no conv/linear layer", "quantized conv/linear layers"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_corpus_refusal_names_the_node_and_a_way_forward(name, tmp_path, capsys):
    how, convention, node, fix = REFUSED[name]
    path = tmp_path / f"{name}.onnx"
    if how == "hand":
        _hand_built(name, path)
    else:
        _export(_torch_net(name), _frames(3 if name == "per_channel_input" else 1), convention, path)
    code, _, err = run_cli(["build", path, "--input-scale", convention[0], "--input-offset", convention[1],
                            "--out", tmp_path / "b", "--no-rtl", "--quiet"], capsys)
    assert_one_line_error(code, err, node)
    assert fix in err, err
    if how == "torch" and name != "uint1_relu":
        assert "(in the file: /" in err, err  # the node as the exporter named it, too
    assert "internal error" not in err and "Traceback" not in err
    assert not (tmp_path / "b").exists()
