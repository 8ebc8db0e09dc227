"""A simulated board for `dqhw run`: the build's Verilated ECP5 board top (dqhw_board_top: UART pins,
dqhw_uart_axis, dqhw_frame, the accelerator) behind a pseudo-terminal, so that the host command talks
to the same RTL a bitstream carries, through pyserial, with no board and no vendor tool.

    python -m dqhw.hostlink_sim BUILD [--clks-per-bit N]   prints the pty's path, runs until Ctrl-C

The board top is rendered from the same template as the bitstream's (dqhw.synth.ecp5.board_top_text)
but with a few clocks per UART bit (the bitstream's divider is its clock / baud) and the oscillator
as the clock (flows/ecp5/clock_direct.v.in). The C++ main (sim/uart_pty_main.cpp.in) moves bytes
between the pty master and the rx/tx pins bit-serially.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.resources import hw_dir

SIM_CLKS_PER_BIT = 8
EXE = "Vdqhw_board_top"
MAX_SECONDS = 1800  # the bridge ends itself after this much wall time


def board_sources(build_dir: Path, work: Path, clks_per_bit: int) -> list[Path]:
    """The board top and clock for simulation in `work`, then the build's RTL and the host link's modules."""
    from dqhw.boards import get_board
    from dqhw.rtlgen.generate import Design
    from dqhw.simulate.bulk_build import rtl_sources
    from dqhw.synth import ecp5

    rtl = build_dir / "rtl"
    design = Design.load(rtl)
    board = get_board(_board_name(build_dir))
    if getattr(board, "ecp5", None) is None:
        board = get_board("ulx3s-85f")  # a board without an ECP5 top: the ULX3S's (only comments differ)
    mhz = board.ecp5.osc_mhz
    work.mkdir(parents=True, exist_ok=True)
    (work / "dqhw_board_top.v").write_text(
        ecp5.board_top_text(design, board, mhz, f"the {mhz:g} MHz oscillator (simulation)", clks_per_bit))
    (work / "dqhw_clock.v").write_text(ecp5.render("clock_direct.v.in", {"BOARD": board.name,
                                                                          "OSC_MHZ": f"{mhz:g}"}))
    link = [hw_dir("rtl") / f for f in ecp5.HOST_LINK_FILES]
    return rtl_sources(rtl, design) + link + [work / "dqhw_clock.v", work / "dqhw_board_top.v"]


def _board_name(build_dir: Path) -> str:
    try:
        return json.loads((build_dir / "build.json").read_text())["board"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return "ulx3s-85f"


def main_cpp(clks_per_bit: int) -> str:
    text = (hw_dir("sim") / "uart_pty_main.cpp.in").read_text()
    return text.replace("@CLKS_PER_BIT@", str(int(clks_per_bit))).replace("@MAX_SECONDS@", f"{MAX_SECONDS:.1f}")


def build_board_sim(build_dir: str | Path, work: str | Path, clks_per_bit: int = SIM_CLKS_PER_BIT) -> Path:
    """Verilate + compile the board top with the pty bridge into work/exe (cached by content); the
    build's memory files are copied next to it (the ROMs are read from the working directory)."""
    from dqhw.rtlgen.generate import Design
    from dqhw.simulate.cpp_harness import HARNESS_ARGS
    from dqhw.simulate.verilator import build_executable

    build_dir, work = Path(build_dir).resolve(), Path(work).resolve()
    if clks_per_bit < 4:
        raise DqhwError(f"--clks-per-bit must be >= 4 (dqhw_uart_axis), got {clks_per_bit}")
    sources = board_sources(build_dir, work / "src", clks_per_bit)
    cpp = main_cpp(clks_per_bit)
    h = hashlib.sha256(json.dumps([list(HARNESS_ARGS), cpp]).encode())
    for src in sources:
        h.update(src.name.encode())
        h.update(src.read_bytes())
    exe, _ = build_executable(work / "exe", h.hexdigest(), cpp, sources, "dqhw_board_top", list(HARNESS_ARGS), EXE,
                              what="board simulation")
    for name in Design.load(build_dir / "rtl").data_files:
        shutil.copyfile(build_dir / "rtl" / name, work / "exe" / name)
    return exe


class BoardSim:
    """`with BoardSim(exe) as sim:` the simulated board runs; `sim.port` is the pty to open with
    pyserial; on exit the bridge stops and `sim.stats` holds its counts (cycles, bytes each way)."""

    def __init__(self, exe: Path):
        self.exe = Path(exe)
        self.proc: subprocess.Popen | None = None
        self.port = ""
        self.stats: dict = {}

    def __enter__(self) -> BoardSim:
        self.proc = subprocess.Popen([str(self.exe)], cwd=self.exe.parent, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        try:
            self.port = json.loads(line)["pty"]
        except (ValueError, KeyError, TypeError):
            self.proc.kill()
            raise DqhwError(f"board simulation did not start: {line.strip() or 'no output'}") from None
        return self

    def __exit__(self, *exc) -> None:
        out, _ = self.proc.communicate(timeout=60)  # closes stdin: the bridge stops
        line = next((x for x in reversed(out.splitlines()) if x.startswith("{")), "{}")
        self.stats = json.loads(line)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(prog="python -m dqhw.hostlink_sim", description=__doc__.splitlines()[0])
    ap.add_argument("build")
    ap.add_argument("--clks-per-bit", type=int, default=SIM_CLKS_PER_BIT)
    args = ap.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="dqhw-board-sim-") as work:
            print("building the board simulation (Verilator) ...", flush=True)
            exe = build_board_sim(args.build, work, args.clks_per_bit)
            with BoardSim(exe) as sim:
                print(f"board on {sim.port}: dqhw run {args.build} --port {sim.port} --frames F.npz "
                      "(Ctrl-C stops it)", flush=True)
                try:
                    sim.proc.wait()
                except KeyboardInterrupt:
                    pass
    except DqhwError as e:
        print(f"python -m dqhw.hostlink_sim: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
