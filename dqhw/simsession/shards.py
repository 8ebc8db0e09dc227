"""Shards of one `dqhw sim`: side by side on this machine (`--jobs N`, `make sim JOBS=N`) or on many
machines (`--shard i/n` each, e.g. a SLURM job array), merged into one report.

`run_parallel` compiles the bulk testbench once (runner.prebuild_bulk), starts n `dqhw sim --shard i/n`
processes that reuse that build (SHARED_BUILD_ENV) and merges their report-shard*.json. `merge_reports`
is also what `dqhw sim BUILD --merge [DIR ...]` runs over shard reports copied together from elsewhere.
A merge needs every shard 0..n-1 of one n, all of the same design; per set it adds frames, mismatches
and per-class counts, weights accuracies by frames and keeps the slowest shard's cycles/frame.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from dqhw.errors import DqhwError

SHARED_BUILD_ENV = "DQHW_SIM_SHARED_BUILD"  # set by run_parallel: the shards reuse the parent's Verilator build


def run_parallel(build_dir: Path, jobs: int, sets: list, split: str, limit: int | None, set_paths, frames,
                 seed: int, progress: bool, engine: str = "cocotb") -> dict:
    from contextlib import nullcontext

    from dqhw.simsession.progress import FrameProgress
    from dqhw.simulate.bulk_build import bulk_build_dir
    from dqhw.simulate.runner import prebuild_bulk

    sim_dir = build_dir / "sim"
    sim_dir.mkdir(parents=True, exist_ok=True)
    for old in sim_dir.glob("report-shard*of*.*"):  # never merge a stale shard of an earlier run
        old.unlink()
    shared = bulk_build_dir(build_dir, engine)
    t0 = time.time()
    if progress:
        print(f"sim: compiling the bulk testbench once for {jobs} shards ...", flush=True)
    build_s = prebuild_bulk(build_dir / "rtl", shared, engine=engine)
    if progress:
        print(f"    {'reused' if build_s == 0 else f'built in {build_s:.0f} s'} ({shared})", flush=True)
    args = ["--split", split, "--seed", str(seed), "--engine", engine]
    args += ["--limit", str(limit)] if limit is not None else []
    args += ["--frames", str(frames)] if frames else []
    args += ["--sets", *[str(p) for p in set_paths]] if set_paths else []
    env = dict(os.environ, **{SHARED_BUILD_ENV: str(shared.resolve()), "OMP_NUM_THREADS": "1"})
    procs = []
    for i in range(jobs):
        cmd = [sys.executable, "-m", "dqhw", "sim", str(build_dir), "--shard", f"{i}/{jobs}", "--jobs", "1", *args]
        if not progress:
            cmd.append("--quiet")
        procs.append(subprocess.Popen(cmd, env=env, stdout=None if progress else subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
    # one live line for all shards: the frames their testbenches finished (frames.out of every set)
    total = sum(len(fs.images) for fs in sets)
    watch = FrameProgress(lambda: sorted(sim_dir.glob(f"work-shard*of{jobs}/*/run/frames.out")), total,
                          f"sim ({jobs} shards)") if progress else nullcontext()
    with watch:
        errors = [(i, p.communicate()[1]) for i, p in enumerate(procs)]
    paths = [sim_dir / f"report-shard{i}of{jobs}.json" for i in range(jobs)]
    lost = [f"shard {i}/{jobs} wrote no report ({err.strip().splitlines()[-1] if err.strip() else 'no message'})"
            for (i, err), p in zip(errors, paths) if not p.is_file()]
    if lost:
        raise DqhwError(lost[0] + (f" (+{len(lost) - 1} more)" if len(lost) > 1 else ""))
    report = merge_reports([json.loads(p.read_text()) for p in paths])
    report["seconds"] = round(time.time() - t0, 1)
    report["jobs"] = jobs
    report["engine"] = engine
    from dqhw.simsession.report import write_report

    return write_report(build_dir, report)


def find_shard_reports(dirs: list[Path]) -> list[Path]:
    found = {}
    for d in dirs:
        for p in sorted(Path(d).glob("report-shard*of*.json")):
            found.setdefault(p.name, p)  # the same shard copied twice counts once
    return list(found.values())


def merge_dirs(build_dir: Path, dirs: list[Path]) -> dict:
    """`dqhw sim BUILD --merge [DIR ...]`: merge the shard reports in BUILD/sim and DIRs."""
    paths = find_shard_reports([build_dir / "sim", *dirs])
    if not paths:
        where = ", ".join(str(d) for d in [build_dir / "sim", *dirs])
        raise DqhwError(f"--merge: no report-shard<i>of<n>.json in {where}")
    reports = []
    for p in paths:
        try:
            reports.append(json.loads(p.read_text()))
        except ValueError:
            raise DqhwError(f"{p}: not a readable shard report") from None
    from dqhw.simsession.report import write_report

    return write_report(build_dir, merge_reports(reports))


def merge_reports(reports: list[dict]) -> dict:
    counts = {r.get("shard", "0/1").split("/")[1] for r in reports}
    if len(counts) != 1:
        raise DqhwError(f"--merge: shard reports of different splits ({', '.join(sorted(counts))} shards)")
    n = int(counts.pop())
    by_index = {int(r["shard"].split("/")[0]): r for r in reports}
    missing = [i for i in range(n) if i not in by_index]
    if missing:
        raise DqhwError(f"--merge: shard {missing[0]}/{n} is missing" + (f" (and {len(missing) - 1} more)"
                                                                         if len(missing) > 1 else ""))
    ordered = [by_index[i] for i in range(n)]
    shas = {r["design_sha"] for r in ordered}
    if len(shas) != 1:
        raise DqhwError("--merge: the shard reports are of different designs (design_sha differs)")
    rows: dict[str, list[dict]] = {}
    for r in ordered:
        for row in r["sets"]:
            rows.setdefault(row["set"], []).append(row)
    merged_rows = [_merge_rows(parts) for parts in rows.values()]
    failures = [f for r in ordered for f in r["failures"]]
    first = ordered[0]
    return {
        "build": first["build"], "backend": first.get("backend", "verilator"), "engine": first.get("engine", "cocotb"),
        "design_sha": first["design_sha"], "clock_ns": first["clock_ns"], "shard": f"merged {n}", "shards": n,
        "sets": merged_rows, "protocol": first.get("protocol"),
        "total_frames": sum(r["frames"] for r in merged_rows),
        "total_mismatches": sum(sum(r["mismatches"].values()) for r in merged_rows),
        "passed": all(r["passed"] for r in ordered), "failures": failures,
        "seconds": max(r["seconds"] for r in ordered),
    }


def _weighted(parts: list[dict], get) -> float | None:
    values = [(get(p), p["frames"]) for p in parts]
    if any(v is None for v, _ in values):
        return None
    total = sum(w for _, w in values)
    return sum(v * w for v, w in values) / total if total else None


def _merge_rows(parts: list[dict]) -> dict:
    first = parts[0]
    frames = sum(p["frames"] for p in parts)
    intervals = [p["cycles_per_frame"] for p in parts if p.get("cycles_per_frame")]
    ii = max(intervals) if intervals else None
    row = dict(first)
    per_class: dict[str, int] = {}
    for p in parts:
        for c, k in (p.get("per_class") or {}).items():
            per_class[c] = per_class.get(c, 0) + k
    row.update({
        "frames": frames, "first_index": 0, "shards": len(parts), "per_class": per_class,
        "mismatches": {k: sum(p["mismatches"][k] for p in parts) for k in first["mismatches"]},
        "rtl_accuracy": _weighted(parts, lambda p: p["rtl_accuracy"]),
        "golden_accuracy": _weighted(parts, lambda p: p["golden_accuracy"]),
        "cycles_per_frame": ii,
        "fps_at_clock": first["fps_at_clock"] * first["cycles_per_frame"] / ii
        if ii and first.get("fps_at_clock") and first.get("cycles_per_frame") else None,
        "sim_cycles": sum(p["sim_cycles"] for p in parts),
        "sim_seconds": round(sum(p["sim_seconds"] for p in parts), 3),
        "wall_seconds": max(p["wall_seconds"] for p in parts),
        "deadlock": any(p["deadlock"] for p in parts), "tlast_ok": all(p["tlast_ok"] for p in parts),
    })
    row["cycles_per_second"] = round(row["sim_cycles"] / row["sim_seconds"]) if row["sim_seconds"] else 0
    if any("clean_pair" in p for p in parts):
        pairs = [dict(p["clean_pair"], frames=p["frames"]) for p in parts if "clean_pair" in p]
        row["clean_pair"] = {"split": pairs[0]["split"], "frames": sum(p["frames"] for p in pairs),
                             "rtl_accuracy": _weighted(pairs, lambda p: p["rtl_accuracy"])}
    mism = [p for p in parts if "first_mismatch" in p]
    if mism:
        row["first_mismatch"] = mism[0]["first_mismatch"]
    return row
