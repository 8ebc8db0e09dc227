"""Shared fixtures: small trained runs on digits, made once per session."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from dqhw.cli import main as cli_main


def shared_once(tmp_path_factory, name: str, make: Callable[[Path], Path]) -> Path:
    """`make(DIR)` once per test session, also across pytest-xdist workers (`make test` runs two): the
    first caller makes it under a file lock in the session's shared temp folder, later callers (any
    worker) wait for it and get its result. A failed make leaves no done marker, so the next caller
    retries and fails on its own. Each make/reuse is a line in DIR/../shared_once.log."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's basetemp is a sibling in the session's one
        base = base.parent
    shared = base / "shared"
    shared.mkdir(parents=True, exist_ok=True)
    root, done = shared / name, shared / f"{name}.done"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with FileLock(str(shared / f"{name}.lock")):
        if done.is_file():
            _shared_log(shared, f"{name}: reused by {worker}")
            return Path(done.read_text())
        shutil.rmtree(root, ignore_errors=True)  # what a failed earlier attempt left
        root.mkdir()
        t0 = time.monotonic()
        result = Path(make(root))
        tmp = done.with_suffix(".tmp")
        tmp.write_text(str(result))
        tmp.rename(done)  # atomic: a reader sees the whole path or no marker
        _shared_log(shared, f"{name}: made by {worker} in {time.monotonic() - t0:.1f} s")
        return result


def _shared_log(shared: Path, line: str) -> None:
    with (shared / "shared_once.log").open("a") as f:
        f.write(line + "\n")


def pytest_collection_modifyitems(config, items) -> None:
    """Under pytest-xdist (`make test`: -n 2 --dist loadfile --no-loadscope-reorder, files in collection
    order), the files holding `slow` tests (train + build + sim) go first and the quick ones fill in at
    the end, so that the two workers finish together instead of one running a long file alone."""
    if not hasattr(config, "workerinput"):  # not an xdist worker (workers collect; the controller schedules)
        return
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)  # stable: test order within a file is kept


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A 2-bit DQ tiny run on digits, few epochs (for tests that need any trained model)."""
    from dqhw.config import TrainConfig
    from dqhw.train import train

    return shared_once(tmp_path_factory, "trained_run", lambda root: train(
        TrainConfig(bits="2", epochs=4, out=str(root / "a2")), progress=False))


# the cheapest design reaching this rate: a small accelerator (quick Verilator, Yosys and nextpnr runs)
DIGITS_BUILD_FPS = 2_000
DIGITS_BUILD_BOARD = "ulx3s-85f"


@pytest.fixture(scope="session")
def digits_build(trained_run, tmp_path_factory) -> Path:
    """`trained_run` built for the ULX3S at DIGITS_BUILD_FPS (its default 50 MHz clock): FIFO sizing,
    the RTL proof, then place_route (synth_ecp5, nextpnr-ecp5, ecppack: DIR/board/dqhw.bit). One build
    for every test that reads a build directory (rtl/, dataflow.onnx, report/, board/); its synthesis and
    place-and-route cache is DIR/../cache. Tests that write into a build (dqhw sim) use a copy."""
    def make(root: Path) -> Path:
        out = root / "build"
        with pytest.MonkeyPatch.context() as mp:  # a fresh cache: the tools run for real, later calls hit it
            mp.setenv("DQHW_SYNTH_CACHE", str(root / "cache"))
            code = cli_main(["build", str(trained_run), "--board", DIGITS_BUILD_BOARD, "--out", str(out),
                             "--target-fps", str(DIGITS_BUILD_FPS), "--quiet"])
        assert code == 0, "dqhw build of the digits run failed"
        return out

    return shared_once(tmp_path_factory, "digits_build", make)


@pytest.fixture(scope="session")
def digits_build_pynq(trained_run, tmp_path_factory) -> Path:
    """`trained_run` built for the pynq-z2 at DIGITS_BUILD_FPS (the RTL proof, no synthesis, no
    Vivado): the xc7 gate-level proof's build (tests/test_gate.py)."""
    def make(root: Path) -> Path:
        code = cli_main(["build", str(trained_run), "--board", "pynq-z2", "--out", str(root / "build"),
                         "--target-fps", str(DIGITS_BUILD_FPS), "--no-synth", "--quiet"])
        assert code == 0, "dqhw build of the digits run for pynq-z2 failed"
        return root / "build"

    return shared_once(tmp_path_factory, "digits_build_pynq", make)


@pytest.fixture(scope="session")
def trained_w8_run(tmp_path_factory) -> Path:
    """`dqhw train --bits 2 --wbits 8` on digits: the paper's 2-bit activations with 8-bit weights (the
    hardware twin of a float-weight A2 net), tiny model, 3 epochs (5-8 s)."""
    def make(root: Path) -> Path:
        code = cli_main(["train", "--bits", "2", "--wbits", "8", "--epochs", "3", "--out", str(root / "a2w8"),
                         "--quiet"])
        assert code == 0, "dqhw train --bits 2 --wbits 8 failed"
        return root / "a2w8"

    return shared_once(tmp_path_factory, "trained_w8_run", make)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run `dqhw ARGS` in-process; returns (exit code, stdout, stderr)."""
    try:
        code = cli_main([str(a) for a in args])
    except SystemExit as e:  # argparse usage errors
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    sys.stdout.flush()
    return code, out, err


def assert_one_line_error(code: int, err: str, needle: str = "") -> None:
    assert code != 0, "expected a non-zero exit"
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert "Traceback" not in err
    assert needle.lower() in lines[0].lower(), f"{needle!r} not in {lines[0]!r}"
