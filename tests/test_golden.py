"""The batched golden model vs finn's execute_onnx: bit-for-bit on every tensor, on built graphs of
random models (bits 1..5, bipolar and 3-bit weights) with random and extreme inputs, and on finn's
own folded graph; plus its building blocks and its error handling."""

from __future__ import annotations

import numpy as np
import pytest

from dqhw.errors import DqhwError
from tests.build_helpers import built, load_dataflow

CONFIGS = {
    # name: run kwargs (thr_b* are shared with test_thresholds)
    "thr_b1": dict(bits="1", wbits="2", seed=1),
    "thr_b2": dict(bits="2", wbits="2", seed=2),
    "thr_b3": dict(bits="3", wbits="2", seed=3),
    "thr_b4": dict(bits="4", wbits="2", seed=4),
    "thr_b5": dict(bits="5", wbits="2", seed=5),
    "bip_b1w1": dict(bits="1", wbits="1", seed=11),
    "w3_b3_half": dict(bits="3", wbits="3", width=0.5, seed=12),
}


def frames(shape, n=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    x[0] = 0
    x[1] = 255
    return x


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_golden_equals_execute_onnx(name):
    from dqhw.golden import GoldenModel
    from dqhw.verification import compare_with_graph

    out = built(name, **CONFIGS[name])
    g = GoldenModel.from_build(out)
    r = compare_with_graph(g, g.model, frames(g.input_shape, seed=len(name)), all_tensors=True)
    assert r["exact"], r
    assert r["tensors_compared"] >= len(g.model.graph.node)
    # the build itself checked it too
    import json

    v = json.loads((out / "report" / "summary.json").read_text())["verification"]
    assert v["passed"] is True and all(o["passed"] for o in v["oracles"])


def test_golden_runs_finns_own_folded_graph():
    """finn's MVAU_hls / Pool_hls / LabelSelect_hls graph (before dqhw's nodes) gives the same
    integers as execute_onnx of that graph and as the dqhw graph."""
    from qonnx.core.modelwrapper import ModelWrapper

    from dqhw.golden import GoldenModel
    from dqhw.verification import compare_with_graph

    out = built("thr_b3", **CONFIGS["thr_b3"])
    finn_graph = ModelWrapper(str(sorted((out / "intermediate").glob("*_minimize_bit_width.onnx"))[0]))
    assert {"MVAU_hls", "Pool_hls", "LabelSelect_hls"} <= {n.op_type for n in finn_graph.graph.node}
    g_finn = GoldenModel(finn_graph)
    x = frames(g_finn.input_shape, seed=7)
    r = compare_with_graph(g_finn, finn_graph, x, all_tensors=True)
    assert r["exact"], r
    g = GoldenModel.from_build(out)
    a, b = g.run(x), g_finn.run(x)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.logits, b.logits)


def test_golden_result_layout():
    from dqhw.golden import GoldenModel

    out = built("thr_b2", **CONFIGS["thr_b2"])
    g = GoldenModel.from_build(out)
    x = frames(g.input_shape, n=5)
    r = g.run(x, keep_intermediates=True)
    assert r.labels.shape == (5,) and r.labels.dtype == np.int64
    assert r.logits.shape == (5, 10) and r.logits.dtype == np.int64
    assert set(r.layers) == {n.name for n in g.model.graph.node}
    for node in g.model.graph.node:
        shape = tuple(g.model.get_tensor_shape(node.output[0])[1:])
        assert r.layers[node.name].shape == (5, *shape), node.name
    assert np.array_equal(r.tensors["logits"], r.logits)
    assert np.array_equal(r.labels, r.logits.argmax(axis=1))  # argmax = first maximum = lowest index
    # batching does not change anything
    r2 = g.run(x, batch_size=2)
    assert np.array_equal(r2.logits, r.logits) and np.array_equal(r2.labels, r.labels)
    assert not g.run(x).tensors


def test_exact_matmul_paths():
    from dqhw import contract
    from dqhw.golden import exact_matmul

    rng = np.random.default_rng(0)
    for in_max, w_max, mw in ((3, 1, 64), (255, 127, 300), (255, 127, 5000), (2**20, 2**20, 64)):
        x = rng.integers(0, in_max + 1, size=(7, mw))
        w = rng.integers(-w_max, w_max + 1, size=(mw, 5))
        assert np.array_equal(exact_matmul(x, w, in_max), contract.matvec(w.T, x))


def test_im2col_matches_naive():
    from dqhw.golden import im2col

    rng = np.random.default_rng(1)
    x = rng.integers(0, 9, size=(2, 7, 6, 3))
    out = im2col(x, (3, 2), (2, 1), (1, 1))
    oh, ow = (7 - 3) // 2 + 1, (6 - 2) // 1 + 1
    assert out.shape == (2, oh, ow, 3 * 2 * 3)
    for n in range(2):
        for i in range(oh):
            for j in range(ow):
                win = x[n, 2 * i:2 * i + 3, j:j + 2, :]  # (kh, kw, c): window position outer, channel inner
                assert np.array_equal(out[n, i, j], win.reshape(-1))


def test_golden_rejects_bad_input(tmp_path):
    from dqhw.golden import GoldenModel

    with pytest.raises(DqhwError, match="no dataflow.onnx"):
        GoldenModel.from_build(tmp_path)
    (tmp_path / "dataflow.onnx").write_bytes(b"\x00garbage, not a protobuf" * 10)
    with pytest.raises(DqhwError, match="not a readable ONNX"):
        GoldenModel.from_build(tmp_path)
    g = GoldenModel(load_dataflow(built("thr_b2", **CONFIGS["thr_b2"])))
    with pytest.raises(DqhwError, match="frames of shape"):
        g.run(np.zeros((2, 9, 9, 1), np.uint8))
    with pytest.raises(DqhwError, match="uint8"):
        g.run(np.full((2, *g.input_shape), 300))


def random_graph(seed: int):
    """A random chain Thresholding -> FMPadding -> ConvolutionInputGenerator -> DWC -> DqhwMVAU (thresholds)
    -> FIFO -> ConvolutionInputGenerator (depthwise) -> DqhwMaxPool -> ... -> DqhwMVAU (raw) ->
    DqhwLabelSelect, built node by node (finn generic nodes + dqhw nodes)."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.basic import qonnx_make_model

    import dqhw.customop  # noqa: F401

    rng = np.random.default_rng(seed)
    h = w = int(rng.integers(5, 9))
    c = int(rng.choice([1, 2, 3, 4]))
    in_bits = int(rng.integers(3, 9))
    a_bits = int(rng.integers(1, 4))
    k, stride, pad = int(rng.choice([1, 2, 3])), int(rng.choice([1, 2])), int(rng.integers(0, 2))
    mh = int(rng.choice([2, 4, 6, 8]))
    n_cls = int(rng.choice([3, 5, 10]))
    F, D = "finn.custom_op.fpgadataflow", "dqhw.customop"
    nodes, inits, t = [], {}, ["x"]
    shapes = {"x": [1, h, w, c]}

    def add(op, domain, out_shape, extra_inputs=(), **attrs):
        name = f"t{len(t)}"
        nodes.append(helper.make_node(op, [t[-1], *extra_inputs], [name], domain=domain, backend="fpgadataflow",
                                      name=f"{op}_{len(t)}", **attrs))
        shapes[name] = out_shape
        t.append(name)

    def sorted_thr(ch, n, lo, hi):
        # some thresholds fractional (as before finn rounds them): acc >= T <=> acc >= ceil(T)
        t = rng.integers(lo, hi, size=(ch, n)) + rng.choice([0.0, 0.5], size=(ch, n))
        return np.sort(t, axis=1).astype(np.float32)

    # 1) standalone thresholding of the UINT<in_bits> input
    inits["thr0"] = sorted_thr(c, (1 << a_bits) - 1, 0, 1 << in_bits)
    add("Thresholding", F, [1, h, w, c], ["thr0"], NumChannels=c, PE=1, numSteps=(1 << a_bits) - 1,
        inputDataType=f"UINT{in_bits}", weightDataType="UINT8", outputDataType=f"UINT{a_bits}",
        numInputVectors=[1, h, w], ActVal=0)
    # 2) padding + sliding window
    add("FMPadding", F, [1, h + 2 * pad, w + 2 * pad, c], ImgDim=[h, w], Padding=[pad, pad, pad, pad],
        NumChannels=c, SIMD=1, inputDataType=f"UINT{a_bits}")
    hp = h + 2 * pad
    oh = (hp - k) // stride + 1
    add("ConvolutionInputGenerator", F, [1, oh, oh, k * k * c], ConvKernelDim=[k, k], IFMChannels=c,
        IFMDim=[hp, hp], OFMDim=[oh, oh], SIMD=1, Stride=[stride, stride], Dilation=[1, 1],
        inputDataType=f"UINT{a_bits}", outputDataType=f"UINT{a_bits}", depthwise=0)
    add("StreamingFIFO", F, [1, oh, oh, k * k * c], depth=2, folded_shape=[1, oh, oh, k * k * c, 1],
        normal_shape=[1, oh, oh, k * k * c],
        dataType=f"UINT{a_bits}")
    # 3) MVAU with thresholds
    mw = k * k * c
    inits["w1"] = rng.integers(-3, 4, size=(mw, mh)).astype(np.float32)
    inits["thr1"] = sorted_thr(mh, 3, -20, 21)
    add("DqhwMVAU", D, [1, oh, oh, mh], ["w1", "thr1"], MW=mw, MH=mh, PE=1, SIMD=1, inputDataType=f"UINT{a_bits}",
        weightDataType="INT3", outputDataType="UINT2", accDataType="INT16", noActivation=0,
        numInputVectors=[1, oh, oh], ActVal=0)
    # 4) max pool (depthwise window) when possible
    if oh >= 2:
        po = oh // 2
        add("ConvolutionInputGenerator", F, [1, po, po, 4 * mh], ConvKernelDim=[2, 2], IFMChannels=mh,
            IFMDim=[oh, oh], OFMDim=[po, po], SIMD=1, Stride=[2, 2], Dilation=[1, 1], inputDataType="UINT2",
            outputDataType="UINT2", depthwise=1)
        add("DqhwMaxPool", D, [1, po, po, mh], Channels=mh, PE=1, KernelSize=[2, 2], Function="MaxPool",
            OutImgDims=[po, po], InputDataType="UINT2", OutputDataType="UINT2")
        oh = po
    # 5) a FC layer on the flattened (1, oh, oh, mh) map, a width converter (PE 2 -> SIMD 4), then the
    # classifier: raw accumulators + label select
    mw2 = oh * oh * mh
    inits["w_fc"] = rng.integers(-3, 4, size=(mw2, 8)).astype(np.float32)
    inits["thr_fc"] = sorted_thr(8, 3, -10, 11)
    add("DqhwMVAU", D, [1, 8], ["w_fc", "thr_fc"], MW=mw2, MH=8, PE=2, SIMD=1, inputDataType="UINT2",
        weightDataType="INT3", outputDataType="UINT2", accDataType="INT16", noActivation=0, numInputVectors=[1],
        ActVal=0)
    add("StreamingDataWidthConverter", F, [1, 8], inShape=[1, 8], outShape=[1, 8], inWidth=4, outWidth=8,
        dataType="UINT2")
    mw2 = 8
    inits["w2"] = rng.integers(-1, 2, size=(mw2, n_cls)).astype(np.float32)
    add("DqhwMVAU", D, [1, n_cls], ["w2"], MW=mw2, MH=n_cls, PE=1, SIMD=4, inputDataType="UINT2",
        weightDataType="INT2", outputDataType="INT16", accDataType="INT16", noActivation=1, numInputVectors=[1])
    add("DqhwLabelSelect", D, [1, 1], Labels=n_cls, PE=1, K=1, inputDataType="INT16", outputDataType="UINT8")
    graph = helper.make_graph(
        nodes, "random", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shapes["x"])],
        [helper.make_tensor_value_info(t[-1], TensorProto.FLOAT, shapes[t[-1]])],
        value_info=[helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()
                    if n not in ("x", t[-1])])
    m = ModelWrapper(qonnx_make_model(graph))
    # the flatten between pool and classifier: the MVAU reads (1, po, po, mh) as one vector
    for name, arr in inits.items():
        m.set_initializer(name, arr)
    m.set_tensor_datatype("x", DataType[f"UINT{in_bits}"])
    m.set_tensor_datatype("w1", DataType["INT3"])
    m.set_tensor_datatype("w2", DataType["INT2"])
    m.set_tensor_datatype("w_fc", DataType["INT3"])
    m = m.transform(InferShapes()).transform(InferDataTypes())
    return m, in_bits


@pytest.mark.parametrize("seed", range(6))
def test_golden_equals_execute_onnx_on_random_graphs(seed):
    from dqhw.golden import GoldenModel
    from dqhw.verification import compare_with_graph

    m, in_bits = random_graph(seed)
    g = GoldenModel(m)
    x = np.random.default_rng(seed).integers(0, 1 << in_bits, size=(5, *g.input_shape)).astype(np.uint8)
    r = compare_with_graph(g, m, x, all_tensors=True)
    assert r["exact"], r
    assert r["tensors_compared"] == len(m.graph.node) + 1


def test_dqhw_mvau_execute_keeps_the_graph_output_shape():
    """A FC layer fed by a 1x1 pooled map: input (1, 1, 1, MW), output (1, MH) as in the graph (as
    finn's MVAU; a width converter after it checks the shape)."""
    from onnx import helper

    from dqhw.customop import DqhwMVAU

    node = helper.make_node("DqhwMVAU", ["x", "w"], ["y"], domain="dqhw.customop", MW=4, MH=3, PE=1, SIMD=1,
                            inputDataType="UINT2", weightDataType="INT2", outputDataType="INT8", noActivation=1,
                            numInputVectors=[1])
    w = np.array([[1, -1, 0], [0, 1, 1], [-1, 0, 1], [1, 1, 1]], dtype=np.float32)
    x = np.array([3, 1, 2, 0], dtype=np.float32).reshape(1, 1, 1, 4)
    ctx = {"x": x, "w": w, "y": np.zeros((1, 3), np.float32)}
    DqhwMVAU(node).execute_node(ctx, None)
    assert ctx["y"].shape == (1, 3)
    assert np.array_equal(ctx["y"], x.reshape(1, 4) @ w)
