"""Shared fixtures: small trained runs on digits, made once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dqhw.cli import main as cli_main


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A 2-bit DQ tiny run on digits, few epochs (for tests that need any trained model)."""
    from dqhw.config import TrainConfig
    from dqhw.train import train

    out = tmp_path_factory.mktemp("runs") / "a2"
    return train(TrainConfig(bits="2", epochs=4, out=str(out)), progress=False)


# the cheapest design reaching this rate: a small accelerator (quick Verilator, Yosys and nextpnr runs)
DIGITS_BUILD_FPS = 10_000


@pytest.fixture(scope="session")
def digits_build(trained_run, tmp_path_factory) -> Path:
    """`trained_run` built with RTL (FIFO sizing, the RTL proof) at DIGITS_BUILD_FPS, no synthesis: a
    build directory with rtl/, dataflow.onnx and report/ for the tools that read one."""
    out = tmp_path_factory.mktemp("digits-build") / "build"
    code = cli_main(["build", str(trained_run), "--out", str(out), "--target-fps", str(DIGITS_BUILD_FPS),
                     "--no-synth", "--quiet"])
    assert code == 0, "dqhw build of the digits run failed"
    return out


@pytest.fixture(scope="session")
def trained_w8_run(tmp_path_factory) -> Path:
    """`dqhw train --bits 2 --wbits 8` on digits: the paper's 2-bit activations with 8-bit weights (the
    hardware twin of a float-weight A2 net), tiny model, 3 epochs (5-8 s)."""
    out = tmp_path_factory.mktemp("runs") / "a2w8"
    code = cli_main(["train", "--bits", "2", "--wbits", "8", "--epochs", "3", "--out", str(out), "--quiet"])
    assert code == 0, "dqhw train --bits 2 --wbits 8 failed"
    return out


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
