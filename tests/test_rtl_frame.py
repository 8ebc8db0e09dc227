"""cocotb test of rtl/dqhw_frame.v, the framing layer of the host link (sim/test_dqhw_frame.py: good
and damaged frames under random stalls), and its lint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dqhw.resources import hw_dir
from dqhw.simulate.verilator import lint, run_cocotb

pytestmark = pytest.mark.rtl

FRAME = hw_dir("rtl") / "dqhw_frame.v"


@pytest.mark.parametrize("in_bytes,frame_bytes,out_bytes,out_beats,qw,seed", [
    (1, 5, 1, 1, 2, 1),   # the digits board top's shape: 1-byte beats, a 1-byte class
    (2, 6, 2, 3, 1, 2),   # multi-byte beats both ways, a 2-entry status queue
    (3, 9, 4, 2, 2, 3),   # logits-like: several wide result beats
])
def test_frame(tmp_path, in_bytes, frame_bytes, out_bytes, out_beats, qw, seed):
    params = {"IN_BYTES": in_bytes, "FRAME_BYTES": frame_bytes, "OUT_BYTES": out_bytes, "OUT_BEATS": out_beats,
              "QW": qw}
    result = run_cocotb(
        sources=[FRAME], toplevel="dqhw_frame", test_module="test_dqhw_frame",
        build_dir=tmp_path / "build", test_dir=tmp_path / "run", parameters=params,
        extra_env={"DQHW_TB_CFG": json.dumps(params | {"FRAMES": 40, "SEED": seed})}, python_path=[hw_dir("sim")],
    )
    if not result.passed:
        log = Path(result.log).read_text(errors="replace")[-3000:] if result.log else ""
        pytest.fail(f"{result.message}\n{log}")
    assert result.tests == 3


@pytest.mark.parametrize("params", [
    {}, {"IN_BYTES": 1, "FRAME_BYTES": 64, "OUT_BYTES": 1, "OUT_BEATS": 1, "QW": 4},
    {"IN_BYTES": 3, "FRAME_BYTES": 3072, "OUT_BYTES": 5, "OUT_BEATS": 2, "QW": 3},
])
def test_frame_lints_clean(params):
    r = lint([FRAME], top="dqhw_frame", parameters=params)
    assert r.clean, r.output


def test_frame_bad_parameters_stop_elaboration():
    r = lint([FRAME], top="dqhw_frame", parameters={"IN_BYTES": 3, "FRAME_BYTES": 10})
    assert r.returncode != 0 and any("USERFATAL" in w for w in r.warnings), r.output
