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
