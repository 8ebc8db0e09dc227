"""Wall time of `dqhw build` (the CLI, in a fresh process, imports included) for a digits run and a
cnv run (32x32x3), against the 60 s goal on 2 cores.

    .venv/bin/python bench/bench_build.py [--digits-run RUN] [--cnv-run RUN] [--cnv-width 0.125]

Without runs, it makes quick ones: untrained models with calibrated BatchNorm (tests/build_helpers.py),
so no data set download and no training is needed. Prints one JSON object with the times, the
per-step times and the ratio to the goal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 60.0


def _dqhw() -> list[str]:
    exe = Path(sys.executable).with_name("dqhw")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dqhw.cli"]


def time_build(run: Path, out: Path, extra: list[str]) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([*_dqhw(), "build", str(run), "--out", str(out), "--quiet", *extra],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"build of {run} failed: {proc.stderr.strip()}")
    info = json.loads((out / "build.json").read_text())
    s = json.loads((out / "report" / "summary.json").read_text())
    return {
        "run": str(run),
        "wall_s": round(wall, 2),
        "in_process_s": info["seconds"],
        "goal_s": GOAL_S,
        "wall_over_goal": round(wall / GOAL_S, 3),
        "steps_s": {st["step"]: st["seconds"] for st in info["steps"]},
        "cycles_per_frame": s["cycles_per_frame"],
        "estimated_fps": s["estimated_fps"],
        "oracles_passed": s["verification"]["passed"],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--digits-run", default=None)
    p.add_argument("--cnv-run", default=None)
    p.add_argument("--cnv-width", type=float, default=0.125)
    p.add_argument("--bits", default="2")
    p.add_argument("--extra", default="", help="extra dqhw build arguments, e.g. '--target-fps 20000'")
    args = p.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="dqhw-bench-build-") as tmp:
        tmp = Path(tmp)
        digits = Path(args.digits_run) if args.digits_run else None
        cnv = Path(args.cnv_run) if args.cnv_run else None
        if digits is None or cnv is None:
            from tests.build_helpers import make_run

            if digits is None:
                digits = make_run(tmp / "digits", bits=args.bits, wbits="2")
            if cnv is None:
                cnv = make_run(tmp / "cnv", model="cnv", bits=args.bits, wbits="2", width=args.cnv_width,
                               in_shape=(32, 32, 3), dataset="cifar10")
        extra = args.extra.split()
        res = {"digits": time_build(digits, tmp / "b_digits", extra), "cnv": time_build(cnv, tmp / "b_cnv", extra)}
    print(json.dumps(res, indent=2))
    return 0 if all(r["wall_s"] <= GOAL_S for r in res.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
