"""Whole-accelerator simulation speed, and what a whole evaluation would take: `make sim`'s bulk path
(cocotb + the memory-fed testbench, runner.bulk_run) as before (g++ -Os, Verilator's default), with
-O2, and as now (-O2 -march=<this CPU>), and the same testbench clocked by a bare Verilator C++ main
(`dqhw sim --engine cpp`). Goal: cocotb at >= 0.8 of the bare harness.

    .venv/bin/python bench/bench_sim.py [--build DIR] [--frames 300] [--repeat 3] [--whole 20000]
                                        [--jobs 2] [--json OUT]

Without --build it trains a digits 2-bit run (3 epochs) and builds it into a temporary directory.
Every variant runs the same frames through the same tb_dqhw_accel;
compile time is reported apart; each is run --repeat times and the fastest run counts (the machines
are shared). Prints frames/s, the speed-up over "before", and the projected wall time of --whole
frames in --jobs shards (compile included). Also checks that all variants produced the same outputs
and cycle counts.
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

GOAL = 0.8


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


VARIANTS = {  # name -> (engine, C++ optimisation of the model, -march of this host)
    "cocotb -Os (before)": ("cocotb", "-Os", False),
    "cocotb -O2": ("cocotb", "-O2", False),
    "cocotb -O2 host": ("cocotb", "-O2", True),
    "cpp -O2 host": ("cpp", "-O2", True),
}
BEFORE, COCOTB, CPP = "cocotb -Os (before)", "cocotb -O2 host", "cpp -O2 host"


def bench(build: Path, frames: int, repeat: int, work: Path, whole: int, jobs: int) -> dict:
    """Every variant on the same frames through the same testbench; the fastest of `repeat` runs counts."""
    from dqhw.rtlgen.generate import Design
    from dqhw.simulate import bulk_build, runner

    rtl = build / "rtl"
    design = Design.load(rtl)
    x = frames_for(build, frames)
    results, outputs = {}, {}
    for name, (engine, opt, host) in VARIANTS.items():
        saved = bulk_build.BULK_CXX_OPT, bulk_build.BULK_CXX_HOST_ARCH
        bulk_build.BULK_CXX_OPT = None if opt == "-Os" else opt  # None: Verilator's default, no -CFLAGS
        bulk_build.BULK_CXX_HOST_ARCH = host
        bd = work / engine / (opt.strip("-") + ("-host" if host else ""))
        try:
            runs = [runner.bulk_run(rtl, work / "run", x, build_dir=bd, engine=engine) for _ in range(repeat)]
        finally:
            bulk_build.BULK_CXX_OPT, bulk_build.BULK_CXX_HOST_ARCH = saved
        best = min(runs, key=lambda r: r.wall_s)
        outputs[name] = (best.logits, best.labels, best.cycles, best.deadlock, best.interval())
        cps = best.cycles_per_second
        results[name] = {"cycles_per_s": round(cps), "frames_per_s": round(frames / best.wall_s, 2),
                         "seconds": round(best.wall_s, 3), "all_seconds": [round(r.wall_s, 3) for r in runs],
                         "compile_s": round(max(r.build_s for r in runs), 1),
                         "whole_eval_minutes": round((whole * (best.interval() or design.expected_cycles_per_frame)
                                                      / (jobs * cps) + max(r.build_s for r in runs)) / 60, 1)}
    ref = outputs[next(iter(VARIANTS))]
    same = all(np.array_equal(o[0], ref[0]) and np.array_equal(o[1], ref[1]) and o[2] == ref[2] and not o[3]
               for o in outputs.values())
    cocotb, cpp = results[COCOTB]["cycles_per_s"], results[CPP]["cycles_per_s"]
    return {
        "build": str(build), "frames": frames, "cycles_per_frame": ref[4], "variants": results,
        "ratio_bulk_over_cpp": round(cocotb / cpp, 3) if cpp else 0.0, "goal_ratio": GOAL,
        "speedup_vs_before": {k: round(v["cycles_per_s"] / results[BEFORE]["cycles_per_s"], 2)
                              for k, v in results.items()},
        "whole_eval": {"frames": whole, "jobs": jobs}, "same_outputs_and_cycles": same,
        "machine": platform.machine(),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=None, help="a dqhw build directory (default: train + build one)")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--whole", type=int, default=20000,
                   help="frames of the projected whole evaluation (default 20,000: CIFAR-10 test + one adv. set)")
    p.add_argument("--jobs", type=int, default=2, help="shards side by side in the projection (default 2)")
    p.add_argument("--json", default=None, help="also write the result here")
    args = p.parse_args(argv)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="dqhw-bench-sim-") as tmp:
        if args.build:
            build = Path(args.build)
            ensure_rtl(build)
        else:
            build = make_build(Path(tmp))
        res = bench(build, args.frames, args.repeat, Path(tmp) / "work", args.whole, args.jobs)
    res["total_seconds"] = round(time.time() - t0, 1)
    print(f"build {res['build']}: {res['frames']} frames, {res['cycles_per_frame']} cycles per frame")
    for name, v in res["variants"].items():
        whole = res["whole_eval"]
        print(f"  {name:<20} {v['cycles_per_s']:>10,} cycles/s {v['frames_per_s']:>8} frames/s "
              f"(x{res['speedup_vs_before'][name]:.2f}), compile {v['compile_s']:>6} s; "
              f"{whole['frames']:,} frames with {whole['jobs']} jobs: ~{v['whole_eval_minutes']} min")
    print(f"  ratio cocotb / bare C++ ({COCOTB} / {CPP}): {res['ratio_bulk_over_cpp']:.3f} (goal >= {GOAL}); "
          f"same outputs and cycles: {res['same_outputs_and_cycles']}")
    print(json.dumps(res, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0 if res["same_outputs_and_cycles"] and res["ratio_bulk_over_cpp"] >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
