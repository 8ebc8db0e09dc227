"""`dqhw sim BUILD --executor ray`: the shards of one simulation as Ray tasks, merged into one report as
`--jobs` (dqhw.simsession.shards) and `--merge` do. The driver compiles the bulk testbench once; every task
runs `run_sim(BUILD, shard=i/n)` on that compile and writes BUILD/sim/report-shard<i>of<n>.json, so
BUILD must be on a file system every node sees."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from dqhw.errors import DqhwError


def sim_shard(build: str, shard: str, shared: str, kw: dict) -> str | None:
    """One shard inside a Ray worker; returns its error line (a mismatch still writes the shard report)."""
    from dqhw.simsession.session import run_sim
    from dqhw.simsession.shards import SHARED_BUILD_ENV

    os.environ[SHARED_BUILD_ENV] = shared
    try:
        run_sim(build, shard=shard, jobs=1, progress=False, **kw)
    except DqhwError as e:
        return str(e)
    return None


def _prepare(build_dir: Path, jobs: int, kw: dict, progress: bool) -> tuple[str, Path]:
    """The engine and the shared bulk compile (built here once), stale shard reports removed."""
    from dqhw.rtlgen.generate import Design
    from dqhw.simsession.session import check_build_dir, choose_engine, collect_sets
    from dqhw.simulate.bulk_build import bulk_build_dir
    from dqhw.simulate.runner import prebuild_bulk

    check_build_dir(build_dir)
    sets = collect_sets(build_dir, kw["split"], kw["limit"], kw["set_paths"], kw["frames"], kw["seed"])
    n_frames = sum(len(fs.images) for fs in sets)
    engine = choose_engine(kw["engine"], n_frames // jobs, Design.load(build_dir / "rtl").expected_cycles_per_frame,
                           1)
    sim_dir = build_dir / "sim"
    sim_dir.mkdir(parents=True, exist_ok=True)
    for old in sim_dir.glob("report-shard*of*.*"):  # never merge a stale shard of an earlier run
        old.unlink()
    shared = bulk_build_dir(build_dir, engine)
    if progress:
        print(f"sim: compiling the bulk testbench once for {jobs} Ray shards ...", flush=True)
    secs = prebuild_bulk(build_dir / "rtl", shared, engine=engine)
    if progress:
        print(f"    {'reused' if secs == 0 else f'built in {secs:.0f} s'} ({shared})", flush=True)
    return engine, shared


def run_sim_ray(build: str, jobs: int | None, address: str | None, progress: bool = True, **kw) -> dict:
    """kw: split, limit, set_paths, frames, seed, engine (as run_sim). Returns the merged report."""
    from dqhw.distributed.cluster import connect, task_options, unwrap
    from dqhw.simsession.report import write_report
    from dqhw.simsession.shards import merge_reports

    build_dir = Path(build)
    ray = connect(address, jobs)
    n = jobs or int(ray.cluster_resources().get("CPU", 1))
    t0 = time.time()
    engine, shared = _prepare(build_dir, n, kw, progress)
    task = ray.remote(sim_shard).options(**task_options("sim"))
    refs = [task.remote(str(build_dir), f"{i}/{n}", str(shared.resolve()), kw | {"engine": engine}) for i in range(n)]
    if progress:
        print(f"sim: {n} shards submitted to Ray", flush=True)
    errors = []
    for i, ref in enumerate(refs):
        try:
            errors.append(ray.get(ref))
        except Exception as e:  # noqa: BLE001 - a lost shard is reported like run_parallel's
            errors.append(str(unwrap(ray, e, f"shard {i}/{n}")))
    paths = [build_dir / "sim" / f"report-shard{i}of{n}.json" for i in range(n)]
    lost = [f"shard {i}/{n} wrote no report ({err or 'no message'})" for i, (err, p) in enumerate(zip(errors, paths))
            if not p.is_file()]
    if lost:
        raise DqhwError(lost[0] + (f" (+{len(lost) - 1} more)" if len(lost) > 1 else ""))
    report = merge_reports([json.loads(p.read_text()) for p in paths])
    report.update(seconds=round(time.time() - t0, 1), jobs=n, engine=engine, executor="ray")
    return write_report(build_dir, report)
