"""Logic levels, LUTs and flip-flops of dqhw's RTL modules after Yosys synthesis for xc7 (dqhw.synth),
per parameter point, against the level budget (contract.LEVEL_BUDGET, rtl/README.md).

    .venv/bin/python bench/bench_timing.py [--old REV] [--quick] [--json OUT]

--old REV also synthesizes the modules as they were at git revision REV (e.g. bad69a9, the last
dqhw_mvau without the pipeline) and prints both side by side. --quick: the points of
tests/test_timing.py only (no SIMD 64 x 4/8-bit products, which take 1-2 minutes each).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dqhw import contract  # noqa: E402
from dqhw.synth import synth_module  # noqa: E402
from tests.test_timing import MVAU_POINTS, OTHER_POINTS, mvau_point  # noqa: E402

# larger products at SIMD 64 (and 8 x 8 bits at SIMD 32): minutes of Yosys each
EXTRA_MVAU_POINTS = {
    "simd8-w2-a2-t2": (8, 2, 2, 2, {}),
    "simd64-w2-a8-t4": (64, 2, 8, 4, {}),
    "simd64-w4-a4-raw": (64, 4, 4, 0, {}),
    "simd64-w4-a8-t2": (64, 4, 8, 2, {}),
    "simd32-w8-a8-raw": (32, 8, 8, 0, {}),
}


def old_sources(rev: str, work: Path) -> Path:
    """rtl/ as it was at git revision `rev`, written into work/old-rtl."""
    out = work / "old-rtl"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("dqhw_mvau.v", "dqhw_label_select.v", "dqhw_maxpool.v", "dqhw_stream_fork.v"):
        text = subprocess.run(["git", "show", f"{rev}:rtl/{name}"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout
        (out / name).write_text(text)
    return out


def run_point(rtl: Path, name: str, work: Path, old: bool) -> dict:
    if name in OTHER_POINTS:
        top, params = OTHER_POINTS[name]
        r = synth_module([rtl / f"{top}.v"], top, work / "synth", params)
    else:
        simd, w, i, out, opts = {**MVAU_POINTS, **EXTRA_MVAU_POINTS}[name]
        params, data = mvau_point(simd, w, i, out, work / "case", tree_levels=0 if old else None, **opts)
        r = synth_module([rtl / "dqhw_mvau.v"], "dqhw_mvau", work / "synth", params, data_files=data)
    return {"levels": r.levels, "lut": r.lut, "ff": r.ff, "lutram": r.lutram, "carry4": r.carry4,
            "bram18": r.bram18, "seconds": r.seconds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", metavar="REV", help="also the RTL at this git revision (e.g. bad69a9)")
    ap.add_argument("--quick", action="store_true", help="only the points of tests/test_timing.py")
    ap.add_argument("--only", nargs="*", help="point names")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    names = list(MVAU_POINTS) + ([] if args.quick else list(EXTRA_MVAU_POINTS)) + list(OTHER_POINTS)
    if args.only:
        names = [n for n in names if n in args.only]
    results = {}
    with tempfile.TemporaryDirectory(prefix="dqhw-timing-") as tmp:
        work = Path(tmp)
        old_rtl = old_sources(args.old, work) if args.old else None
        cols = ["new"] + (["old"] if old_rtl else [])
        print(f"budget: {contract.LEVEL_BUDGET} logic levels per register-to-register path (rtl/README.md)")
        head = "| point | " + " | ".join(f"{c} levels | {c} LUT | {c} FF" for c in cols) + " |"
        print(head)
        print("|" + "---|" * (1 + 3 * len(cols)))
        for name in names:
            row = {"new": run_point(ROOT / "rtl", name, work / name / "new", old=False)}
            if old_rtl:
                row["old"] = run_point(old_rtl, name, work / name / "old", old=True)
            results[name] = row
            cells = " | ".join(f"{row[c]['levels']} | {row[c]['lut']} | {row[c]['ff']}" for c in cols)
            print(f"| {name} | {cells} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    worst = max(r["new"]["levels"] for r in results.values())
    print(f"worst new: {worst} levels ({'within' if worst <= contract.LEVEL_BUDGET else 'OVER'} the budget)")
    return 0 if worst <= contract.LEVEL_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
