"""The unit graph of a reproduce config: what has to be computed, in which order, and what is done.

Units (kind: what it writes under OUT/):
  data   data/<id>.npz             a seeded class-stratified subset of the data set (train_subset/test_subset)
  train  runs/<name>/              one `dqhw train` run (resumes from its checkpoint.pt after a kill)
  eval   eval/<profile>/<name>/    one `dqhw eval` report of one run in one profile (paper, strong, squeeze)
  worst  hw/<name>/worst-eps<E>.npz the per-image worst case over every set of the strong evaluation at ε = E
  build  hw/<name>/build/          `dqhw build` of the run (sealed, proven RTL)
  sim    hw/<name>/build/sim/      `dqhw sim`: the whole clean test split + the worst-case set through the RTL

A unit's id is `<kind>-<readable name>-<8 hex digits of sha256(settings)>`; its settings hold everything that
changes its result (the TrainConfig, the evaluation's attacks and sample, the ids of the units it reads), so
editing the config gives new ids and only the affected units are recomputed. A unit is done when
OUT/done/<id>.json exists (written atomically, temp file then rename, after the unit's outputs are complete)
and its outputs are still there; anything else is computed again (training resumes from its checkpoint).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from dqhw.io import write_json
from dqhw.reproduce.config import ReproConfig

DONE = "done"
KINDS = ("data", "train", "eval", "worst", "build", "sim")


@dataclass
class Unit:
    id: str
    kind: str
    name: str  # readable part of the id (run name, profile/run name)
    settings: dict  # everything that determines the result (hashed into the id)
    deps: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # group, bits, seed, profile, paths ... (not hashed)

    @property
    def title(self) -> str:
        return f"{self.kind} {self.name}"


def settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _unit(kind: str, name: str, settings: dict, deps: list[str], **meta) -> Unit:
    return Unit(f"{kind}-{name}-{settings_hash(settings)}", kind, name, settings, deps, meta)


def run_name(group: str, bits: str, seed: int) -> str:
    return f"{group}-{'fp' if bits == 'fp' else 'a' + bits}-s{seed}"


def make_plan(cfg: ReproConfig, out: Path, hardware: bool = True) -> list[Unit]:
    """Every unit of the config, dependencies before dependants."""
    units: list[Unit] = []
    data_unit = None
    data_key: object = {"dataset": cfg.dataset, "data_dir": cfg.data_dir}
    if cfg.train_subset or cfg.test_subset:
        settings = {"dataset": cfg.dataset, "source": cfg.data_dir, "train_subset": cfg.train_subset,
                    "test_subset": cfg.test_subset, "seed": cfg.subset_seed}
        data_unit = _unit("data", f"{cfg.dataset}-subset", settings, [])
        data_unit.meta["path"] = str(out / "data" / f"{data_unit.id}.npz")
        units.append(data_unit)
        data_key = data_unit.id

    trains: dict[tuple[str, str, int], Unit] = {}
    for gname in _init_order(cfg):
        g = cfg.groups[gname]
        for bits, seed in g.runs():
            from dqhw.config import TrainConfig

            kw = {**cfg.train, **g.fields, "bits": bits}
            tc = TrainConfig(**kw, dataset=cfg.dataset, seed=seed).validate()
            settings = {k: v for k, v in tc.to_dict().items() if k not in ("out", "device", "data_dir", "init",
                                                                           "extra")}
            settings["data"] = data_key
            deps = [data_unit.id] if data_unit else []
            init_unit = None
            if g.init:
                init_unit = _init_run(cfg, trains, g.init, bits, seed)
                settings["init"] = init_unit.id
                deps.append(init_unit.id)
            u = _unit("train", run_name(gname, bits, seed), settings, deps, group=gname, bits=bits, seed=seed,
                      role=g.role, train_kwargs=kw, init=init_unit.id if init_unit else None)
            u.meta["run_dir"] = str(out / "runs" / u.id.removeprefix("train-"))
            trains[(gname, bits, seed)] = u
            units.append(u)
    by_id = {u.id: u for u in units}
    for u in trains.values():
        if u.meta["init"]:
            u.meta["init_dir"] = by_id[u.meta["init"]].meta["run_dir"]

    sub = cfg.substitute
    sub_unit = trains[(sub.name, *sub.runs()[0])] if sub else None
    h = cfg.hardware
    # the hardware runs' strong evaluation saves its sets (the worst-case set is built from them) even under
    # --no-hardware, so that switching the flag does not change the evaluation units' ids
    hw_keys = {(h.vanilla, h.bits, h.seed), (h.dq, h.bits, h.seed)} if h.enabled else set()
    hw = h if hardware and h.enabled else None
    evals: dict[tuple[str, str, str, int], Unit] = {}
    for pname, p in cfg.evals.items():
        for (gname, bits, seed), t in trains.items():
            if t.meta["role"] != "model" or not p.selects(gname, bits, seed):
                continue
            save_sets = pname == "strong" and (gname, bits, seed) in hw_keys
            settings = {**p.settings(), "run": t.id, "squeeze": pname == "squeeze", "save_sets": save_sets,
                        "source": sub_unit.id if (p.transfer and sub_unit) else None}
            deps = [t.id] + ([sub_unit.id] if settings["source"] else [])
            u = _unit("eval", f"{pname}-{t.name}", settings, deps, profile=pname, group=gname, bits=bits, seed=seed,
                      run=t.id)
            u.meta["out_dir"] = str(out / "eval" / pname / t.id.removeprefix("train-"))
            evals[(pname, gname, bits, seed)] = u
            units.append(u)
    if hw:
        for gname in (hw.vanilla, hw.dq):
            t = trains[(gname, hw.bits, hw.seed)]
            ev = evals[("strong", gname, hw.bits, hw.seed)]
            base = out / "hw" / t.id.removeprefix("train-")
            w = _unit("worst", f"{t.name}-eps{hw.eps}", {"run": t.id, "eval": ev.id, "eps": hw.eps}, [ev.id],
                      run=t.id, group=gname, bits=hw.bits, seed=hw.seed, path=str(base / f"worst-eps{hw.eps}.npz"))
            b = _unit("build", t.name, {"run": t.id, "after": w.id, "board": hw.board,
                                         "verify_frames": hw.verify_frames, "prove_frames": hw.prove_frames,
                                         "synth": hw.synth}, [t.id, w.id], run=t.id, group=gname,
                      build_dir=str(base / "build"))
            full = hw.full_test_split and bool(cfg.test_subset)  # the subset's split is the whole split otherwise
            s = _unit("sim", t.name, {"build": b.id, "worst": w.id, "sim_limit": hw.sim_limit, "full_test_split": full,
                                     "amp_eps": hw.eps},
                      [b.id, w.id],
                      run=t.id, group=gname, build_dir=str(base / "build"), worst=w.meta["path"])
            units += [w, b, s]
    for u in units:
        if u.kind == "eval" or u.kind in ("worst", "build", "sim"):
            u.meta["run_dir"] = by_id[u.meta["run"]].meta["run_dir"] if u.meta.get("run") in by_id else None
        if u.kind == "eval" and u.settings["source"]:
            u.meta["source_dir"] = by_id[u.settings["source"]].meta["run_dir"]
    return units


def _init_order(cfg: ReproConfig) -> list[str]:
    """Groups in config order, except that a group comes after the group it starts from (init)."""
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if cfg.groups[name].init:
            visit(cfg.groups[name].init)
        done.append(name)

    for name in cfg.groups:
        visit(name)
    return done


def _init_run(cfg: ReproConfig, trains: dict, group: str, bits: str, seed: int) -> Unit:
    """The run a group starts from: the init group's run with the same bit width and seed (a hardware twin
    from its float-weight run), else the one with the same seed, else its first run."""
    g = cfg.groups[group]
    if (bits, seed) in g.runs():
        return trains[(group, bits, seed)]
    for bits, s in g.runs():
        if s == seed:
            return trains[(group, bits, s)]
    return trains[(group, *g.runs()[0])]


# --------------------------------------------------------------------------------------------------
# done records


def done_path(out: Path, unit: Unit) -> Path:
    return out / DONE / f"{unit.id}.json"


def outputs(unit: Unit) -> list[Path]:
    """The files a finished unit leaves (a done record without them is stale)."""
    m = unit.meta
    if unit.kind == "data":
        return [Path(m["path"])]
    if unit.kind == "train":
        return [Path(m["run_dir"]) / "checkpoint.pt", Path(m["run_dir"]) / "metrics.json"]
    if unit.kind == "eval":
        return [Path(m["out_dir"]) / "report.json"]
    if unit.kind == "worst":
        return [Path(m["path"])]
    if unit.kind == "build":
        return [Path(m["build_dir"]) / "rtl" / "design.json"]
    return [Path(m["build_dir"]) / "sim" / "report.json"]


def read_done(out: Path, unit: Unit) -> dict | None:
    """The unit's done record if it is complete and current, else None."""
    p = done_path(out, unit)
    try:
        rec = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    if rec.get("id") != unit.id or rec.get("settings") != json.loads(json.dumps(unit.settings, default=str)):
        return None
    if not all(o.exists() for o in outputs(unit)):
        return None
    return rec


def write_done(out: Path, unit: Unit, result: dict, wall: float, started: str, machine: dict) -> dict:
    rec = {"id": unit.id, "kind": unit.kind, "name": unit.name, "settings": unit.settings, "result": result,
           "wall_seconds": round(wall, 1), "started": started, "machine": machine}
    write_json(done_path(out, unit), rec)
    return rec


def train_progress(unit: Unit) -> tuple[int, int] | None:
    """(epochs done, epochs total) of an unfinished training unit with a checkpoint, else None."""
    m = Path(unit.meta["run_dir"]) / "metrics.json"
    try:
        done = len(json.loads(m.read_text())["epochs"])
    except (OSError, ValueError, KeyError):
        return None
    return done, int(unit.settings["epochs"])
