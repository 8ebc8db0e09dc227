"""cocotb test of rtl/dqhw_stream_fork.v (the logits/label split at the end of dqhw_accel)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dqhw.resources import hw_dir
from dqhw.simulate.verilator import lint, run_cocotb

pytestmark = pytest.mark.rtl


@pytest.mark.parametrize("width,seed", [(8, 1), (37, 2)])
def test_stream_fork(tmp_path, width, seed):
    result = run_cocotb(
        sources=[hw_dir("rtl") / "dqhw_stream_fork.v"], toplevel="dqhw_stream_fork",
        test_module="test_dqhw_stream_fork", build_dir=tmp_path / "build", test_dir=tmp_path / "run",
        parameters={"WIDTH": width}, extra_env={"DQHW_TB_CFG": json.dumps({"WIDTH": width, "BEATS": 300,
                                                                           "SEED": seed})},
        python_path=[hw_dir("sim")],
    )
    if not result.passed:
        log = Path(result.log).read_text(errors="replace")[-3000:] if result.log else ""
        pytest.fail(f"{result.message}\n{log}")
    assert result.tests == 3


def test_stream_fork_illegal_width_stops_elaboration():
    """WIDTH < 1 is an elaboration-time $fatal (Verilator %Warning-USERFATAL, an error)."""
    r = lint([hw_dir("rtl") / "dqhw_stream_fork.v"], top="dqhw_stream_fork", parameters={"WIDTH": 0})
    assert r.returncode != 0, r.output
    assert any("USERFATAL" in w and "WIDTH=0, must be >= 1" in w for w in r.warnings), r.output
