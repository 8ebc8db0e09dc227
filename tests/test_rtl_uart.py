"""cocotb test of rtl/dqhw_uart_axis.v, the UART <-> AXI-Stream bridge of dqhw's ECP5 board tops
(sim/test_dqhw_uart_axis.py), and its lint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dqhw.resources import hw_dir
from dqhw.simulate.verilator import lint, run_cocotb

pytestmark = pytest.mark.rtl


@pytest.mark.parametrize("cpb,in_bytes,out_bytes,seed", [(8, 1, 1, 1), (5, 3, 2, 2)])
def test_uart_axis(tmp_path, cpb, in_bytes, out_bytes, seed):
    params = {"CLKS_PER_BIT": cpb, "IN_BYTES": in_bytes, "OUT_BYTES": out_bytes}
    result = run_cocotb(
        sources=[hw_dir("rtl") / "dqhw_uart_axis.v"], toplevel="dqhw_uart_axis", test_module="test_dqhw_uart_axis",
        build_dir=tmp_path / "build", test_dir=tmp_path / "run", parameters=params,
        extra_env={"DQHW_TB_CFG": json.dumps(params | {"BEATS": 24, "SEED": seed})}, python_path=[hw_dir("sim")],
    )
    if not result.passed:
        log = Path(result.log).read_text(errors="replace")[-3000:] if result.log else ""
        pytest.fail(f"{result.message}\n{log}")
    assert result.tests == 3


@pytest.mark.parametrize("params", [{}, {"CLKS_PER_BIT": 434, "IN_BYTES": 3, "OUT_BYTES": 2}, {"OUT_BYTES": 5}])
def test_uart_axis_lints_clean(params):
    r = lint([hw_dir("rtl") / "dqhw_uart_axis.v"], top="dqhw_uart_axis", parameters=params)
    assert r.clean, r.output


def test_uart_axis_bad_parameters_stop_elaboration():
    r = lint([hw_dir("rtl") / "dqhw_uart_axis.v"], top="dqhw_uart_axis", parameters={"CLKS_PER_BIT": 3})
    assert r.returncode != 0 and any("USERFATAL" in w for w in r.warnings), r.output
