"""`dqhw mechanism CONFIG`: data subset -> training runs -> common perturbations -> measurements ->
verdict and report. Every stage is resumable (a finished artefact is written atomically and skipped on
the next call); runs and measurements go side by side in `jobs` processes with one torch thread each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.mechanism.config import MechanismConfig, RunSpec, run_dir, subset_path

STAGES = ("data", "train", "common", "measure", "report")


def make_subset(cfg: MechanismConfig, say) -> Path:
    """The seeded class-stratified train/test subset every run and measurement reads."""
    from dqhw.data import write_stratified_subset

    dst = subset_path(cfg)
    if dst.is_file():
        return dst
    write_stratified_subset(cfg.dataset, cfg.data_dir, cfg.train_subset, cfg.test_subset, cfg.subset_seed, dst)
    say(f"data: {cfg.train_subset} train (10 % of it validation) / {cfg.test_subset} test images -> {dst}")
    return dst


def _trained(cfg: MechanismConfig, run: RunSpec) -> bool:
    metrics = run_dir(cfg, run) / "metrics.json"
    if not metrics.is_file():
        return False
    try:
        m = json.loads(metrics.read_text())
    except ValueError:
        return False
    return len(m.get("epochs", [])) >= int(run.train.get("epochs", 0)) and (run_dir(cfg, run) / "layers.json").is_file()


def train_command(cfg: MechanismConfig, run: RunSpec) -> list[str]:
    """`python -m dqhw train ...` for one run, every TrainConfig field from the config as its flag."""
    cmd = [sys.executable, "-m", "dqhw", "train", "--dataset", cfg.dataset, "--data-dir", str(subset_path(cfg)),
           "--seed", str(run.seed), "--out", str(run_dir(cfg, run)), "--quiet"]
    for key, value in run.train.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    if (run_dir(cfg, run) / "checkpoint.pt").is_file():
        cmd.append("--resume")
    return cmd


def _one_thread_env() -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return env


def _run_logged(cmd: list[str], log: Path, what: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=_one_thread_env()).returncode
    if rc != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise DqhwError(f"{what} failed (exit {rc}): {tail[0]} (log: {log})")


def train_all(cfg: MechanismConfig, say) -> None:
    todo = [r for r in cfg.runs if not _trained(cfg, r)]
    say(f"train: {len(cfg.runs) - len(todo)} of {len(cfg.runs)} runs done, {len(todo)} to train "
        f"({cfg.jobs} side by side)")

    def one(run: RunSpec) -> None:
        t0 = time.time()
        _run_logged(train_command(cfg, run), run_dir(cfg, run).with_suffix(".log"), f"training {run.name}")
        acc = json.loads((run_dir(cfg, run) / "metrics.json").read_text())
        say(f"train: {run.name} done in {time.time() - t0:.0f} s: val {acc['val_acc']:.3f} test {acc['test_acc']:.3f}")

    _parallel(one, todo, cfg.jobs)


def _parallel(fn, items, jobs: int) -> None:
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for fut in [pool.submit(fn, it) for it in items]:
            fut.result()


def _take_lock(lock: Path) -> bool:
    """Create `lock` holding this PID; a lock whose process is gone is taken over."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                os.kill(int(lock.read_text().strip() or 0), 0)
                return False
            except (ProcessLookupError, ValueError, OSError):
                lock.unlink(missing_ok=True)
                continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def measure_all(cfg: MechanismConfig, say) -> None:
    from dqhw.mechanism.measure import measure_path

    todo = [r for r in cfg.runs if not measure_path(cfg, r).is_file()]
    untrained = [r.name for r in todo if not _trained(cfg, r)]
    todo = [r for r in todo if r.name not in untrained]
    say(f"measure: {len(cfg.runs) - len(todo) - len(untrained)} of {len(cfg.runs)} runs measured, {len(todo)} to go"
        + (f", {len(untrained)} not trained yet (skipped: {', '.join(untrained)})" if untrained else ""))

    def one(run: RunSpec) -> None:
        lock = measure_path(cfg, run).with_suffix(".lock")
        if not _take_lock(lock):  # another `dqhw mechanism` process is measuring this run
            say(f"measure: {run.name} is being measured by process {lock.read_text().strip()}, skipped")
            return
        try:
            t0 = time.time()
            cmd = [sys.executable, "-m", "dqhw.mechanism.measure", str(cfg.path), run.name, "--out", cfg.out]
            _run_logged(cmd, measure_path(cfg, run).with_suffix(".log"), f"measuring {run.name}")
            say(f"measure: {run.name} done in {time.time() - t0:.0f} s")
        finally:
            lock.unlink(missing_ok=True)

    # the claim's runs first, so that a partial experiment already answers the main question
    key = cfg.rules.get("claim"), *cfg.rules.get("baselines", [])
    todo.sort(key=lambda r: (r.group not in key, r.name))
    _parallel(one, todo, cfg.jobs)


def run_experiment(cfg: MechanismConfig, stages=STAGES, say=print, publish: str | None = None) -> Path:
    if "data" in stages or "train" in stages:
        make_subset(cfg, say)
    if "train" in stages:
        train_all(cfg, say)
    if "common" in stages:
        from dqhw.mechanism import measure

        measure.common_perturbations(cfg, say)
    if "measure" in stages:
        measure_all(cfg, say)
    out = Path(cfg.out)
    if "report" in stages:
        from dqhw.mechanism import report

        out = report.write_report(cfg, say, publish)
    return out
