"""The hardware-parity matrix: digits runs at activation bits 1..5, vanilla and DQ, each through
train -> FGSM/PGD sets -> dqhw build -> dqhw sim (clean test split + both sets), printing one row
per run: frames, mismatches against the golden model, accuracy measured on the RTL (clean/FGSM/PGD),
cycles per frame (measured vs FINN's estimate). Results feed docs/results.md.

usage: python bench/rtl_matrix.py [--out runs/matrix] [--bits 1 2 3 4 5] [--eps 32] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dqhw.cli import main as dqhw


def step(args: list) -> None:
    code = dqhw([str(a) for a in args])
    if code != 0:
        sys.exit(f"failed: dqhw {' '.join(map(str, args))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/matrix")
    ap.add_argument("--bits", nargs="*", default=["1", "2", "3", "4", "5"])
    ap.add_argument("--eps", default="32")
    ap.add_argument("--epochs", default="30")
    ap.add_argument("--pgd-limit", default="120")
    args = ap.parse_args()
    root = Path(args.out)
    rows = []
    for bits in args.bits:
        for reg, beta in (("vanilla", "0"), ("dq", "2e-3")):
            name = f"a{bits}-{reg}"
            run, build = root / name, root / f"{name}-build"
            t0 = time.time()
            if not (run / "checkpoint.pt").is_file():
                step(["train", "--bits", bits, "--beta", beta, "--epochs", args.epochs, "--out", run, "--quiet"])
            step(["attack", run, "--attack", "fgsm", "--eps", args.eps, "--quiet"])
            step(["attack", run, "--attack", "pgd", "--eps", args.eps, "--limit", args.pgd_limit, "--quiet"])
            step(["build", run, "--out", build, "--quiet"])
            step(["sim", build, "--quiet"])
            rep = json.loads((build / "sim" / "report.json").read_text())
            sets = {r["set"]: r for r in rep["sets"]}
            row = {
                "run": name, "frames": rep["total_frames"], "mismatches": rep["total_mismatches"],
                "clean": sets["clean-test"]["rtl_accuracy"], "fgsm": sets[f"fgsm-eps{args.eps}"]["rtl_accuracy"],
                "pgd": sets[f"pgd-eps{args.eps}"]["rtl_accuracy"],
                "golden_equal": all(r["rtl_accuracy"] == r["golden_accuracy"] for r in rep["sets"]),
                "cycles": sets["clean-test"]["cycles_per_frame"],
                "estimate": sets["clean-test"]["expected_cycles_per_frame"], "seconds": round(time.time() - t0),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| run | frames | mismatches | RTL clean | RTL FGSM | RTL PGD | RTL = golden | cycles/frame (est.) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['frames']} | {r['mismatches']} | {r['clean']:.4f} | {r['fgsm']:.4f} | "
              f"{r['pgd']:.4f} | {r['golden_equal']} | {r['cycles']} ({r['estimate']}) |")
    (root / "matrix.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
