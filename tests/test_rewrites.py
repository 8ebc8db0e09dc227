"""Issue 28 item 1: no silent change of meaning. Brevitas exports a 1-bit unsigned QuantReLU as
`Relu -> BipolarQuant`, which qonnx runs as +s for every input; dqhw can only build it read as {0, s}
(what the trained model computes), which changes what the file computes. By default `dqhw build
MODEL.onnx` refuses that in one line naming the node and the flag; with --accept-rewrites it builds
the rewritten graph and says so on the console, in summary.md and build.json, with the number of
frames on which the hardware differs from the file as written. "qonnx ... original graph" is said
only when it is true.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, run_cli

N_FRAMES = 24


def _export_net(path: Path, bits: int) -> tuple[Path, Path]:
    """conv (2-bit weights) -> BN -> QuantReLU(bits) -> max pool -> 2-bit linear, BN calibrated on
    digits frames (so the 1-bit ReLU's {0, s} reading and qonnx's +s reading of its export differ)."""
    import torch
    import torch.nn as nn
    from brevitas.export import export_qonnx
    from brevitas.nn import QuantConv2d, QuantLinear, QuantReLU

    from dqhw.data import load_dataset

    torch.manual_seed(0)
    net = nn.Sequential(QuantConv2d(1, 8, 3, bias=False, weight_bit_width=2), nn.BatchNorm2d(8),
                        QuantReLU(bit_width=bits), nn.MaxPool2d(2), nn.Flatten(),
                        QuantLinear(8 * 3 * 3, 10, bias=False, weight_bit_width=2))
    d = load_dataset("digits")
    x, y = d.x_test[:N_FRAMES], d.y_test[:N_FRAMES]
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.as_tensor(x.transpose(0, 3, 1, 2) / 255.0, dtype=torch.float32))
    net.eval()
    export_qonnx(net, input_t=torch.zeros(1, 1, 8, 8), export_path=str(path), dynamo=False)
    frames = path.with_suffix(".npz")
    np.savez(frames, images=x, labels=y)
    return path, frames


@pytest.fixture(scope="module")
def relu1(tmp_path_factory) -> tuple[Path, Path]:
    path, frames = _export_net(tmp_path_factory.mktemp("relu1") / "relu1.onnx", 1)
    import onnx

    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert "BipolarQuant" in ops and "Relu" in ops, ops  # Brevitas' export of a 1-bit QuantReLU
    return path, frames


def _build(args, capsys):
    return run_cli(["build", *args, "--input-scale", repr(1 / 255), "--no-rtl", "--verify-frames", N_FRAMES,
                    "--exec-frames", 2], capsys)


def test_rewrite_that_changes_meaning_is_refused_by_default(relu1, tmp_path, capsys):
    path, frames = relu1
    code, _, err = _build([path, "--frames", frames, "--out", tmp_path / "b", "--quiet"], capsys)
    assert_one_line_error(code, err, "changes what the file computes")
    assert code == 2 and "--accept-rewrites" in err and "Relu -> BipolarQuant" in err and "node " in err
    assert not (tmp_path / "b").exists()


def test_accepted_rewrite_is_reported_with_the_distance_to_the_file(relu1, tmp_path, capsys):
    path, frames = relu1
    out = tmp_path / "b"
    code, stdout, err = _build([path, "--frames", frames, "--out", out, "--accept-rewrites", "--quiet"], capsys)
    assert code == 0, err
    info = json.loads((out / "build.json").read_text())
    assert info["source"]["rewrites"] and "rewritten graph" in info["source"]["hardware_computes"]
    v = json.loads((out / "report" / "summary.json").read_text())["verification"]
    of = v["original_file"]
    assert of["frames"] == N_FRAMES and 0 < of["differing_frames"] <= N_FRAMES
    qonnx = next(o for o in v["oracles"] if o["oracle"] == "qonnx")
    assert qonnx["passed"] and "rewritten" in qonnx["what"] and "original graph" not in qonnx["what"]
    line = f"RTL vs the original file: {of['differing_frames']} of {N_FRAMES} frames differ"
    assert "qonnx (rewritten graph) " in stdout and line in stdout and "computes the rewritten graph" in stdout
    md = (out / "report" / "summary.md").read_text()
    assert "computes a rewritten graph, not the graph as written" in md and line in md
    assert "original graph" not in md


def test_a_graph_without_rewrites_says_original_and_nothing_else(tmp_path, capsys):
    path, frames = _export_net(tmp_path / "relu2.onnx", 2)
    out = tmp_path / "b"
    code, stdout, err = _build([path, "--frames", frames, "--out", out, "--quiet"], capsys)
    assert code == 0, err
    v = json.loads((out / "report" / "summary.json").read_text())["verification"]
    assert "original_file" not in v and "rewrites" not in json.loads((out / "build.json").read_text())["source"]
    qonnx = next(o for o in v["oracles"] if o["oracle"] == "qonnx")
    assert "original graph" in qonnx["what"] and "rewritten" not in stdout
    assert "rewritten" not in (out / "report" / "summary.md").read_text()
