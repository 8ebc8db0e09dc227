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
DIGITS_BUILD_FPS = 2_000
DIGITS_BUILD_BOARD = "ulx3s-85f"


@pytest.fixture(scope="session")
def digits_build(trained_run, tmp_path_factory) -> Path:
    """`trained_run` built for the ULX3S at DIGITS_BUILD_FPS (its default 50 MHz clock): FIFO sizing,
    the RTL proof, then place_route (synth_ecp5, nextpnr-ecp5, ecppack: DIR/board/dqhw.bit). One build
    for every test that reads a build directory (rtl/, dataflow.onnx, report/, board/); its synthesis and
    place-and-route cache is DIR/../cache."""
    root = tmp_path_factory.mktemp("digits-build")
    out = root / "build"
    with pytest.MonkeyPatch.context() as mp:  # a fresh cache: the tools run for real, and later calls hit it
        mp.setenv("DQHW_SYNTH_CACHE", str(root / "cache"))
        code = cli_main(["build", str(trained_run), "--board", DIGITS_BUILD_BOARD, "--out", str(out),
                         "--target-fps", str(DIGITS_BUILD_FPS), "--quiet"])
    assert code == 0, "dqhw build of the digits run failed"
    return out


@pytest.fixture(scope="session")
def digits_build_pynq(trained_run, tmp_path_factory) -> Path:
    """`trained_run` built for the pynq-z2 at DIGITS_BUILD_FPS (the RTL proof, no synthesis, no
    Vivado): the xc7 gate-level proof's build (tests/test_gate.py)."""
    out = tmp_path_factory.mktemp("digits-build-pynq") / "build"
    code = cli_main(["build", str(trained_run), "--board", "pynq-z2", "--out", str(out),
                     "--target-fps", str(DIGITS_BUILD_FPS), "--no-synth", "--quiet"])
    assert code == 0, "dqhw build of the digits run for pynq-z2 failed"
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
