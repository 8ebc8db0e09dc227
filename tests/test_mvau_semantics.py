"""DqhwMVAU / the golden model / dqhw_mvau's parameters against finn-plus' own MVAU execute_node.

finn's MVAU (finn.custom_op.fpgadataflow.matrixvectoractivation.MVAU.execute_node, with qonnx's
xnorpopcountmatmul and multithreshold) is the oracle: its Python is independent of dqhw's code. Each
random case builds a one-node graph with a generic finn MVAU (attributes as finn's converters set
them: binaryXnorMode with BINARY inputs/weights, signed input types, ActVal < 0 for signed outputs,
ActVal = 0 for BIPOLAR outputs), executes it with finn's execute_onnx, replaces it with DqhwMVAU
(dqhw's ReplaceWithDqhwNodes, which also finalizes the Verilog parameters) and checks:
  1. DqhwMVAU.execute_node == finn, bit for bit;
  2. the golden model's compiled layer, on the finn graph and on the dqhw graph == finn;
  3. what dqhw_mvau emits with the node's rtl_params (contract.mvau_compute over the ROM contents
     weights()/thresholds(), ACT_VAL, XNOR) == finn's output as stream elements, and it survives
     packing into OUT_BITS-bit lanes and unpacking (signed when ACT_VAL < 0).
The RTL itself is checked against plain loops for the same parameter kinds in test_rtl_modules.py.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from onnx import TensorProto, helper

from dqhw import contract
from dqhw.errors import DqhwError


def _finn_model(spec: dict, rng: np.random.Generator):
    """One finn MVAU node (generic, backend fpgadataflow) with random weights/thresholds for `spec`."""
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    mw, mh, pe, simd = spec["mw"], spec["mh"], spec["pe"], spec["simd"]
    idt, wdt, odt = DataType[spec["idt"]], DataType[spec["wdt"]], spec["odt"]
    xnor = spec.get("xnor", 0)
    vecs = spec["vecs"]
    # weights (MW, MH), finn's orientation
    if xnor:
        w = rng.integers(0, 2, size=(mw, mh))
    elif wdt.name == "BIPOLAR":
        w = rng.choice([-1, 1], size=(mw, mh))
    else:
        wmax = int(wdt.max())
        w = rng.integers(-wmax, wmax + 1, size=(mw, mh))  # narrow range
    # accumulator range (finn-independent bound, only used to place thresholds)
    if xnor or (idt.name == "BIPOLAR" and wdt.name == "BIPOLAR"):
        lo, hi = 0, mw
    else:
        a = np.abs(w).sum(axis=0).max() * max(abs(int(idt.min())), abs(int(idt.max())))
        lo, hi = -int(a), int(a)
    inputs = ["x", "w"]
    attrs = {}
    if odt is None:
        noact, act, odt_name = 1, 0, "INT32"
        t = None
    else:
        noact = 0
        odt_dt = DataType[odt]
        n = spec.get("n_thr") or odt_dt.get_num_possible_values() - 1
        t = np.sort(rng.integers(lo - 3, hi + 4, size=(mh, n)), axis=1)
        if rng.random() < 0.5:
            t[0, :] = lo - 5  # a channel past every threshold
        act = spec.get("act", 0 if odt == "BIPOLAR" else int(odt_dt.min()))
        odt_name = odt
        inputs.append("t")
    attrs.update(MW=mw, MH=mh, PE=pe, SIMD=simd, inputDataType="BINARY" if xnor else idt.name,
                 weightDataType="BINARY" if xnor else wdt.name, outputDataType=odt_name, ActVal=act,
                 binaryXnorMode=xnor, noActivation=noact, numInputVectors=list(vecs))
    node = helper.make_node("MVAU", inputs, ["y"], domain="finn.custom_op.fpgadataflow", backend="fpgadataflow",
                            name="MVAU_0", **attrs)
    graph = helper.make_graph([node], "mvau", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [*vecs, mw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [*vecs, mh])])
    m = ModelWrapper(qonnx_make_model(graph))
    m.set_initializer("w", w.astype(np.float32))
    m.set_tensor_datatype("x", DataType["BINARY"] if xnor else idt)
    m.set_tensor_datatype("w", DataType["BINARY"] if xnor else wdt)
    m.set_tensor_datatype("y", DataType[odt_name])
    if t is not None:
        m.set_initializer("t", t.astype(np.float32))
        m.set_tensor_datatype("t", DataType["INT32"])
    # inputs: random, plus all-min / all-max vectors
    if xnor:
        xlo, xhi = 0, 1
    else:
        xlo, xhi = int(idt.min()), int(idt.max())
    x = rng.integers(xlo, xhi + 1, size=(*vecs, mw))
    if idt.name == "BIPOLAR" and not xnor:
        x = np.where(x > 0, 1, -1)
    flat = x.reshape(-1, mw)
    flat[0] = xhi
    if len(flat) > 1:
        flat[1] = xlo if idt.name != "BIPOLAR" or xnor else -1
    return m, flat.reshape(x.shape).astype(np.float32)


def _spec(rng: np.random.Generator, kind: str) -> dict:
    simd = int(rng.choice([1, 2, 3, 4, 8]))
    pe = int(rng.choice([1, 2, 3, 4]))
    mw, mh = simd * int(rng.integers(1, 6)), pe * int(rng.integers(1, 4))
    vecs = [1, 2, 3] if rng.random() < 0.5 else [int(rng.integers(1, 6))]
    spec = dict(mw=mw, mh=mh, pe=pe, simd=simd, vecs=vecs)
    sbits = int(rng.integers(2, 9))
    out_choices = [None, "BIPOLAR", "BINARY", "INT2", "INT3", "INT4", "UINT2", "UINT3"]
    odt = out_choices[int(rng.integers(len(out_choices)))]
    if kind == "xnor":
        spec.update(xnor=1, idt="BINARY", wdt="BINARY")
    elif kind == "bipolar_pair":  # BIPOLAR x BIPOLAR without binaryXnorMode (finn: popcount too)
        spec.update(idt="BIPOLAR", wdt="BIPOLAR")
    elif kind == "signed_in":
        spec.update(idt=f"INT{sbits}", wdt=str(rng.choice(["BIPOLAR", "INT2", "INT3", "INT5", "INT8"])))
    else:  # unsigned inputs into signed outputs
        spec.update(idt=f"UINT{int(rng.integers(1, 9))}", wdt=str(rng.choice(["BIPOLAR", "INT2", "INT4"])))
        odt = str(rng.choice(["INT2", "INT3", "INT4", "INT5"]))
    spec["odt"] = odt
    if odt in ("INT2", "INT3") and rng.random() < 0.3:  # narrow-range signed output: one threshold fewer
        b = int(odt[3:])
        spec.update(n_thr=(1 << b) - 2, act=-(1 << (b - 1)) + 1)
    return spec


KINDS = ["xnor", "bipolar_pair", "signed_in", "unsigned_in_signed_out"]
N_PER_KIND = 40


@pytest.mark.parametrize("kind", KINDS)
def test_dqhw_mvau_equals_finn_mvau(kind, monkeypatch, tmp_path):
    monkeypatch.setenv("FINN_BUILD_DIR", str(tmp_path))
    from dqhw import finn_compat

    finn_compat.prepare()
    from finn.core.onnx_exec import execute_onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    import dqhw.customop  # noqa: F401
    from dqhw.golden import GoldenModel
    from dqhw.transforms.replace import ReplaceWithDqhwNodes

    rng = np.random.default_rng(KINDS.index(kind) + 100)
    seen = set()
    for case in range(N_PER_KIND):
        spec = _spec(rng, kind)
        seen.add((spec["idt"], spec["wdt"], spec["odt"], spec.get("n_thr")))
        m_finn, x = _finn_model(spec, rng)
        y_finn = execute_onnx(m_finn, {"x": x})["y"]
        # golden model on finn's own graph
        g_finn = GoldenModel(m_finn)
        got = g_finn.steps[0][3](x.astype(np.int64))
        assert np.array_equal(got.reshape(y_finn.shape), y_finn), (case, spec, "golden on finn graph")

        m = ModelWrapper(copy.deepcopy(m_finn.model)).transform(ReplaceWithDqhwNodes())
        node = m.graph.node[0]
        assert node.op_type == "DqhwMVAU"
        y_dqhw = execute_onnx(m, {"x": x})["y"]
        assert np.array_equal(y_dqhw, y_finn), (case, spec, "DqhwMVAU.execute_node")
        got = GoldenModel(m).steps[0][3](x.astype(np.int64))
        assert np.array_equal(got.reshape(y_finn.shape), y_finn), (case, spec, "golden on dqhw graph")

        # the hardware: dqhw_mvau's parameters and ROM contents give finn's outputs as stream elements
        inst = getCustomOp(node)
        p = inst.rtl_params()
        bipolar_in = spec["idt"] == "BIPOLAR"
        bipolar_out = spec["odt"] == "BIPOLAR"
        assert p["XNOR"] == int(kind in ("xnor", "bipolar_pair"))
        assert p["IN_SIGNED"] == int(kind == "signed_in")
        xs = contract.stream_elements(x.reshape(-1, spec["mw"]), bipolar=bipolar_in)
        t = inst.thresholds(m)
        if t is not None:
            t = contract.clip_thresholds(t, inst.get_nodeattr("ACC_MIN"), inst.get_nodeattr("ACC_MAX"))
            lo, hi = contract.threshold_range(p["ACC_BITS"])
            assert lo <= t.min() and t.max() <= hi
            assert t.shape[1] == p["NUM_THRESH"]
        hw = contract.mvau_compute(inst.weights(m), xs, t, xnor=bool(p["XNOR"]), act_val=p["ACT_VAL"])
        want = contract.stream_elements(y_finn.reshape(-1, spec["mh"]), bipolar=bipolar_out)
        assert np.array_equal(hw, want), (case, spec, p, "rtl parameters")
        lo_acc, hi_acc = inst.get_nodeattr("ACC_MIN"), inst.get_nodeattr("ACC_MAX")
        assert contract.signed_bits(lo_acc, hi_acc) <= p["ACC_BITS"]
        bits = p["OUT_BITS"] if p["USE_THRESHOLDS"] else p["ACC_BITS"]
        signed = (p["ACT_VAL"] < 0) if p["USE_THRESHOLDS"] else True
        beats = contract.pack_beats(hw.reshape(-1), bits, p["PE"])
        assert np.array_equal(contract.unpack_beats(beats, bits, p["PE"], signed), hw.reshape(-1))
        # the ROM writer accepts the weights/thresholds as the RTL reads them
        contract.mvau_weight_words(inst.weights(m), p["PE"], p["SIMD"], p["W_BITS"])
        if t is not None:
            contract.mvau_threshold_words(t, p["PE"], p["ACC_BITS"])
    assert len(seen) >= 8, seen  # the draw covers many datatype combinations


def test_xnor_popcount_contract_by_hand():
    # W rows (bipolar) against input bits [1, 0, 1]: +1 agrees with 1, -1 agrees with 0
    w = np.array([[1, -1, 1], [-1, 1, -1], [1, 1, 1]])
    assert contract.xnor_popcount(w, np.array([1, 0, 1])).tolist() == [3, 0, 2]
    assert contract.mvau_acc_range(w, 1, xnor=True) == (0, 3)
    assert contract.mvau_acc_range(np.array([[1, -2]]), 2, in_signed=True) == (-4, 5)  # x in -2..1
    assert contract.activation_output(np.array([0, 1, 3]), -2).tolist() == [-2, -1, 1]
    assert contract.activation_output(np.array([0, 1]), 0, bipolar=True).tolist() == [-1, 1]
    assert contract.stream_elements(np.array([-1, 1]), bipolar=True).tolist() == [0, 1]
    with pytest.raises(DqhwError):
        contract.xnor_popcount(np.array([[0, 1]]), np.array([1, 0]))


def test_unsupported_mvau_inputs_are_refused(monkeypatch, tmp_path):
    """BIPOLAR activations into non-bipolar weights (W2A1) have no dqhw_mvau mode: refused in one line."""
    monkeypatch.setenv("FINN_BUILD_DIR", str(tmp_path))
    from dqhw.transforms.replace import ReplaceWithDqhwNodes

    rng = np.random.default_rng(0)
    spec = dict(mw=4, mh=2, pe=1, simd=1, vecs=[1], idt="BIPOLAR", wdt="INT2", odt="UINT2")
    m, _ = _finn_model(spec, rng)
    with pytest.raises(DqhwError, match="BIPOLAR inputs with INT2 weights"):
        m.transform(ReplaceWithDqhwNodes())


def test_golden_runs_a_bnn_pynq_style_chain_like_finn(monkeypatch, tmp_path):
    """uint8 frames -> finn Thresholding (INT2, ActVal -2) -> MVAU INT2 x INT2 -> INT2 (W2A2) -> MVAU
    INT2 x BIPOLAR -> BINARY -> MVAU XNOR -> BINARY -> MVAU XNOR raw -> LabelSelect, all finn nodes:
    finn's execute_onnx is the oracle for every tensor; the golden model runs the finn graph and the
    graph after ReplaceWithDqhwNodes (whose DqhwMVAU execution is checked as well)."""
    monkeypatch.setenv("FINN_BUILD_DIR", str(tmp_path))
    from dqhw import finn_compat

    finn_compat.prepare()
    from finn.core.onnx_exec import execute_onnx
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    import dqhw.customop  # noqa: F401
    from dqhw.golden import GoldenModel
    from dqhw.transforms.replace import ReplaceWithDqhwNodes

    rng = np.random.default_rng(7)
    F = "finn.custom_op.fpgadataflow"
    c = 12
    nodes, inits, dts = [], {}, {"x": DataType["UINT8"]}

    def mvau(i, idt, wdt, odt, xnor, mw, mh, w, t=None, act=0):
        ins = [f"a{i}", f"w{i}"] + ([f"t{i}"] if t is not None else [])
        inits[f"w{i}"] = w.astype(np.float32)
        dts[f"w{i}"] = DataType[wdt]
        if t is not None:
            inits[f"t{i}"] = t.astype(np.float32)
        nodes.append(helper.make_node("MVAU", ins, [f"a{i + 1}"], domain=F, backend="fpgadataflow", name=f"MVAU_{i}",
                                      MW=mw, MH=mh, PE=2, SIMD=4, inputDataType=idt, weightDataType=wdt,
                                      outputDataType=odt, ActVal=act, binaryXnorMode=int(xnor),
                                      noActivation=int(t is None), numInputVectors=[1]))
        dts[f"a{i + 1}"] = DataType[odt]

    thr0 = np.sort(rng.integers(0, 256, size=(c, 3)), axis=1)
    inits["t0"] = thr0.astype(np.float32)
    nodes.append(helper.make_node("Thresholding", ["x", "t0"], ["a1"], domain=F, backend="fpgadataflow",
                                  name="Thresholding_0", NumChannels=c, PE=1, numSteps=3, inputDataType="UINT8",
                                  weightDataType="UINT8", outputDataType="INT2", numInputVectors=[1], ActVal=-2))
    dts["a1"] = DataType["INT2"]
    mvau(1, "INT2", "INT2", "INT2", False, 12, 16, rng.integers(-1, 2, size=(12, 16)),
         np.sort(rng.integers(-8, 9, size=(16, 3)), axis=1), act=-2)
    mvau(2, "INT2", "BIPOLAR", "BINARY", False, 16, 24, rng.choice([-1, 1], size=(16, 24)),
         np.sort(rng.integers(-6, 7, size=(24, 1)), axis=1))
    mvau(3, "BINARY", "BINARY", "BINARY", True, 24, 32, rng.integers(0, 2, size=(24, 32)),
         rng.integers(8, 17, size=(32, 1)))
    mvau(4, "BINARY", "BINARY", "UINT8", True, 32, 10, rng.integers(0, 2, size=(32, 10)))
    nodes.append(helper.make_node("LabelSelect", ["a5"], ["y"], domain=F, backend="fpgadataflow",
                                  name="LabelSelect_0", Labels=10, PE=1, K=1, inputDataType="UINT8",
                                  outputDataType="UINT8"))
    shapes = {"x": [1, c], "a1": [1, c], "a2": [1, 16], "a3": [1, 24], "a4": [1, 32], "a5": [1, 10], "y": [1, 1]}
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shapes["x"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shapes["y"])],
        value_info=[helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()
                    if n not in ("x", "y")])
    m = ModelWrapper(qonnx_make_model(graph))
    for k, v in inits.items():
        m.set_initializer(k, v)
    for k, v in dts.items():
        m.set_tensor_datatype(k, v)
    frames = rng.integers(0, 256, size=(40, c), dtype=np.uint8)
    frames[0], frames[1] = 0, 255
    finn_ctx = [execute_onnx(m, {"x": f[None].astype(np.float32)}, return_full_exec_context=True) for f in frames]
    m_dqhw = ModelWrapper(copy.deepcopy(m.model)).transform(ReplaceWithDqhwNodes())
    assert [n.op_type for n in m_dqhw.graph.node].count("DqhwMVAU") == 4
    for graph_model in (m, m_dqhw):
        r = GoldenModel(graph_model, logits_tensor="a5").run(frames, keep_intermediates=True)
        for name in ("a1", "a2", "a3", "a4", "a5", "y"):
            want = np.stack([ctx[name].reshape(-1) for ctx in finn_ctx])
            assert np.array_equal(r.tensors[name].reshape(len(frames), -1), want), name
        assert np.array_equal(r.logits, np.stack([ctx["a5"].reshape(-1) for ctx in finn_ctx]))
    for f, ctx in zip(frames[:5], finn_ctx[:5]):  # DqhwMVAU.execute_node in execute_onnx, too
        got = execute_onnx(m_dqhw, {"x": f[None].astype(np.float32)}, return_full_exec_context=True)
        for name in ("a2", "a3", "a4", "a5"):
            assert np.array_equal(got[name], ctx[name]), name
