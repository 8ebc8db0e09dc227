"""Issue 28 item 4: bad input that used to end in `internal error` / exit 1 is one line and another
exit code: a 0-byte or truncated frame file (build and sim), a damaged build folder given to
`dqhw sim` (truncated build.json or design.json, an RTL source deleted, a truncated dataflow.onnx), the
hidden `.OUT.tmp-*` folder a killed build leaves (removed by the next build of OUT), a failed build's
log (kept as OUT.failed.log, named on the error line), and a negative --input-scale (supported: built
and bit-exact with qonnx on the original file).

One small model-file build (a Brevitas net written here, `--input-scale -0.5`) serves every test that
needs a build folder; the damaged folders are copies of it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.build_helpers import TEST_FPS
from tests.conftest import assert_one_line_error, run_cli

NEG_SCALE = -0.5
N_FRAMES = 40


def _net(extra=()):
    """conv (3-bit weights) -> BN -> 2-bit QuantReLU -> [extra] -> max pool -> 2-bit linear; no input
    quantizer, so the pixels reach the first layer's thresholds through the input convention."""
    import torch
    import torch.nn as nn
    from brevitas.nn import QuantConv2d, QuantLinear, QuantReLU

    torch.manual_seed(0)
    return nn.Sequential(QuantConv2d(1, 8, 3, bias=False, weight_bit_width=3), nn.BatchNorm2d(8),
                         QuantReLU(bit_width=2), *extra, nn.MaxPool2d(2), nn.Flatten(),
                         QuantLinear(8 * 3 * 3, 10, bias=False, weight_bit_width=2))


def _digits(n: int):
    from dqhw.data import load_dataset

    d = load_dataset("digits")
    return d.x_test[:n], d.y_test[:n]


def _export(net, path: Path, scale: float, x: np.ndarray) -> Path:
    """BatchNorm statistics from the frames under the input convention, then export_qonnx."""
    import torch
    from brevitas.export import export_qonnx

    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.as_tensor(x.transpose(0, 3, 1, 2) * scale, dtype=torch.float32))
    net.eval()
    export_qonnx(net, input_t=torch.zeros(1, 1, 8, 8), export_path=str(path), dynamo=False)
    return path


@pytest.fixture(scope="module")
def neg_model(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("neg")
    x, y = _digits(N_FRAMES)
    frames = root / "frames.npz"
    np.savez(frames, images=x, labels=y)
    return _export(_net(), root / "net.onnx", NEG_SCALE, x), frames


def _dead_temporary(out: Path, size: int = 4096) -> Path:
    """What `kill -9` of a build leaves next to OUT: `.OUT.tmp-XXXX` and its lock file, nobody holding it."""
    tmp = out.with_name(f".{out.name}.tmp-killed0")
    tmp.mkdir(parents=True)
    (tmp / "build.log").write_bytes(b"x" * size)
    tmp.with_name(tmp.name + ".lock").touch()
    return tmp


@pytest.fixture(scope="module")
def neg_build(neg_model, tmp_path_factory) -> Path:
    """`dqhw build net.onnx --input-scale -0.5` into an OUT where a killed build left its temporary and
    an earlier build failed (OUT.failed.log): both are gone after this build succeeds."""
    from dqhw.cli import main

    path, frames = neg_model
    out = tmp_path_factory.mktemp("nb") / "build"
    dead = _dead_temporary(out)
    out.with_name("build.failed.log").write_text("an older failure\n")
    code = main(["build", str(path), "--input-scale", repr(NEG_SCALE), "--frames", str(frames), "--out", str(out),
                 "--target-fps", str(TEST_FPS), "--no-synth", "--quiet"])
    assert code == 0
    assert not dead.exists() and not dead.with_name(dead.name + ".lock").exists()
    assert not out.with_name("build.failed.log").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["build"]
    return out


# --------------------------------------------------------------------------------------------------
# frame files
# --------------------------------------------------------------------------------------------------
def _bad_frame_files(root: Path) -> dict[str, Path]:
    x, _ = _digits(N_FRAMES)
    good = root / "good.npz"
    np.savez(good, images=x)
    data = good.read_bytes()
    files = {"empty": b"", "truncated": data[: len(data) // 2], "tail-cut": data[:-40], "header": data[:12]}
    out = {}
    for name, content in files.items():
        out[name] = root / f"{name}.npz"
        out[name].write_bytes(content)
    return out


def test_empty_or_truncated_frame_file_on_build(neg_model, tmp_path, capsys):
    path, _ = neg_model
    for name, f in _bad_frame_files(tmp_path).items():
        code, _, err = run_cli(["build", path, "--frames", f, "--out", tmp_path / "b", "--quiet"], capsys)
        assert_one_line_error(code, err, "empty file (0 bytes)" if name == "empty" else "truncated")
        assert code == 2 and err.startswith("dqhw build: error: ") and str(f) in err
        assert not (tmp_path / "b").exists()


def test_empty_or_truncated_frame_file_on_sim(neg_build, tmp_path, capsys):
    for name, f in _bad_frame_files(tmp_path).items():
        code, _, err = run_cli(["sim", neg_build, "--frames", f, "--quiet", "--jobs", "1"], capsys)
        assert_one_line_error(code, err, "empty file (0 bytes)" if name == "empty" else "truncated")
        assert code == 2 and err.startswith("dqhw sim: error: ") and str(f) in err


# --------------------------------------------------------------------------------------------------
# a damaged build folder given to `dqhw sim`
# --------------------------------------------------------------------------------------------------
def _truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize("damage, needle", [
    ("build.json truncated", "build.json: truncated or not JSON"),
    ("build.json empty", "build.json: truncated or not JSON"),
    ("build.json a list", "build.json: not a dqhw build record"),
    ("build.json missing", "no build.json"),
    ("rtl source deleted", "dqhw_mvau.v is missing"),
    ("memory file deleted", "_weights.memh is missing"),
    ("design.json truncated", "design.json: truncated or damaged"),
    ("dataflow.onnx truncated", "dataflow.onnx: not a readable ONNX dataflow graph"),
    ("dataflow.onnx deleted", "dataflow.onnx is missing"),
])
def test_damaged_build_folder_on_sim(neg_build, tmp_path, capsys, damage, needle):
    b = tmp_path / "b"
    shutil.copytree(neg_build, b, ignore=shutil.ignore_patterns("sim"))
    rtl = b / "rtl"
    if damage == "build.json truncated":
        _truncate(b / "build.json", 200)
    elif damage == "build.json empty":
        _truncate(b / "build.json", 0)
    elif damage == "build.json a list":
        (b / "build.json").write_text("[1, 2]\n")
    elif damage == "build.json missing":
        (b / "build.json").unlink()
    elif damage == "rtl source deleted":
        (rtl / "dqhw_mvau.v").unlink()
    elif damage == "memory file deleted":
        next(rtl.glob("*_weights.memh")).unlink()
    elif damage == "design.json truncated":
        _truncate(rtl / "design.json", 300)
    elif damage == "dataflow.onnx truncated":
        _truncate(b / "dataflow.onnx", 1000)
    else:
        (b / "dataflow.onnx").unlink()
    code, _, err = run_cli(["sim", b, "--quiet", "--jobs", "1"], capsys)
    assert_one_line_error(code, err, needle)
    assert code == 2 and err.startswith("dqhw sim: error: ")


# --------------------------------------------------------------------------------------------------
# what a killed build leaves; a failed build's log
# --------------------------------------------------------------------------------------------------
def test_killed_writer_leaves_a_temporary_that_the_next_one_removes(tmp_path):
    """A process killed inside atomic_dir (SIGKILL: no cleanup runs) leaves `.OUT.tmp-*`; the next
    atomic_dir of OUT removes it and says so; one still held by a live process is left alone."""
    from dqhw.io import atomic_dir

    out = tmp_path / "out"
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from dqhw.io import atomic_dir
        with atomic_dir({str(out)!r}) as tmp:
            (tmp / "big").write_bytes(b"x" * 100_000)
            print(tmp, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    left = Path(proc.stdout.strip())
    assert left.is_dir() and left.name.startswith(".out.tmp-")
    # a live writer of the same OUT: its lock is held (flock on its own open file)
    live = out.with_name(".out.tmp-live0000")
    live.mkdir()
    lock = live.with_name(live.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    seen = []
    try:
        with atomic_dir(out, on_stale=lambda p, size: seen.append((p, size))) as tmp:
            (tmp / "done").write_text("ok")
    finally:
        os.close(fd)
    assert seen == [(left, 100_000)]
    assert not left.exists() and not left.with_name(left.name + ".lock").exists()
    assert live.is_dir() and lock.exists()
    assert (out / "done").read_text() == "ok"


def test_failed_build_keeps_its_log_and_removes_a_killed_builds_temporary(tmp_path, capsys):
    """A build that fails inside its steps (here check_graph's refusal of an average pool) ends in one
    error line naming OUT.failed.log; the log holds the error and finn's console output. A temporary a
    killed build of OUT left is removed when the build starts (a progress line says so)."""
    import torch.nn as nn

    x, _ = _digits(N_FRAMES)
    path = _export(_net([nn.AvgPool2d(1)]), tmp_path / "avg.onnx", 1.0, x)
    out = tmp_path / "b"
    dead = _dead_temporary(out, size=11_000_000)
    code, _, err = run_cli(["build", path, "--out", out, "--no-rtl"], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err
    assert any(f"removed {dead} (11.0 MB)" in line and "a killed build" in line for line in lines), lines
    log = out.with_name("b.failed.log")
    assert lines[-1].startswith("dqhw build: error: ") and "AveragePool" in lines[-1]
    assert lines[-1].endswith(f"(build log: {log})")
    text = log.read_text()
    assert "AveragePool" in text and "## build.log" in text and "## options" in text
    assert not out.exists() and not dead.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["avg.onnx", "b.failed.log"]
    # --quiet: the error alone, on one line
    code, _, err = run_cli(["build", path, "--out", out, "--no-rtl", "--quiet"], capsys)
    assert_one_line_error(code, err, f"(build log: {log})")


def test_internal_error_names_the_log(tmp_path, capsys, monkeypatch):
    """A bug inside a step (not a user error) stays `internal error` / exit 1, but its line names the
    log, which holds the traceback."""
    from dataclasses import replace

    from dqhw.flow import step_table

    def broken(model, cfg):
        raise ZeroDivisionError("a bug")

    real = step_table.steps

    def patched(*a, **kw):
        return [replace(s, run=broken) if s.name == "check_graph" else s for s in real(*a, **kw)]

    monkeypatch.setattr("dqhw.flow.pipeline.steps", patched)
    x, _ = _digits(N_FRAMES)
    path = _export(_net(), tmp_path / "net.onnx", 1.0, x)
    out = tmp_path / "b"
    code, _, err = run_cli(["build", path, "--out", out, "--no-rtl", "--quiet"], capsys)
    assert_one_line_error(code, err, "internal error: ZeroDivisionError: a bug")
    assert code == 1 and f"build log: {out.with_name('b.failed.log')}" in err
    text = out.with_name("b.failed.log").read_text()
    assert "## traceback" in text and "ZeroDivisionError: a bug" in text


# --------------------------------------------------------------------------------------------------
# a negative input scale: supported, bit-exact
# --------------------------------------------------------------------------------------------------
@pytest.mark.rtl
def test_negative_input_scale_builds_and_is_bit_exact_with_the_original_file(neg_model, neg_build, tmp_path,
                                                                            capsys):
    """graph input = pixel * -0.5: the build's oracles pass, the RTL proof and `dqhw sim` have 0
    mismatches, and the RTL's logits equal qonnx's execution of the file as exported (fed
    pixel * -0.5 here, independently of dqhw's input convention code) up to the output scale."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    from dqhw.simulate.runner import bulk_run

    info = json.loads((neg_build / "build.json").read_text())
    assert info["source"]["input_scale"] == NEG_SCALE and info["rtl"]["proof"]["mismatches"] == 0
    v = json.loads((neg_build / "report" / "summary.json").read_text())["verification"]
    assert v["passed"] and {o["oracle"] for o in v["oracles"] if o["passed"]} >= {"qonnx", "finn_graph"}
    code, _, err = run_cli(["sim", neg_build, "--quiet", "--jobs", "1"], capsys)
    assert code == 0, err
    report = json.loads((neg_build / "sim" / "report.json").read_text())
    assert report["total_mismatches"] == 0 and report["total_frames"] == N_FRAMES
    path, _ = neg_model
    x, _ = _digits(N_FRAMES)
    rtl = bulk_run(neg_build / "rtl", tmp_path / "work", x)
    m = ModelWrapper(str(path)).transform(InferShapes())
    name, out = m.graph.input[0].name, m.graph.output[0].name
    scale = info["outputs"]["logits_scale"]
    q = np.stack([np.asarray(execute_onnx(m, {name: (x[i:i + 1].transpose(0, 3, 1, 2) * NEG_SCALE)
                                              .astype(np.float32)})[out], dtype=np.float64).reshape(-1)
                  for i in range(N_FRAMES)])
    assert np.abs(q / scale - rtl.logits).max() < 1e-3 * max(1, np.abs(rtl.logits).max())
    assert len({tuple(r) for r in rtl.logits}) > N_FRAMES // 2  # not a constant network


def test_input_scale_zero_or_not_finite_is_refused(neg_model, tmp_path, capsys):
    path, _ = neg_model
    for bad in ("0", "nan", "inf"):
        code, _, err = run_cli(["build", path, "--input-scale", bad, "--out", tmp_path / "b", "--quiet"], capsys)
        assert_one_line_error(code, err, "--input-scale must be finite and non-zero")
