"""`dqhw reproduce CONFIG --executor ray`: the unit graph as Ray tasks, each task waiting for the tasks of
its dependencies (their ObjectRefs are its arguments); a GPU per training unit when the config's device is
cuda, one CPU for every other unit (dqhw.distributed.cluster.task_options).

Each task runs the same function the serial runner runs (runner.RUNNERS) in a Ray worker, writes its
outputs into the shared run folder and its done record atomically, exactly as the serial runner does; the
driver only waits and reports. A worker that dies mid-unit (killed, node lost) is retried by Ray
(MAX_RETRIES): the unit starts again from what is on disk (a training run from its last checkpoint), and
every attempt is recorded in OUT/attempts/<id>.json (pid, host, start time).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from dqhw.reproduce.config import ReproConfig
from dqhw.reproduce.estimate import estimate, hms
from dqhw.reproduce.plan import Unit, read_done, write_done

ATTEMPTS = "attempts"


def _record_attempt(out: Path, unit: Unit) -> int:
    """Append this attempt (pid, host, start) to OUT/attempts/<id>.json; returns its number (1, 2, ...)."""
    from dqhw.io import write_json

    path = out / ATTEMPTS / f"{unit.id}.json"
    try:
        past = json.loads(path.read_text())["attempts"]
    except (OSError, ValueError, KeyError):
        past = []
    past.append({"pid": os.getpid(), "host": platform.node(), "started": time.strftime("%Y-%m-%d %H:%M:%S")})
    write_json(path, {"id": unit.id, "attempts": past})
    return len(past)


def run_unit(unit: Unit, cfg: ReproConfig, by_id: dict, out: str, threads: int | None, *deps) -> dict:
    """One unit inside a Ray worker (deps: the finished dependencies' records, only waited for)."""
    import torch

    from dqhw.reproduce.runner import RUNNERS, machine

    if threads:
        torch.set_num_threads(threads)
    out_p = Path(out)
    attempt = _record_attempt(out_p, unit)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.time()
    result = RUNNERS[unit.kind](unit, cfg, by_id, True, lambda m: None)
    rec = write_done(out_p, unit, result, time.time() - t0, started,
                     machine() | {"executor": "ray", "attempt": attempt, "pid": os.getpid()})
    return rec


def _submit(ray, cfg: ReproConfig, out: Path, units: list[Unit], done: dict, threads: int | None) -> dict:
    """ObjectRef per pending unit, in plan order (dependencies before dependants)."""
    from dqhw.distributed.cluster import task_options

    by_id = {u.id: u for u in units}
    remote = ray.remote(run_unit)
    cfg_ref, by_id_ref = ray.put(cfg), ray.put(by_id)
    refs: dict = {}
    for u in units:
        if done[u.id] is not None:
            continue
        deps = [refs[d] for d in u.deps if d in refs]
        refs[u.id] = remote.options(**task_options(u.kind, cfg.device), name=u.title).remote(
            u, cfg_ref, by_id_ref, str(out), threads, *deps)
    return refs


def execute_ray(cfg: ReproConfig, out: Path, units: list[Unit], address: str | None = None,
                jobs: int | None = None, threads: int | None = None,
                say: Callable[[str], None] | None = None) -> dict:
    """Run every pending unit on the cluster; returns {"ran", "skipped", "seconds", "retried"} like
    runner.execute (plus the units that needed more than one attempt)."""
    from dqhw.distributed.cluster import cluster_device, connect, unwrap
    from dqhw.reproduce.runner import _say, _summary

    say = say or _say
    by_id = {u.id: u for u in units}
    done = {u.id: read_done(out, u) for u in units}
    todo = [u for u in units if done[u.id] is None]
    skipped = [u.id for u in units if done[u.id] is not None]
    if not todo:  # nothing to run: no cluster to start
        say(f"reproduce {cfg.name}: {len(units)} units, all done before; output in {out}")
        return {"ran": [], "skipped": skipped, "seconds": 0.0, "retried": []}
    ray = connect(address, jobs)
    cpus = int(ray.cluster_resources().get("CPU", 0))
    cfg = dataclasses.replace(cfg, device=cluster_device(ray, cfg.device))  # auto: what the cluster has
    say(f"reproduce {cfg.name} on Ray ({cpus} CPUs{', ' + address if address else ', local'}): {len(units)} units, "
        f"{len(units) - len(todo)} done before, {len(todo)} to run (estimated "
        f"{hms(sum(estimate(u, by_id, cfg) for u in todo))} serially); output in {out}")
    t_all = time.time()
    refs = _submit(ray, cfg, out, units, done, threads)
    unit_of = {r: by_id[uid] for uid, r in refs.items()}
    pending, ran, retried = list(refs.values()), [], []
    width = len(str(len(todo)))
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        u = unit_of[ready[0]]
        try:
            rec = ray.get(ready[0])
        except Exception as e:  # noqa: BLE001 - a unit's failure ends the run, as in the serial runner
            for r in pending:
                ray.cancel(r, force=True)
            raise unwrap(ray, e, u.title) from None
        ran.append(u.id)
        att = rec["machine"]["attempt"]
        if att > 1:
            retried.append(u.id)
        note = f" (attempt {att}: its earlier worker died)" if att > 1 else ""
        say(f"[{len(ran):>{width}}/{len(todo)}] {u.title}: done in {hms(rec['wall_seconds'])}"
            f"{_summary(u, rec['result'])}{note} | elapsed {hms(time.time() - t_all)}")
    return {"ran": ran, "skipped": skipped, "seconds": time.time() - t_all, "retried": retried}
