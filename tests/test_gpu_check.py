"""bench/gpu_check.sh: its CPU smoke mode runs dqhw's training step on a WRN-28-1 and refuses the projection
without CUDA; the projection's formula (dqhw.reproduce.estimate.gpu_projection) on configs/cifar10-paper.toml."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from dqhw.reproduce.config import load_config
from dqhw.reproduce.estimate import gpu_projection, makespan
from dqhw.reproduce.plan import make_plan

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the script would run the real check")
def test_gpu_check_tiny_on_cpu_refuses_the_projection(tmp_path):
    out = tmp_path / "check.json"
    proc = subprocess.run([str(ROOT / "bench" / "gpu_check.sh"), "--tiny", "--json", str(out)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CPU-only build" in proc.stdout or "sees no GPU" in proc.stdout
    assert "projection of cifar10-paper.toml refused: measured on the CPU, not a GPU" in proc.stdout
    res = json.loads(out.read_text())
    assert res["device"] == "cpu" and res["model"] == "WRN-28-1" and res["images_per_s"] > 0
    assert res["projection"] is None
    full = subprocess.run([str(ROOT / "bench" / "gpu_check.sh")], capture_output=True, text=True, timeout=600)
    assert full.returncode == 2
    assert [line for line in full.stderr.splitlines() if line.strip()] == [
        line for line in full.stderr.splitlines() if line.startswith("gpu_check: error: no CUDA GPU")]


def test_projection_formula_on_the_paper_config():
    cfg = load_config(ROOT / "configs" / "cifar10-paper.toml")
    units = make_plan(cfg, Path("/nonexistent"), hardware=False)
    slow = gpu_projection(cfg, units, 500.0, "wrn28", 1.0, 8)
    fast = gpu_projection(cfg, units, 1000.0, "wrn28", 1.0, 8)
    total = sum(slow["seconds_by_kind"].values())
    assert slow["one_gpu_seconds"] == pytest.approx(total)  # one GPU runs the units one after another
    # N GPUs: no faster than the work spread evenly or than the longest unit, never slower than one GPU
    assert max(total / 8, slow["longest_unit_seconds"]) <= slow["n_gpu_seconds"] <= total
    # training dominates and scales with the measured rate: twice the images/s, about half the time
    assert slow["seconds_by_kind"]["train"] > slow["seconds_by_kind"]["eval"]
    assert fast["seconds_by_kind"]["train"] == pytest.approx(slow["seconds_by_kind"]["train"] / 2, rel=0.01)


def test_makespan_respects_dependencies():
    from dqhw.reproduce.plan import Unit

    a, b, c = Unit("a", "train", "a", {}), Unit("b", "train", "b", {}), Unit("c", "eval", "c", {}, deps=["a"])
    secs = {"a": 10.0, "b": 10.0, "c": 5.0}
    assert makespan([a, b, c], secs, 1) == 25.0
    assert makespan([a, b, c], secs, 2) == 15.0  # c waits for a, not for b
    assert makespan([a, b, c], secs, 3) == 15.0
