"""`dqhw build MODEL.onnx`: a QONNX file written by someone else (here: an independently written
Brevitas net exported with `export_qonnx`, not a dqhw model), built, proven and simulated with no dqhw
run behind it; the RTL's logits held to qonnx's execution of the original file. Plus the graph
check's one-line refusals of what dqhw cannot build yet.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.build_helpers import TEST_FPS
from tests.conftest import assert_one_line_error, run_cli

INPUT_SCALE = 1.0 / 255.0
N_FRAMES = 100


def _relu_net(per_channel_last: bool = False, last_bias: bool = False):
    """Learned-scale 8-bit input quantizer, per-channel 3- and 2-bit conv weights, BatchNorm with
    random affine parameters, learned-scale QuantReLU (3 and 2 bits), max pooling, a 2-bit linear
    classifier (per-channel weight scales and a float bias with the flags: a per-class output affine,
    the class taken on the host): nothing in it comes from dqhw.quant or dqhw.models."""
    import torch
    import torch.nn as nn
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int8WeightPerChannelFloat, Int8WeightPerTensorFloat, Uint8ActPerTensorFloat

    last_quant = Int8WeightPerChannelFloat if per_channel_last else Int8WeightPerTensorFloat

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.q0 = QuantIdentity(act_quant=Uint8ActPerTensorFloat, bit_width=8, return_quant_tensor=False)
            self.c1 = QuantConv2d(1, 8, 3, padding=1, bias=False, weight_quant=Int8WeightPerChannelFloat,
                                  weight_bit_width=3)
            self.b1, self.r1 = nn.BatchNorm2d(8), QuantReLU(bit_width=3)
            self.pool = nn.MaxPool2d(2)
            self.c2 = QuantConv2d(8, 16, 3, bias=False, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=2)
            self.b2, self.r2 = nn.BatchNorm2d(16), QuantReLU(bit_width=2)
            self.fc = QuantLinear(64, 10, bias=last_bias, weight_quant=last_quant, weight_bit_width=2)

        def forward(self, x):
            x = self.pool(self.r1(self.b1(self.c1(self.q0(x)))))
            return self.fc(self.r2(self.b2(self.c2(x))).flatten(1))

    torch.manual_seed(0)
    return Net()


def _digits(n: int):
    from dqhw.data import load_dataset

    d = load_dataset("digits")
    return d.x_test[:n], d.y_test[:n]


def calibrate(net, x: np.ndarray) -> None:
    """BatchNorm statistics and the learned activation scales from real frames (uint8 NHWC x), then
    seeded random BatchNorm affines and last-layer bias, so the exported graph is not trivial."""
    import torch

    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.as_tensor(x.transpose(0, 3, 1, 2) * INPUT_SCALE, dtype=torch.float32))
    rng = np.random.default_rng(1)
    for bn in (net.b1, net.b2):
        bn.weight.data = torch.as_tensor(rng.normal(1.0, 0.5, bn.num_features), dtype=torch.float32)
        bn.bias.data = torch.as_tensor(rng.normal(0.3, 0.5, bn.num_features), dtype=torch.float32)
    if getattr(net.fc, "bias", None) is not None:
        net.fc.bias.data = torch.as_tensor(rng.normal(0.0, 1.0, net.fc.out_features), dtype=torch.float32)
    net.eval()


def _calibrated_export(net, root: Path, name: str) -> tuple[Path, Path]:
    import torch
    from brevitas.export import export_qonnx

    x, y = _digits(N_FRAMES)
    calibrate(net, x)
    path = root / f"{name}.onnx"
    export_qonnx(net, input_t=torch.zeros(1, 1, 8, 8), export_path=str(path), dynamo=False)
    frames = root / "frames.npz"
    np.savez(frames, images=x, labels=y)
    return path, frames


@pytest.fixture(scope="module")
def relu_onnx(tmp_path_factory) -> tuple[Path, Path]:
    return _calibrated_export(_relu_net(), tmp_path_factory.mktemp("qonnx"), "relunet")


@pytest.fixture(scope="module")
def relu_build(relu_onnx, tmp_path_factory) -> Path:
    from dqhw.cli import main

    path, frames = relu_onnx
    out = tmp_path_factory.mktemp("qb") / "build"
    code = main(["build", str(path), "--input-scale", repr(INPUT_SCALE), "--frames", str(frames), "--out",
                 str(out), "--target-fps", str(TEST_FPS), "--quiet"])
    assert code == 0
    return out


@pytest.mark.rtl
def test_foreign_qonnx_builds_proves_and_simulates(relu_build, capsys):
    info = json.loads((relu_build / "build.json").read_text())
    assert info["source"]["kind"] == "onnx" and info["source"]["input_scale"] == pytest.approx(INPUT_SCALE)
    assert info["rtl"]["proof"]["mismatches"] == 0 and info["rtl"]["proof"]["frames"] >= 16
    v = json.loads((relu_build / "report" / "summary.json").read_text())["verification"]
    oracles = {o["oracle"]: o for o in v["oracles"]}
    assert "brevitas" not in oracles  # no run: no trained model to ask
    assert oracles["qonnx"]["passed"] and oracles["qonnx"]["frames"] == 64
    assert oracles["finn_graph"]["passed"] and oracles["finn_graph"]["frames"] == 64
    stages = json.loads((relu_build / "rtl" / "design.json").read_text())["stages"]
    first = next(s for s in stages if s["op_type"] != "StreamingFIFO_rtl")
    assert first["op_type"] == "Thresholding_rtl"  # the learned-scale input quantizer
    # dqhw sim with no run: the frames the build was verified on, through `python -m dqhw`
    code, _, err = run_cli(["sim", relu_build, "--quiet"], capsys)
    assert code == 0, err
    report = json.loads((relu_build / "sim" / "report.json").read_text())
    assert report["total_mismatches"] == 0 and report["total_frames"] == N_FRAMES
    assert report["sets"][0]["rtl_accuracy"] is not None  # the frame file had labels


@pytest.mark.rtl
def test_rtl_logits_equal_qonnx_on_the_original_file(relu_onnx, relu_build, tmp_path):
    """RTL (Verilator) vs qonnx execute_onnx of the file as exported, on 100 frames: every logit up to
    the output scale, and the class, except at exact integer ties."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.general import RemoveStaticGraphInputs
    from qonnx.transformation.infer_shapes import InferShapes

    from dqhw.simulate.runner import bulk_run

    path, _ = relu_onnx
    x, _ = _digits(N_FRAMES)
    rtl = bulk_run(relu_build / "rtl", tmp_path / "work", x)
    assert len(rtl.logits) == N_FRAMES and not rtl.deadlock
    m = ModelWrapper(str(path)).transform(RemoveStaticGraphInputs()).transform(InferShapes())
    name, out = m.graph.input[0].name, m.graph.output[0].name
    scale = json.loads((relu_build / "build.json").read_text())["outputs"]["logits_scale"]
    ties = 0
    for i in range(N_FRAMES):
        inp = (x[i:i + 1].transpose(0, 3, 1, 2) * np.float64(INPUT_SCALE)).astype(np.float32)
        q = np.asarray(execute_onnx(m, {name: inp})[out], dtype=np.float64).reshape(-1)
        g = rtl.logits[i]
        assert np.abs(q / scale - g).max() < 1e-3 * max(1, np.abs(g).max()), (i, q / scale, g)
        if int(rtl.labels[i]) != int(np.argmax(q)):
            assert (g == g.max()).sum() > 1 and g[int(np.argmax(q))] == g.max(), (i, g, q)
            ties += 1
    assert ties <= N_FRAMES // 10


# --------------------------------------------------------------------------------------------------
# refusals: one line, before finn's steps, naming the node
# --------------------------------------------------------------------------------------------------
def _export(net, shape, path: Path) -> Path:
    import torch
    from brevitas.export import export_qonnx

    net.eval()
    export_qonnx(net, input_t=torch.zeros(*shape), export_path=str(path), dynamo=False)
    return path


def _small_net(extra):
    import torch.nn as nn
    from brevitas.nn import QuantConv2d, QuantLinear

    return nn.Sequential(QuantConv2d(1, 4, 3, bias=False, weight_bit_width=2), *extra,
                         nn.Flatten(), QuantLinear(4 * 3 * 3, 10, bias=False, weight_bit_width=2))


@pytest.mark.parametrize("what, needle", [
    ("avgpool", "(AveragePool;"),
    ("wide", "activation quantizer of 12 bits"),
])
def test_unsupported_graphs_are_refused_in_one_line(tmp_path, capsys, what, needle):
    import torch.nn as nn
    from brevitas.nn import QuantReLU

    extra = [QuantReLU(bit_width=2), nn.AvgPool2d(2)] if what == "avgpool" else [QuantReLU(bit_width=12),
                                                                                   nn.MaxPool2d(2)]
    path = _export(_small_net(extra), (1, 1, 8, 8), tmp_path / f"{what}.onnx")
    code, _, err = run_cli(["build", path, "--out", tmp_path / "b", "--no-rtl", "--quiet"], capsys)
    assert_one_line_error(code, err, needle)
    assert err.count("node ") >= 1  # names the node and its op
    assert not (tmp_path / "b").exists()


# --------------------------------------------------------------------------------------------------
# a per-class output affine on the last layer: integer logits out of the accelerator, class on the host
# --------------------------------------------------------------------------------------------------
@pytest.mark.rtl
@pytest.mark.parametrize("last_bias", [False, True], ids=["per-channel-scale", "per-channel-scale+bias"])
def test_per_class_scale_and_bias_on_the_last_layer_build_with_the_class_on_the_host(
        last_bias, tmp_path_factory, capsys, monkeypatch):
    from dqhw.cli import main
    from dqhw.verification import rtl_vs_original

    root = tmp_path_factory.mktemp("pc")
    path, frames = _calibrated_export(_relu_net(per_channel_last=True, last_bias=last_bias), root, "pc")
    out = root / "build"
    code = main(["build", str(path), "--input-scale", repr(INPUT_SCALE), "--frames", str(frames), "--out",
                 str(out), "--target-fps", str(TEST_FPS), "--quiet"])
    assert code == 0
    info = json.loads((out / "build.json").read_text())
    o = info["outputs"]
    assert o["class_on"] == "host"
    assert isinstance(o["logits_scale"], list) and len(o["logits_scale"]) == 10
    assert len(set(o["logits_scale"])) > 1 and all(v > 0 for v in o["logits_scale"])
    assert isinstance(o["logits_bias"], list) and (len(set(o["logits_bias"])) > 1) == last_bias
    stages = json.loads((out / "rtl" / "design.json").read_text())
    assert stages["label_width"] == 0 and not any(s["op_type"].startswith("DqhwLabelSelect")
                                                  for s in stages["stages"])
    assert info["rtl"]["proof"]["mismatches"] == 0 and info["rtl"]["proof"]["passed"]
    v = json.loads((out / "report" / "summary.json").read_text())["verification"]
    assert v["passed"] and {o["oracle"] for o in v["oracles"]} >= {"qonnx", "finn_graph", "dqhw_graph"}
    # the board package: no class DMA channel, the driver takes the class with the same rule
    tcl = (out / "board" / "build_bitstream.tcl").read_text()
    assert "set has_class 0" in tcl
    driver = (out / "board" / "driver.py").read_text()
    assert "HAS_CLASS = False" in driver
    _check_driver_host_class(driver, o["logits_scale"], o["logits_bias"], monkeypatch)
    code, _, err = run_cli(["sim", out, "--quiet"], capsys)
    assert code == 0, err
    report = json.loads((out / "sim" / "report.json").read_text())
    assert report["total_mismatches"] == 0 and report["total_frames"] == N_FRAMES
    assert report["sets"][0]["rtl_accuracy"] is not None
    # RTL logits * scale_c + bias_c vs qonnx's execution of the original file; the host class vs qonnx's
    # argmax except at exact ties
    x, _ = _digits(N_FRAMES)
    r = rtl_vs_original(out, x, root / "work")
    assert r["passed"], r
    assert r["frames"] == N_FRAMES and r["logits_max_abs_diff"] < 1e-3
    assert r["class_disagreements"] - r["class_disagreements_at_ties"] == 0
    assert r["frames_with_integer_ties"] <= N_FRAMES // 10


def _check_driver_host_class(driver: str, scale, bias, monkeypatch) -> None:
    """The PYNQ driver (which imports nothing from dqhw) takes the same class as contract.host_class."""
    import sys
    import types

    from dqhw import contract

    fake = types.ModuleType("pynq")
    fake.Overlay = fake.allocate = None
    monkeypatch.setitem(sys.modules, "pynq", fake)
    ns: dict = {"__name__": "dqhw_driver"}
    exec(compile(driver, "driver.py", "exec"), ns)  # noqa: S102
    acc = np.random.default_rng(0).integers(-300, 300, size=(2000, len(scale)))
    acc[:100, 1] = acc[:100, 0]
    assert np.array_equal(ns["host_class"](acc), contract.host_class(acc, scale, bias))


def test_host_class_matches_a_plain_loop_with_ties():
    from dqhw import contract

    rng = np.random.default_rng(3)
    acc = rng.integers(-4, 5, size=(500, 7))
    scale = np.array([0.5, 0.25, 0.5, 1.0, 0.125, 0.5, 2.0], dtype=np.float32).astype(np.float64)
    bias = np.array([0.0, 0.5, 0.0, -1.0, 0.25, 0.0, 0.0])
    acc[:50, 0] = acc[:50, 2]  # classes 0 and 2 share scale and bias: exact ties
    got = contract.host_class(acc, scale, bias)

    def reference(row):
        best, best_v = 0, None
        for c in range(len(row)):
            v = float(row[c]) * float(scale[c]) + float(bias[c])
            if best_v is None or v > best_v:  # strictly greater: the lowest index wins a tie
                best, best_v = c, v
        return best

    want = np.array([reference(row) for row in acc])
    assert np.array_equal(got, want)
    vals = acc * scale + bias
    ties = ((vals == vals.max(axis=1, keepdims=True)).sum(axis=1) > 1).sum()
    assert ties > 10  # the tie rule was exercised
    assert np.array_equal(contract.host_class(acc, 1.0, 0.0), acc.argmax(axis=1))  # uniform: LabelSelect's rule
    assert np.array_equal(contract.host_class(acc, 1.0, 0.0), contract.label_select(acc)[:, 0])


def test_bad_model_inputs_are_one_line_errors(relu_onnx, tmp_path, capsys):
    path, _ = relu_onnx
    bad = tmp_path / "not.onnx"
    bad.write_text("not a model")
    code, _, err = run_cli(["build", bad, "--out", tmp_path / "b", "--quiet"], capsys)
    assert_one_line_error(code, err, "not a readable ONNX model")
    code, _, err = run_cli(["build", tmp_path / "missing.onnx", "--out", tmp_path / "b", "--quiet"], capsys)
    assert_one_line_error(code, err, "no such run directory or model file")
    frames = tmp_path / "f.npz"
    np.savez(frames, images=np.zeros((4, 9, 9, 1), np.uint8))
    code, _, err = run_cli(["build", path, "--frames", frames, "--out", tmp_path / "b", "--quiet"], capsys)
    assert_one_line_error(code, err, "(8, 8, 1)")
    code, _, err = run_cli(["build", path, "--input-scale", "0", "--out", tmp_path / "b", "--quiet"], capsys)
    assert_one_line_error(code, err, "--input-scale")


def test_python_m_dqhw_runs_the_cli():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "dqhw", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("dqhw ")


def test_judge_float_logits_with_per_class_scale_and_bias():
    """The float-oracle rule with one scale and bias per class: logits up to the affine, and the class
    (contract.host_class) vs the float argmax except at exact ties of acc * scale + bias."""
    from dqhw import contract
    from dqhw.verification import judge_float_logits

    scale = np.array([0.5, 0.25, 1.0])
    bias = np.array([0.0, 0.5, -1.0])
    acc = np.array([[2, 2, 1], [4, 1, 0], [1, 0, 2]])  # frame 0: values 1.0, 1.0, 0.0 (a tie of 0 and 1)
    labels = contract.host_class(acc, scale, bias)
    assert labels.tolist() == [0, 0, 2]
    f = acc * scale + bias
    ok = judge_float_logits(f, scale, acc, labels, bias)
    assert ok["passed"] and ok["frames_with_integer_ties"] == 1 and ok["class_disagreements"] == 0
    tie = f.copy()
    tie[0, 1] += 1e-9  # the float argmax takes the other tied class: allowed
    r = judge_float_logits(tie, scale, acc, labels, bias)
    assert r["passed"] and r["class_disagreements_at_ties"] == 1
    wrong = f.copy()
    wrong[1] = [2.0, 2.5, -1.0]  # logit 1 off by 8 integer units and the class differs without a tie
    r = judge_float_logits(wrong, scale, acc, labels, bias)
    assert not r["passed"] and r["first_bad_frame"] == 1
