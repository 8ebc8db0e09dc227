"""Golden model speed vs finn's execute_onnx on the same dataflow graph (goal: >= 25x).

    .venv/bin/python bench/bench_golden.py [BUILD_DIR ...] [--frames 512] [--exec-frames 16]

Without build directories it builds two quick ones first (an untrained digits `tiny` run and a
32x32x3 `cnv` run, width 0.125, calibrated BatchNorm: tests/build_helpers.py). Prints, per
build, the time per frame of both, the ratio, and whether their outputs are equal.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOAL = 25.0


def bench(build_dir: Path, frames: int, exec_frames: int, seed: int = 0) -> dict:
    from dqhw.golden import GoldenModel
    from dqhw.verification import execute_graph

    g = GoldenModel.from_build(build_dir)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(frames, *g.input_shape), dtype=np.uint8)
    g.run(x)  # warm up (allocations)
    t0 = time.perf_counter()
    res = g.run(x)
    t_golden = (time.perf_counter() - t0) / len(x)

    sub = x[:exec_frames]
    execute_graph(g.model, sub[:1])  # warm up
    t0 = time.perf_counter()
    ctxs = execute_graph(g.model, sub)
    t_exec = (time.perf_counter() - t0) / len(sub)
    labels = np.array([int(np.asarray(c[g.output_name]).reshape(-1)[0]) for c in ctxs])
    logits = np.stack([np.asarray(c[g.logits_tensor]).reshape(-1) for c in ctxs])
    equal = bool(np.array_equal(labels, res.labels[:len(sub)]) and np.array_equal(logits, res.logits[:len(sub)]))
    return {
        "build": str(build_dir),
        "input_shape": list(g.input_shape),
        "golden_frames": len(x),
        "golden_ms_per_frame": round(t_golden * 1e3, 4),
        "execute_onnx_frames": len(sub),
        "execute_onnx_ms_per_frame": round(t_exec * 1e3, 3),
        "speed_ratio": round(t_exec / t_golden, 1),
        "goal_ratio": GOAL,
        "outputs_equal": equal,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("builds", nargs="*", help="dqhw build directories (default: make two quick ones)")
    p.add_argument("--frames", type=int, default=512, help="frames for the golden model")
    p.add_argument("--exec-frames", type=int, default=16, help="frames for execute_onnx")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="dqhw-bench-golden-") as tmp:
        builds = [Path(b) for b in args.builds]
        if not builds:
            sys.path.insert(0, str(ROOT))
            from dqhw.flow.pipeline import BuildOptions, build
            from tests.build_helpers import make_run

            tmp = Path(tmp)
            runs = [make_run(tmp / "digits", bits="2", wbits="2"),
                    make_run(tmp / "cnv", model="cnv", bits="2", wbits="2", width=0.125, in_shape=(32, 32, 3),
                             dataset="cifar10")]
            builds = [build(BuildOptions(model=str(r), out=str(tmp / f"b_{r.name}"), verify_frames=8, exec_frames=2))
                      for r in runs]
        results = [bench(b, args.frames, args.exec_frames) for b in builds]
    print(json.dumps(results, indent=2))
    return 0 if all(r["outputs_equal"] and r["speed_ratio"] >= GOAL for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
