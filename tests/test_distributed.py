"""Data-parallel training on CPU: `torchrun --standalone --nproc_per_node 2 -m dqhw train ...` with the
gloo backend. Rank 0 alone writes the run; the run loads and builds like any other."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.build_helpers import TEST_FPS
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def _torchrun() -> list[str]:
    exe = Path(sys.executable).with_name("torchrun")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "torch.distributed.run"]


def test_torchrun_two_processes_train_a_run_that_builds(tmp_path, capsys):
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([*_torchrun(), "--standalone", "--nproc_per_node", "2", "-m", "dqhw", "train",
                           "--bits", "2", "--epochs", "2", "--out", str(run), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # one summary line, from rank 0, after the run is complete
    lines = [line for line in proc.stdout.splitlines() if line.startswith("run ")]
    assert len(lines) == 1, proc.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    config = json.loads((run / "config.json").read_text())
    assert config["extra"].get("world_size") == 2, config  # the run records how it was trained
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temp files of other ranks

    from dqhw.runs import load_run

    loaded = load_run(run)
    from dqhw.data import load_dataset
    from dqhw.infer import accuracy

    d = load_dataset("digits")
    assert accuracy(loaded.model, d.x_test, d.y_test) == pytest.approx(metrics["test_acc"])
    build = tmp_path / "build"
    code, _, err = run_cli(["build", run, "--board", "pynq-z2", "--out", build, "--target-fps", TEST_FPS,
                            "--verify-frames", 16, "--quiet"], capsys)
    assert code == 0, err
    assert (build / "rtl" / "design.json").is_file()  # built, verified and proven on the RTL
    shutil.rmtree(build / "sim", ignore_errors=True)
