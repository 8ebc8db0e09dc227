"""The hardware twin of the paper's setting: `dqhw train --bits 2 --wbits 8` (A2W8) on digits builds with
`dqhw build` (the build's own RTL proof: every logit of its proof frames, RTL vs golden model) and runs
through `dqhw sim` with 0 mismatches. Measured on the shared 2-core machine (load average ~7): 8 s training
(the session fixture), 52 s for the build (folded for 10,000 FPS) and the 8-frame simulation (cocotb,
including Verilator's compile)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.rtl]


def test_a2w8_builds_bit_exact(trained_w8_run, tmp_path, capsys):
    cfg = json.loads((trained_w8_run / "config.json").read_text())
    assert (cfg["bits"], cfg["wbits"], cfg["act_range"]) == ("2", "8", "fixed")
    build = tmp_path / "build"
    code, _, err = run_cli(["build", trained_w8_run, "--out", build, "--target-fps", "10000", "--verify-frames", "16",
                            "--exec-frames", "2", "--no-synth", "--quiet"], capsys)
    assert code == 0, err
    info = json.loads((build / "build.json").read_text())
    proof = info["rtl"]["proof"]
    assert proof["passed"] and proof["mismatches"] == 0 and proof["frames"] >= 16
    assert all(s["logit_mismatches"] == 0 and s["label_mismatches"] == 0 for s in proof["sets"])
    # the built graph's matrix-vector units hold 8-bit weights and emit 2-bit activations (the last one logits)
    import onnx

    mvaus = [{a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
             for n in onnx.load(build / "dataflow.onnx").graph.node if "MVAU" in n.op_type]
    assert len(mvaus) >= 2 and all(m["weightDataType"] == b"INT8" for m in mvaus)
    assert all(m["outputDataType"] == b"UINT2" for m in mvaus[:-1])

    code, out, err = run_cli(["sim", build, "--limit", "8", "--quiet"], capsys)
    assert code == 0, err
    report = json.loads((build / "sim" / "report.json").read_text())
    assert report["passed"] and report["total_mismatches"] == 0 and report["total_frames"] == 8
    assert all(s["rtl_accuracy"] == s["golden_accuracy"] for s in report["sets"])
