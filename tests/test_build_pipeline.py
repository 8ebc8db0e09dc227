"""The build directory and the CLI: steps, outputs, node types and their RTL parameters, reports,
adversarial sets, and a cnv (32x32x3) build."""

from __future__ import annotations

import json
import shutil

import numpy as np

from dqhw.flow.step_table import steps
from tests.build_helpers import built, load_dataflow, make_run
from tests.conftest import run_cli

RUN = dict(bits="2", wbits="2", seed=2)
ALLOWED = {"DqhwMVAU", "DqhwMaxPool", "DqhwLabelSelect", "ConvolutionInputGenerator_rtl", "FMPadding_rtl",
           "Thresholding_rtl", "StreamingDataWidthConverter_rtl", "StreamingFIFO_rtl"}


def test_build_directory():
    out = built("thr_b2", **RUN)
    info = json.loads((out / "build.json").read_text())
    names = [s["step"] for s in info["steps"]]
    # the ordered step list, finn's and dqhw's, verification included (no RTL in this build: --no-rtl)
    assert names == [s.name for s in steps(rtl=False)]
    assert names[:3] == ["load_graph", "check_graph", "qonnx_to_finn"] and names[-3:] == ["verify", "hls", "report"]
    for i, (s, step) in enumerate(zip(info["steps"], steps(rtl=False))):
        if step.saves:  # every step that changes the graph leaves its model
            assert s["model"] == f"intermediate/{i:02d}_{s['step']}.onnx" and (out / s["model"]).is_file()
        else:
            assert s["model"] is None
    for f in ("dataflow.onnx", "model.qonnx.onnx", "folding_config.json", "report/summary.json", "report/summary.md",
              "report/estimate_layer_cycles.json", "report/estimate_layer_resources.json",
              "intermediate/dataflow_parent.onnx", "frames/clean.npz", "hls/hls.json", "hls/dqhw_accel.cpp"):
        assert (out / f).is_file(), f
    assert info["board"]["part"] == "xc7z020clg400-1" and info["board"]["finn_board"] == "Pynq-Z2"
    assert info["outputs"]["logits_tensor"] == "logits" and info["outputs"]["output_tensor"] == "label"
    assert info["outputs"]["logits_scale"] > 0 and info["outputs"]["logits_bias"] == 0
    assert info["source"]["kind"] == "run" and info["source"]["model"] == "tiny"


def test_output_scale_split_from_the_graph_equals_the_quantizers():
    """SplitOutputAffine reads the output scale off the streamlined graph; the run's quantizers give it
    independently (weight scale x activation step of the last layer)."""
    from dqhw.flow.export import final_scale
    from dqhw.runs import load_run
    from tests.build_helpers import run_dir

    out = built("thr_b2", **RUN)
    got = json.loads((out / "build.json").read_text())["outputs"]["logits_scale"]
    want = final_scale(load_run(run_dir("thr_b2", **RUN)))
    assert abs(got - want) <= 1e-6 * want, (got, want)


def test_qonnx_export_is_accepted_by_qonnx():
    """model.qonnx.onnx survives qonnx's cleanup and qonnx's execution gives Brevitas' logits."""
    import torch
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.util.cleanup import cleanup_model

    from dqhw.models import to_input
    from dqhw.runs import load_run
    from tests.build_helpers import run_dir

    out = built("thr_b2", **RUN)
    m = ModelWrapper(str(out / "model.qonnx.onnx"))
    assert [o.name for o in m.graph.output] == ["logits"]
    assert m.get_tensor_datatype(m.graph.input[0].name).name == "UINT8"
    assert "BipolarQuant" not in {n.op_type for n in m.graph.node}
    m = cleanup_model(m)
    x = np.random.default_rng(3).integers(0, 256, size=(2, 8, 8, 1), dtype=np.uint8)
    with torch.no_grad():
        ref = load_run(run_dir("thr_b2", **RUN)).model(to_input(x)).numpy()
    for i in range(2):
        res = execute_onnx(m, {m.graph.input[0].name: x[i:i + 1].transpose(0, 3, 1, 2).astype(np.float32)})
        logits = res[m.graph.output[0].name].reshape(-1)
        assert np.abs(logits - ref[i]).max() < 1e-4


def test_dataflow_nodes_and_rtl_parameters():
    from qonnx.custom_op.registry import getCustomOp

    from dqhw import contract

    m = load_dataflow(built("thr_b2", **RUN))
    types = {n.op_type for n in m.graph.node}
    assert types <= ALLOWED, types - ALLOWED
    assert {"DqhwMVAU", "DqhwMaxPool", "DqhwLabelSelect"} <= types
    mvaus = [n for n in m.graph.node if n.op_type == "DqhwMVAU"]
    for n in mvaus:
        inst = getCustomOp(n)
        p = inst.rtl_params()
        w = inst.weights(m)
        assert w.shape == (p["MH"], p["MW"]) and p["MH"] % p["PE"] == 0 and p["MW"] % p["SIMD"] == 0
        assert contract.weight_bits_ok(w, p["W_BITS"])
        thr = inst.thresholds(m)
        if p["USE_THRESHOLDS"]:
            assert thr.shape == (p["MH"], (1 << p["OUT_BITS"]) - 1)
            assert p["ACC_BITS"] == contract.mvau_acc_bits(w, p["IN_BITS"], True)
            contract.mvau_threshold_words(thr, p["PE"], p["ACC_BITS"])  # fits ACC_BITS
            assert (np.diff(thr, axis=1) >= 0).all()
        else:
            assert thr is None and p["ACC_BITS"] == p["OUT_BITS"]
    assert getCustomOp(mvaus[0]).rtl_params()["IN_BITS"] == 8  # uint8 pixels into the first layer
    assert not getCustomOp(mvaus[-1]).rtl_params()["USE_THRESHOLDS"]  # raw logits
    ls = getCustomOp(m.get_nodes_by_op_type("DqhwLabelSelect")[0]).rtl_params()
    assert ls["NUM_LABELS"] == 10 and ls["ACC_BITS"] == getCustomOp(mvaus[-1]).rtl_params()["ACC_BITS"]
    for n in m.get_nodes_by_op_type("DqhwMaxPool"):
        p = getCustomOp(n).rtl_params()
        prod = m.find_producer(n.input[0])
        while prod.op_type.startswith("StreamingFIFO"):
            prod = m.find_producer(prod.input[0])
        swg = getCustomOp(prod)
        assert swg.get_nodeattr("depthwise") == 1 and swg.get_nodeattr("SIMD") == p["PE"]


def test_summary():
    out = built("thr_b2", **RUN)
    s = json.loads((out / "report" / "summary.json").read_text())
    layer_names = {r["name"] for r in s["layers"]}
    assert s["bottleneck"]["name"] in layer_names
    assert s["cycles_per_frame"] == max(r["cycles"] for r in s["layers"])
    assert abs(s["estimated_fps"] - 1e8 / s["cycles_per_frame"]) < 1
    r = s["resources"]
    assert r["available"] == {"LUT": 53200, "BRAM18": 280, "DSP": 220} and r["estimated"]["DSP"] == 0
    v = s["verification"]
    assert v["passed"] is True
    oracles = {o["oracle"]: o for o in v["oracles"]}
    # the independent oracles, with their frame counts; dqhw's own node code is reported as not independent
    assert oracles["brevitas"]["independent"] and oracles["brevitas"]["frames"] == 16
    assert oracles["qonnx"]["independent"] and oracles["qonnx"]["frames"] == 16
    assert oracles["finn_graph"]["independent"] and oracles["finn_graph"]["frames"] == 16
    assert oracles["dqhw_graph"]["independent"] is False and oracles["dqhw_graph"]["frames"] == 4
    clean = v["sets"][0]
    assert clean["set"] == "clean" and clean["frames"] == 16 and clean["dqhw_graph"]["frames"] == 4
    assert clean["brevitas"]["logit_mismatch_frames"] == 0 and clean["qonnx"]["logit_mismatch_frames"] == 0
    md = (out / "report" / "summary.md").read_text()
    assert "Bottleneck" in md and "self-consistency" in md


def test_cli_build_with_adversarial_sets(tmp_path, capsys):
    run = make_run(tmp_path / "run", bits="3", wbits="2", seed=21)
    adv = run / "adv"
    adv.mkdir()
    rng = np.random.default_rng(0)
    np.savez(adv / "pgd_eps8.npz", images=rng.integers(0, 256, (20, 8, 8, 1), dtype=np.uint8),
             labels=rng.integers(0, 10, 20))
    np.savez(adv / "fgsm_eps4.npz", images=rng.integers(0, 256, (7, 8, 8, 1), dtype=np.uint8),
             labels=rng.integers(0, 10, 7))
    out = tmp_path / "build"
    code, stdout, err = run_cli(["build", run, "--out", out, "--target-fps", "5000", "--verify-frames", "12",
                                 "--exec-frames", "3", "--no-rtl", "--quiet"], capsys)
    assert code == 0, err
    assert "brevitas 39 frames pass, qonnx 12 frames pass, finn_graph 18 frames pass" in stdout, stdout
    v = json.loads((out / "report" / "summary.json").read_text())["verification"]
    assert [s["set"] for s in v["sets"]] == ["clean", "adv/fgsm_eps4", "adv/pgd_eps8"]
    assert [s["frames"] for s in v["sets"]] == [12, 7, 20]
    assert all(s["dqhw_graph"]["exact"] for s in v["sets"])
    assert json.loads((out / "build.json").read_text())["target_fps"] == 5000
    # rebuilding into the same directory replaces it
    shutil.rmtree(adv)
    code, _, err = run_cli(["build", run, "--out", out, "--verify-frames", "4", "--exec-frames", "1", "--no-rtl",
                            "--quiet"], capsys)
    assert code == 0, err
    assert len(json.loads((out / "report" / "summary.json").read_text())["verification"]["sets"]) == 1


def test_cnv_build():
    """cnv at width 0.25 with 1-bit activations and bipolar weights (FC layers chained after the last
    pool, width converters between them)."""
    out = built("cnv_w025_b1w1", model="cnv", bits="1", wbits="1", width=0.25, in_shape=(32, 32, 3),
                dataset="cifar10", seed=31, verify_frames=8, exec_frames=2)
    m = load_dataflow(out)
    assert m.get_tensor_shape(m.graph.input[0].name) == [1, 32, 32, 3]
    assert len(m.get_nodes_by_op_type("DqhwMVAU")) == 9 and len(m.get_nodes_by_op_type("DqhwMaxPool")) == 2
    s = json.loads((out / "report" / "summary.json").read_text())
    assert s["verification"]["passed"] is True
    assert s["verification"]["sets"][0]["source"].startswith("random")
    from qonnx.custom_op.registry import getCustomOp

    # no non-integer width converter (finn's RTL for those runs at ~half rate: a hidden bottleneck)
    for n in m.get_nodes_by_op_type("StreamingDataWidthConverter_rtl"):
        i, o = getCustomOp(n).get_nodeattr("inWidth"), getCustomOp(n).get_nodeattr("outWidth")
        assert i % o == 0 or o % i == 0, (n.name, i, o)
    p = [getCustomOp(n).rtl_params() for n in m.get_nodes_by_op_type("DqhwMVAU")]
    assert p[0]["IN_BITS"] == 8 and all(q["W_BITS"] == 1 for q in p)
    assert all(q["IN_BITS"] == 1 for q in p[1:]) and all(q["OUT_BITS"] == 1 for q in p[:-1])
