"""Whole-accelerator simulation speed: `make sim`'s bulk path (cocotb + the memory-fed testbench,
runner.bulk_run) against a bare Verilator C++ harness on the same testbench (goal: ratio >= 0.25).

    .venv/bin/python bench/bench_sim.py [--build DIR] [--frames 300] [--repeat 3] [--json OUT]

Without --build it trains a digits 2-bit run (3 epochs) and builds it into a temporary directory
(train -> dqhw build -> FIFO-sized RTL). Both simulators run the same frames through the same
tb_dqhw_accel built with the same Verilator flags (--no-timing -O3 --x-assign fast --x-initial fast,
single-threaded); build time is excluded; each is run --repeat times and the fastest run counts (the
machines are shared). Also checks that both produced the same outputs and cycle counts.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GOAL = 0.25


def make_build(root: Path) -> Path:
    from dqhw.cli import main as cli

    run, build = root / "run", root / "build"
    if cli(["train", "--bits", "2", "--epochs", "3", "--out", str(run), "--quiet"]) != 0:
        raise SystemExit("dqhw train failed")
    if cli(["build", str(run), "--board", "pynq-z2", "--out", str(build), "--quiet"]) != 0:
        raise SystemExit("dqhw build failed")
    ensure_rtl(build)
    return build


def ensure_rtl(build: Path) -> None:
    if (build / "rtl" / "design.json").is_file():
        return
    from dqhw.data import load_dataset
    from dqhw.flow.fifo_sizing import size_and_generate

    size_and_generate(build / "dataflow.onnx", build / "rtl", build / "sim" / "sizing",
                      load_dataset("digits").x_test[:6], "xc7z020clg400-1", 10.0)


def frames_for(build: Path, n: int) -> np.ndarray:
    from dqhw.rtlgen.generate import Design

    design = Design.load(build / "rtl")
    rng = np.random.default_rng(0)
    if list(design.in_shape) == [8, 8, 1]:
        from dqhw.data import load_dataset

        x = load_dataset("digits").x_test
        return x[np.arange(n) % len(x)]
    return rng.integers(0, 256, size=(n, *design.in_shape), dtype=np.uint8)


def bench(build: Path, frames: int, repeat: int, work: Path) -> dict:
    from dqhw.rtlgen.generate import Design
    from dqhw.simulate import testbench as tb
    from dqhw.simulate.cpp_harness import harness_run
    from dqhw.simulate.runner import bulk_run

    rtl = build / "rtl"
    x = frames_for(build, frames)
    bulk_runs, cpp_runs = [], []
    for _ in range(repeat):
        bulk_runs.append(bulk_run(rtl, work / "bulk", x))
        cpp_runs.append(harness_run(rtl, work / "cpp", x))
    b = min(bulk_runs, key=lambda r: r.wall_s)
    c = min(cpp_runs, key=lambda r: r.wall_s)
    cpp_stats = tb.read_stats(c.run_dir)
    cpp_logits = tb.decode_logits(Design.load(rtl), tb.read_hex_lines(c.run_dir / "logits.out"))
    same = bool(np.array_equal(cpp_logits, b.logits) and int(cpp_stats.get("cycles", -1)) == b.cycles
                and not b.deadlock and c.done and len(b.logits) == frames)
    ratio = b.cycles_per_second / c.cycles_per_second if c.cycles_per_second else 0.0
    return {
        "build": str(build),
        "frames": frames,
        "cycles": b.cycles,
        "cycles_per_frame": b.interval(),
        "bulk_cocotb": {"cycles_per_s": round(b.cycles_per_second), "frames_per_s": round(frames / b.wall_s, 1),
                        "seconds": round(b.wall_s, 3), "all_seconds": [round(r.wall_s, 3) for r in bulk_runs],
                        "build_s": round(max(r.build_s for r in bulk_runs), 1)},
        "cpp_harness": {"cycles_per_s": round(c.cycles_per_second), "frames_per_s": round(frames / c.wall_s, 1),
                        "seconds": round(c.wall_s, 3), "all_seconds": [round(r.wall_s, 3) for r in cpp_runs],
                        "build_s": round(max(r.build_s for r in cpp_runs), 1)},
        "ratio_bulk_over_cpp": round(ratio, 3),
        "goal_ratio": GOAL,
        "same_outputs_and_cycles": same,
        "machine": platform.machine(),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=None, help="a dqhw build directory (default: train + build one)")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", default=None, help="also write the result here")
    args = p.parse_args(argv)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="dqhw-bench-sim-") as tmp:
        if args.build:
            build = Path(args.build)
            ensure_rtl(build)
        else:
            build = make_build(Path(tmp))
        res = bench(build, args.frames, args.repeat, Path(tmp) / "work")
    res["total_seconds"] = round(time.time() - t0, 1)
    b, c = res["bulk_cocotb"], res["cpp_harness"]
    print(f"build {res['build']}: {res['frames']} frames, {res['cycles']} cycles ({res['cycles_per_frame']} per frame)")
    print(f"  bulk (cocotb + memory-fed TB): {b['cycles_per_s']:>10,} cycles/s  {b['frames_per_s']:>8} frames/s")
    print(f"  bare Verilator C++ harness:    {c['cycles_per_s']:>10,} cycles/s  {c['frames_per_s']:>8} frames/s")
    print(f"  ratio bulk / C++: {res['ratio_bulk_over_cpp']:.3f} (goal >= {GOAL}); "
          f"same outputs and cycles: {res['same_outputs_and_cycles']}")
    print(json.dumps(res, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0 if res["same_outputs_and_cycles"] and res["ratio_bulk_over_cpp"] >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
