"""HLS C-simulation speed next to Verilator's on the same build and frames: frames/s of the g++-compiled
HLS C++ (BUILD/hls, `dqhw sim --backend hls`) and of the RTL's bulk path (`make sim`'s runner.bulk_run),
and their ratio.

    .venv/bin/python bench/bench_hls.py [--build DIR] [--frames 300] [--repeat 3] [--json OUT]

Without --build it trains a digits 2-bit run (3 epochs) and builds it into a temporary directory
(bench_sim.make_build). Compile times are reported apart and excluded from frames/s; each simulator runs
the same frames --repeat times, interleaved, and the fastest run counts (the machines are shared). Both
must agree with the golden model on every logit and class, else the benchmark fails.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=None, help="a dqhw build directory (default: train + build digits)")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=None, help="write the numbers to this JSON file")
    args = ap.parse_args(argv)

    from bench_sim import frames_for, make_build

    from dqhw.golden import GoldenModel
    from dqhw.simulate.hls_csim import compile_csim, run_csim
    from dqhw.simulate.runner import bulk_run, prebuild_bulk

    tmp = None
    if args.build:
        build = Path(args.build)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="dqhw-bench-hls-")
        build = make_build(Path(tmp.name))
    if not (build / "hls" / "hls.json").is_file():
        from dqhw.hlsgen.__main__ import main as hlsgen

        hlsgen([str(build)])
    images = frames_for(build, args.frames)
    golden = GoldenModel.from_build(build).run(images)
    work = build / "sim" / "bench-hls"

    t0 = time.time()
    exe, hls_compile = compile_csim(build / "hls", build / "sim" / "hls-csim")
    hls_compile = hls_compile or time.time() - t0
    t0 = time.time()
    vbuild = work / "verilator-build"
    prebuild_bulk(build / "rtl", vbuild)
    v_compile = time.time() - t0

    hls_s, ver_s = [], []
    for _ in range(args.repeat):
        r = run_csim(exe, build / "hls", images, work / "hls")
        ok = np.array_equal(r.logits, golden.logits) and (len(r.labels) == 0 or np.array_equal(r.labels, golden.labels))
        if not ok:
            raise SystemExit("HLS C-sim differs from the golden model")
        hls_s.append(r.wall_s)
        v = bulk_run(build / "rtl", work / "verilator", images, build_dir=vbuild)
        if not np.array_equal(v.logits, golden.logits):
            raise SystemExit("Verilator differs from the golden model")
        ver_s.append(v.wall_s)
    n = len(images)
    hls_fps, ver_fps = n / min(hls_s), n / min(ver_s)
    result = {
        "build": str(build), "frames": n, "repeat": args.repeat, "machine": platform.node(),
        "hls_csim_frames_per_s": round(hls_fps, 1), "verilator_frames_per_s": round(ver_fps, 1),
        "ratio_hls_over_verilator": round(hls_fps / ver_fps, 2),
        "hls_compile_s": round(hls_compile, 1), "verilator_compile_s": round(v_compile, 1),
        "mismatches": 0,
    }
    print(f"{n} frames of {build}, fastest of {args.repeat}:")
    print(f"  HLS C-sim (g++ -O2)        {hls_fps:9.1f} frames/s   (compile {hls_compile:.1f} s, cached per build)")
    print(f"  Verilator bulk (make sim)  {ver_fps:9.1f} frames/s   (compile {v_compile:.1f} s)")
    print(f"  ratio HLS / Verilator      {hls_fps / ver_fps:9.2f}   (0 mismatches vs the golden model on both)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
