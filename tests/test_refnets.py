"""FINN's reference networks (brevitas_examples bnn_pynq, random init, calibrated BN) built from their
QONNX export with `dqhw build MODEL.onnx`, proven, and the RTL's logits held to qonnx's execution of
the original file on 100 frames. TFC at W1A1 (XNOR-popcount), W1A2 (bipolar weights, signed INT2
activations) and W2A2 here; every topology (SFC, LFC, CNV too) in bench/bench_refnets.py."""

from __future__ import annotations

import json

import pytest

from dqhw.refnets import INPUT_SCALE, export, frames
from tests.build_helpers import TEST_FPS

pytestmark = pytest.mark.rtl

N = 100


@pytest.mark.parametrize("name", ["tfc_1w1a", "tfc_1w2a", "tfc_2w2a"])
def test_reference_network_rtl_equals_qonnx_on_the_original_file(name, tmp_path):
    import numpy as np

    from dqhw.flow.pipeline import BuildOptions, build
    from dqhw.verification import rtl_vs_original

    model = export(name, tmp_path / f"{name}.onnx")
    x, y = frames(name, N)
    fpath = tmp_path / "frames.npz"
    np.savez(fpath, images=x, labels=y)
    out = build(BuildOptions(model=str(model), out=str(tmp_path / "build"), frames=str(fpath),
                             input_scale=INPUT_SCALE, verify_frames=32, exec_frames=2,
                             target_fps=TEST_FPS))
    info = json.loads((out / "build.json").read_text())
    assert info["rtl"]["proof"]["mismatches"] == 0
    assert json.loads((out / "report" / "summary.json").read_text())["resources"]["estimated"]["DSP"] == 0
    r = rtl_vs_original(out, x, tmp_path / "work")
    assert r["passed"] and r["frames"] == N, r
    assert r["class_disagreements_at_ties"] <= N // 10, r  # ties are the exception, not the rule
    # not a degenerate network: the frames do not all get one class
    from dqhw.golden import GoldenModel

    assert len(set(GoldenModel.from_build(out).run(x).labels.tolist())) >= 2
