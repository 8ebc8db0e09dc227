"""A bare Verilator C++ harness around the bulk testbench `tb_dqhw_accel`: `dqhw sim --engine cpp`
(runner.bulk_run(engine="cpp")) and the reference speed for bench/bench_sim.py (how much the cocotb
bulk path costs over plain Verilator).

A generated main.cpp instantiates Vtb_dqhw_accel, toggles `clk` until `done` (or a cycle cap) and
prints one JSON line with the cycles and the seconds of the loop. It is built with the Verilator
flags of dqhw's cocotb builds (bulk_build.bulk_build_spec; single-threaded model; verilator.build_executable
compiles it, reusing Verilator's cached runtime objects) and run in a directory holding the input/count files and the
ROM files, exactly as runner.bulk_run runs the same testbench under cocotb; the outputs it writes
(labels.out, logits.out, frames.out, stats.out) are the same files.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError
from dqhw.rtlgen.generate import Design
from dqhw.simulate import testbench as tb
from dqhw.simulate.bulk_build import bulk_build_spec
from dqhw.simulate.verilator import BUILD_ARGS, X_MODES, build_executable, readmem_problems
from dqhw.templates import render

# the bulk testbench's Verilator flags (bulk_build.bulk_build_spec) for other bare harnesses (pynq_sim)
HARNESS_ARGS = (*BUILD_ARGS, *X_MODES["fast"], "--no-public-flat-rw", "-O3")
EXE = "Vtb_dqhw_accel"


def main_cpp(top: str = tb.TB_TOP) -> str:
    """main.cpp: clocks `top` until its `done`, prints cycles and seconds as JSON."""
    return render(Path(__file__).parent / "templates" / "harness_main.cpp.in", top=top)


@dataclass
class HarnessResult:
    cycles: int  # clock cycles the loop ran (until done)
    wall_s: float  # seconds of the loop (building and file set-up excluded)
    done: bool
    build_s: float
    run_dir: Path
    log: Path | None = None

    @property
    def cycles_per_second(self) -> float:
        return self.cycles / self.wall_s if self.wall_s > 0 else 0.0


def build_harness(sources: list[Path], parameters: dict, build_args: list[str], build_dir: str | Path
                  ) -> tuple[Path, float]:
    """Verilate + compile `sources` (the design and tb_dqhw_accel) with main.cpp into build_dir, with
    BUILD_ARGS + fast X handling + `build_args` (bulk_build.bulk_build_spec's, so both engines simulate the
    same model); skipped when an identical build is there. Returns (executable, seconds spent)."""
    args = [*BUILD_ARGS, *X_MODES["fast"], *build_args]
    h = hashlib.sha256(json.dumps([args, sorted((k, str(v)) for k, v in parameters.items()), main_cpp()]).encode())
    for src in sources:
        h.update(Path(src).name.encode())  # names, not folders: a build folder may be renamed
        h.update(Path(src).read_bytes())
    return build_executable(build_dir, h.hexdigest(), main_cpp(), sources, tb.TB_TOP, args, EXE, parameters)


def harness_bulk_run(sources: list[Path], parameters: dict, build_args: list[str], build_dir: Path, run_dir: Path,
                     cap: int) -> HarnessResult:
    """Build (cached) and run the harness in `run_dir`, which holds the frames and memory files
    (testbench.prepare_bulk_run); at most `cap` cycles (the testbench's watchdog ends a hang first)."""
    exe, build_s = build_harness(sources, parameters, build_args, build_dir)
    proc = subprocess.run([str(exe), str(cap)], cwd=run_dir, capture_output=True, text=True)
    log = run_dir / "sim.log"
    log.write_text(proc.stdout + proc.stderr)
    problems = readmem_problems(proc.stdout + proc.stderr)
    if problems:
        raise DqhwError(f"RTL simulation (cpp engine): memory file problem: {problems[0]}")
    line = next((x for x in reversed(proc.stdout.splitlines()) if x.startswith("{")), None)
    if line is None:
        raise DqhwError(f"RTL simulation (cpp engine) printed no result (exit {proc.returncode}): "
                        f"{proc.stderr.strip()[-300:]}")
    out = json.loads(line)
    return HarnessResult(int(out["cycles"]), float(out["seconds"]), bool(out["done"]), build_s, run_dir, log)


def harness_run(rtl_dir: str | Path, work_dir: str | Path, images: np.ndarray, watchdog: int = 200_000,
                max_cycles: int | None = None) -> HarnessResult:
    """The bare harness on uint8 NHWC `images` with the files, parameters and Verilator flags of
    runner.bulk_run's default cocotb build (bench/bench_sim.py compares the two)."""

    rtl_dir = Path(rtl_dir).resolve()
    work = Path(work_dir).resolve()
    design = Design.load(rtl_dir)
    run_dir, _ = tb.prepare_bulk_run(rtl_dir, work, design, images)
    sources, params, args = bulk_build_spec(rtl_dir, design, watchdog)
    cap = max_cycles or (len(images) + 4) * max(design.expected_cycles_per_frame, 1) * 4 + watchdog + 100_000
    return harness_bulk_run(sources, params, args, work / "build", run_dir, cap)
