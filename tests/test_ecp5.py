"""ECP5 boards with the open flow (dqhw.synth.ecp5): the boards as data, and a digits build for the
ULX3S (conftest.digits_build: synth_ecp5 -> nextpnr-ecp5 -> ecppack, at its default 50 MHz from the
25 MHz oscillator through an EHXPLLL) whose routed design meets its clock, whose bitstream ecpunpack
reads back, with no vendor tool on PATH; the place_route cache; one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from dqhw.boards import BOARDS, get_board
from dqhw.errors import DqhwError
from dqhw.synth import ecp5
from tests.conftest import assert_one_line_error, run_cli

VENDOR_TOOLS = ("vivado", "vivado_hls", "vitis_hls", "diamondc", "pnmainc", "radiantc", "quartus_sh", "ddtcmd")


def test_ecp5_boards_are_data():
    u, o = get_board("ulx3s-85f"), get_board("orangecrab-25f")
    assert (u.family, u.part, u.ecp5.device, u.ecp5.package, u.ecp5.speed) == ("ecp5", "LFE5U-85F-6BG381C", "85k",
                                                                                "CABGA381", 6)
    assert (u.lut, u.ff, u.bram18, u.dsp, u.clock_mhz) == (83_640, 83_640, 208, 156, 50.0)
    assert (u.ecp5.osc_mhz, u.ecp5.osc_pin, u.ecp5.uart_tx_pin, u.ecp5.uart_rx_pin) == (25.0, "G2", "L4", "M1")
    assert (o.part, o.ecp5.device, o.ecp5.package, o.ecp5.speed, o.ecp5.osc_pin) == ("LFE5U-25F-8MG285C", "25k",
                                                                                      "CSFBGA285", 8, "A9")
    assert (o.lut, o.ff, o.bram18, o.dsp, round(o.clock_mhz, 6)) == (24_288, 24_288, 56, 28, 48.0)
    # the resource model (xc7 LUT6) sees the ECP5 LUT4s converted; finn sees an xc7 part
    assert u.model_lut == int(u.lut / u.lut_per_model_lut) and u.finn_part.startswith("xc7")
    assert BOARDS["pynq-z2"].model_lut == BOARDS["pynq-z2"].lut and BOARDS["pynq-z2"].finn_part == "xc7z020clg400-1"
    for b in (u, o):
        values = {"BOARD": b.name, "PART": b.part, "OSC_PIN": b.ecp5.osc_pin, "OSC_MHZ": f"{b.ecp5.osc_mhz:g}",
                  "UART_TX_PIN": b.ecp5.uart_tx_pin, "UART_RX_PIN": b.ecp5.uart_rx_pin}
        lpf = ecp5.render(b.ecp5.lpf, values)
        for port, pin in (("clk_osc", b.ecp5.osc_pin), ("uart_tx", b.ecp5.uart_tx_pin),
                          ("uart_rx", b.ecp5.uart_rx_pin)):
            assert f'LOCATE COMP "{port}" SITE "{pin}";' in lpf
        assert f'FREQUENCY PORT "clk_osc" {b.ecp5.osc_mhz:g} MHZ;' in lpf


@pytest.mark.slow
@pytest.mark.rtl
def test_ulx3s_digits_build_routes_meets_timing_and_unpacks(digits_build, tmp_path):
    for tool in VENDOR_TOOLS:
        assert shutil.which(tool) is None, f"vendor tool {tool} on PATH"
    info = json.loads((digits_build / "build.json").read_text())
    steps = [s["step"] for s in info["steps"]]
    assert "place_route" in steps and "board_package" not in steps
    assert info["board"]["name"] == "ulx3s-85f" and info["rtl"]["proof"]["mismatches"] == 0
    pr = json.loads((digits_build / "report" / "place_route.json").read_text())
    summary = json.loads((digits_build / "report" / "summary.json").read_text())
    assert summary["place_route"]["timing"] == pr["timing"]
    assert not pr["cached"], "the fixture's cache is fresh: the tools ran"
    assert set(pr["tool_seconds"]) == {"yosys", "nextpnr", "ecppack"}
    # utilization from placement, nextpnr's own counts of the LFE5U-85F
    u = pr["utilization"]
    assert u["LUT4"]["available"] == 83_640 and 0 < u["LUT4"]["used"] < 83_640
    assert u["FF"]["used"] > 0 and u["EBR"]["available"] == 208 and u["PLL"]["used"] == 1
    # the 50 MHz clock comes from the 25 MHz oscillator through ecppll's EHXPLLL, and is met
    assert pr["board_files"]["clock_mhz"] == 50.0 and "EHXPLLL" in (digits_build / "board/dqhw_clock.v").read_text()
    (clk,) = pr["timing"]["clocks"]
    assert clk["target_mhz"] == 50.0 and clk["achieved_mhz"] >= 50.0 and clk["met"] and pr["timing"]["met"]
    assert clk["critical_path"]["delay_ns"] > 0 and clk["critical_path"]["stage"]
    # the bitstream reads back: the LFE5U-85F's configuration
    bit = digits_build / "board" / "dqhw.bit"
    assert bit.stat().st_size == pr["bitstream_bytes"] > 100_000
    shutil.copyfile(bit, tmp_path / "dqhw.bit")  # the WebAssembly tools see their working directory only
    proc = subprocess.run(ecp5.tool_command("yowasp-ecpunpack") + ["dqhw.bit", "unpacked.config"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (tmp_path / "unpacked.config").read_text()
    assert text.startswith(".device LFE5U-85F") and ".tile " in text
    lpf = (digits_build / "board" / "ulx3s-85f.lpf").read_text()
    assert 'SITE "G2"' in lpf and 'SITE "L4"' in lpf and 'SITE "M1"' in lpf


@pytest.mark.slow
@pytest.mark.rtl
def test_place_route_is_cached_and_timing_misses_fail_in_one_line(digits_build, tmp_path, monkeypatch):
    copy = tmp_path / "build"
    shutil.copytree(digits_build, copy)
    monkeypatch.setenv("DQHW_SYNTH_CACHE", str(digits_build.parent / "cache"))
    lines: list[str] = []
    t0 = time.time()
    data = ecp5.place_route(copy, get_board("ulx3s-85f"), 50.0, progress=lines.append)
    assert data["cached"] and time.time() - t0 < 60 and any("cached" in m for m in lines)
    first = json.loads((digits_build / "report" / "place_route.json").read_text())
    assert data["utilization"] == first["utilization"] and data["timing"] == first["timing"]
    assert (copy / "board" / "dqhw.bit").read_bytes() == (digits_build / "board" / "dqhw.bit").read_bytes()
    assert ecp5.check_timing(data, allow_fail=False) is None
    # the same routed design judged against a clock above its Fmax: one line naming the clock and stage
    report = json.loads((digits_build / "report" / "nextpnr_report.json").read_text())
    for f in report["fmax"].values():
        f["constraint"] = f["achieved"] * 1.5
    _, data["timing"] = ecp5.read_report(report)
    assert not data["timing"]["met"]
    with pytest.raises(DqhwError) as e:
        ecp5.check_timing(data, allow_fail=False)
    msg = str(e.value)
    assert "\n" not in msg and "misses timing" in msg and "--allow-timing-fail" in msg
    assert data["timing"]["clocks"][0]["critical_path"]["stage"] in msg
    assert ecp5.check_timing(data, allow_fail=True).startswith("--allow-timing-fail: ")


def test_ecp5_bad_input_is_one_line(trained_run, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["build", trained_run, "--board", "ulx3s-85f", "--clock-mhz", "0", "--out",
                            tmp_path / "b", "--quiet"], capsys)
    assert_one_line_error(code, err, "--clock-mhz must be > 0")
    code, _, err = run_cli(["build", trained_run, "--board", "ecp5-nonexistent", "--out", tmp_path / "b",
                            "--quiet"], capsys)
    assert_one_line_error(code, err, "unknown board")
    # a tool of the flow that is not installed: named, with what to install, before the build starts
    monkeypatch.setitem(ecp5.TOOL_PACKAGES, "yowasp-nextpnr-nonexistent", "yowasp-nextpnr-nonexistent")
    code, _, err = run_cli(["build", trained_run, "--board", "ulx3s-85f", "--out", tmp_path / "b", "--quiet"],
                           capsys)
    assert_one_line_error(code, err, "place_route needs yowasp-nextpnr-nonexistent")
    assert not (tmp_path / "b").exists()
