"""`dqhw build --stop-step / --start-step`: a build stopped after a step and restarted from its
intermediates ends where the uninterrupted build ends (the same dataflow graph, the same RTL byte
for byte), and bad step names fail in one line."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from dqhw.flow.step_table import steps
from tests.build_helpers import TEST_FPS, built, run_dir
from tests.conftest import assert_one_line_error, run_cli

RUN = dict(bits="2", wbits="2", seed=2)  # the build test_build_pipeline also uses (cached per session)


def _args(run: Path, out: Path, *extra) -> list:
    # the options of tests.build_helpers.built
    return ["build", run, "--out", out, "--target-fps", TEST_FPS, "--verify-frames", 16, "--exec-frames", 4,
            "--no-rtl", "--quiet", *extra]


def test_stop_then_start_gives_the_uninterrupted_build(tmp_path, capsys):
    full = built("thr_b2", **RUN)
    run, out = run_dir("thr_b2", **RUN), tmp_path / "b"
    code, stdout, err = run_cli(_args(run, out, "--stop-step", "dqhw_nodes"), capsys)
    assert code == 0, err
    info = json.loads((out / "build.json").read_text())
    assert info["stopped_after"] == "dqhw_nodes" and info["steps"][-1]["step"] == "dqhw_nodes"
    assert not (out / "dataflow.onnx").exists() and not (out / "report" / "summary.json").exists()
    assert "stopped after dqhw_nodes" in stdout

    code, _, err = run_cli(_args(run, out, "--start-step", "insert_dwc_fifo"), capsys)
    assert code == 0, err
    info = json.loads((out / "build.json").read_text())
    assert "stopped_after" not in info
    assert [s["step"] for s in info["steps"]] == [s.name for s in steps(rtl=False)]
    assert all(s.get("restarted") for s in info["steps"][:17]) and not info["steps"][17].get("restarted")
    assert _graph(out / "dataflow.onnx") == _graph(full / "dataflow.onnx")
    for f in ("folding_config.json", "model.qonnx.onnx"):
        assert (out / f).read_bytes() == (full / f).read_bytes(), f
    a, b = (json.loads((d / "report" / "summary.json").read_text()) for d in (out, full))
    assert a["layers"] == b["layers"] and a["verification"]["passed"] and a["verification"] == b["verification"]


def _graph(path: Path) -> tuple:
    """The graph up to the names of the tensors finn inserts (drawn from Python's unseeded random, so
    they differ between any two builds): every node's type, name and attributes, every initializer."""
    import onnx
    from onnx import numpy_helper

    g = onnx.load(str(path)).graph
    nodes = [(n.op_type, n.name, n.domain, [a.SerializeToString() for a in n.attribute]) for n in g.node]
    inits = sorted((t.name, numpy_helper.to_array(t).tobytes()) for t in g.initializer)
    return nodes, inits


def test_bad_step_names_fail_in_one_line(tmp_path, capsys):
    run, out = run_dir("thr_b2", **RUN), tmp_path / "b"
    code, _, err = run_cli(_args(run, out, "--stop-step", "nope"), capsys)
    assert_one_line_error(code, err, "--stop-step nope: no such step")
    code, _, err = run_cli(_args(run, out, "--start-step", "verify"), capsys)
    assert_one_line_error(code, err, "restarts an existing build")
    full = built("thr_b2", **RUN)
    shutil.copytree(full, out)
    shutil.rmtree(out / "intermediate")
    code, _, err = run_cli(_args(run, out, "--start-step", "verify"), capsys)
    assert_one_line_error(code, err, "is missing")
    code, _, err = run_cli(_args(run, out, "--start-step", "verify", "--stop-step", "folding"), capsys)
    assert_one_line_error(code, err, "comes before")


@pytest.mark.rtl
def test_restart_at_generate_rtl_rewrites_the_same_rtl(tmp_path, capsys):
    """A whole RTL build, then generate_rtl .. the end again from its intermediates: the same sealed
    files, proven again."""
    run, out = run_dir("thr_b2", **RUN), tmp_path / "b"
    args = ["build", run, "--out", out, "--target-fps", TEST_FPS, "--verify-frames", 16, "--exec-frames", 4,
            "--no-synth", "--quiet"]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err

    def digest() -> dict:
        return {str(p.relative_to(out / "rtl")): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((out / "rtl").rglob("*")) if p.is_file()}

    before = digest()
    code, _, err = run_cli(args + ["--start-step", "generate_rtl"], capsys)
    assert code == 0, err
    assert digest() == before
    info = json.loads((out / "build.json").read_text())
    assert info["rtl"]["proof"]["passed"] and info["rtl"]["proof"]["mismatches"] == 0
    names = [s["step"] for s in info["steps"] if not s.get("restarted")]
    assert names[0] == "generate_rtl" and "size_fifos" not in names
