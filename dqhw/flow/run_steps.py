"""Running the step list (dqhw.flow.step_table) of one build: every step timed and logged, its model
saved as intermediate/NN_name.onnx when it changes the graph, the record (dqhw.flow.state) saved
beside it as NN_name.record.json, the step's declared post-action run; the refold loop (folding ..
check_fit run again while check_fit asks for it, at most MAX_REFOLDS times); DIR/dataflow.onnx
written once, when the graph is final (the loop is done); and --start-step / --stop-step: a build
restarted from an existing build folder's intermediates."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.flow.state import BuildConfig, BuildRecord
from dqhw.flow.step_table import Step, refold_span
from dqhw.flow.steps import MAX_REFOLDS

DATAFLOW = "dataflow.onnx"


def _load(path: Path):
    from qonnx.core.modelwrapper import ModelWrapper

    import dqhw.customop  # noqa: F401  (dqhw's node types, to load the graph)

    return ModelWrapper(str(path))


class StepRunner:
    def __init__(self, step_list: list[Step], cfg: BuildConfig, done: list[dict]):
        self.steps, self.cfg, self.done = step_list, cfg, done
        self.lo, self.hi = refold_span(step_list)

    def run(self, model, first: int, last: int):
        """Run steps first..last (indices, inclusive); returns the last model."""
        model = self.span(model, first, min(last, self.lo - 1))
        if last < self.lo or first > self.hi:
            return self.span(model, max(first, self.hi + 1), last)
        start = max(first, self.lo)
        for _ in range(MAX_REFOLDS + 1):  # check_fit bounds the refolds (record.refolds)
            model = self.span(model, start, min(last, self.hi), stop_on_refold=True)
            why = self.cfg.record.refold
            if why is None:
                break
            # the sized FIFOs took more than the search reserved: fold again with their real cost
            self.cfg.record.refold = None
            self.done[-1]["refold"] = why
            if self.cfg.progress:
                self.cfg.progress(f"     {why}: folding again")
            for d in ("rtl", "rtl-sizing"):
                shutil.rmtree(self.cfg.out / d, ignore_errors=True)
            self.cfg.record.rtl = {}
            model, start = self.model_before(self.lo), self.lo
        if last >= self.hi:
            model.save(str(self.cfg.out / DATAFLOW))  # the final graph: written once
        return self.span(model, self.hi + 1, last)

    def span(self, model, first: int, last: int, stop_on_refold: bool = False):
        for i in range(first, last + 1):
            model = self.one(i, model)
            if stop_on_refold and self.cfg.record.refold is not None:
                break
        return model

    def one(self, i: int, model):
        step, cfg = self.steps[i], self.cfg
        t0 = time.time()
        if cfg.progress:
            cfg.progress(f"[{i:02d}] {step.name}")
        model = step.run(model, cfg)
        rel = None
        if step.saves:
            rel = f"intermediate/{i:02d}_{step.name}.onnx"
            model.save(str(cfg.out / rel))
        cfg.record.save(cfg.out / record_path(i, step))
        self.done.append({"step": step.name, "seconds": round(time.time() - t0, 3), "model": rel})
        if step.after is not None:
            step.after(cfg.out)
        return model

    def model_before(self, i: int):
        """The model that entered step i: the last one a step before it saved."""
        return _load(self.cfg.out / model_before(self.steps, i))


def record_path(i: int, step: Step) -> str:
    return f"intermediate/{i:02d}_{step.name}.record.json"


def model_before(step_list: list[Step], i: int) -> str:
    k = max((j for j in range(i) if step_list[j].saves), default=None)
    if k is None:
        raise DqhwError(f"no saved model before step {step_list[i].name}")
    return f"intermediate/{k:02d}_{step_list[k].name}.onnx"


def step_range(step_list: list[Step], opts, out: Path) -> tuple[int, int]:
    """(first, last) step indices of --start-step / --stop-step (one-line errors for bad names)."""
    names = [s.name for s in step_list]

    def index(name: str | None, flag: str, default: int) -> int:
        if name is None:
            return default
        if name not in names:
            raise DqhwError(f"{flag} {name}: no such step in this build; the steps are {', '.join(names)}")
        return names.index(name)

    first = index(opts.start_step, "--start-step", 0)
    last = index(opts.stop_step, "--stop-step", len(names) - 1)
    if last < first:
        raise DqhwError(f"--stop-step {opts.stop_step} comes before --start-step {opts.start_step}")
    if first > 0:
        need = [out / model_before(step_list, first), out / record_path(first - 1, step_list[first - 1])]
        missing = [p for p in need if not p.is_file()]
        if missing:
            raise DqhwError(f"--start-step {opts.start_step}: {missing[0]} is missing (build up to the step "
                            f"before it first, e.g. with --stop-step {names[first - 1]})")
    return first, last


def restart(out: Path, tmp: Path, step_list: list[Step], first: int, cfg: BuildConfig):
    """Copy the build folder `out` into `tmp` and return (the model entering step `first`, the step log
    of the steps before it); cfg.record becomes the record saved after step first - 1."""
    shutil.copytree(out, tmp, dirs_exist_ok=True)
    cfg.record = BuildRecord.load(tmp / record_path(first - 1, step_list[first - 1]))
    info = json.loads((tmp / "build.json").read_text()) if (tmp / "build.json").is_file() else {}
    names = {s.name for s in step_list[:first]}
    done = [dict(s, restarted=True) for s in info.get("steps", []) if s["step"] in names]
    return _load(tmp / model_before(step_list, first)), done
