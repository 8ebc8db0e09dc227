"""The mechanism experiment's config (configs/dq-mechanism.toml): loading and validation.

Every problem is one DqhwError line naming the file and the key. The schema, annotated, is the checked-in
config itself; docs/mechanism.md explains each rule.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dqhw.errors import DqhwError

EXPERIMENT_KEYS = {"name", "dataset", "data_dir", "train_subset", "test_subset", "subset_seed", "out", "jobs"}
RUN_KEYS = {"bits", "wbits", "beta", "seed", "dq_target"}
MEASURE_KEYS = {"transfer_source", "noise_seed", "d_eps", "robust_eps", "attacks", "square_queries", "attack_seed",
                "power_iterations"}
RULE_KEYS = {"residual_drop", "d_drop", "monotone_tolerance", "quant_vs_bypass_eps", "claim", "baselines",
             "baseline_seeds", "se_multiplier", "agree_metrics", "repair"}
MEASURE_ATTACKS = ("fgsm", "pgd", "pgd-strong", "square", "transfer-pgd")
# [train] keys the experiment owns (set per run or by the runner)
OWNED_TRAIN_KEYS = {"out", "seed", "beta", "dataset", "data_dir", "device", "init", "distill", "extra"}


@dataclass(frozen=True)
class RunSpec:
    name: str
    group: str  # the name without its seed suffix: runs of one group differ only in the seed
    seed: int
    train: dict  # TrainConfig fields

    @property
    def quantized(self) -> bool:
        return str(self.train.get("bits", "fp")).lower() != "fp"

    @property
    def beta(self) -> float:
        return float(self.train.get("beta", 0.0))


@dataclass
class MechanismConfig:
    path: Path
    name: str
    dataset: str
    data_dir: str
    train_subset: int
    test_subset: int
    subset_seed: int
    out: str
    jobs: int
    runs: list[RunSpec]
    measure: dict
    rules: dict
    raw: dict = field(default_factory=dict)

    def run(self, name: str) -> RunSpec:
        for r in self.runs:
            if r.name == name:
                return r
        raise DqhwError(f"{self.path}: no run named {name!r}")

    def group(self, group: str) -> list[RunSpec]:
        return [r for r in self.runs if r.group == group]


def _err(path, msg: str) -> DqhwError:
    return DqhwError(f"{path}: {msg}")


def _unknown(path, section: str, table: dict, allowed: set) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise _err(path, f"[{section}] unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _group_of(name: str, seed: int) -> str:
    suffix = f"-s{seed}"
    return name[: -len(suffix)] if name.endswith(suffix) else name


def load(path: str | Path) -> MechanismConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as e:
        raise _err(path, f"cannot read ({e.strerror or type(e).__name__})") from None
    except tomllib.TOMLDecodeError as e:
        raise _err(path, f"not valid TOML ({e})") from None
    for section in ("experiment", "train", "runs", "measure", "rules"):
        if not isinstance(raw.get(section), dict):
            raise _err(path, f"missing [{section}] table")
    ex, train, measure, rules = raw["experiment"], raw["train"], raw["measure"], raw["rules"]
    _unknown(path, "experiment", ex, EXPERIMENT_KEYS)
    _unknown(path, "measure", measure, MEASURE_KEYS)
    _unknown(path, "rules", rules, RULE_KEYS)
    owned = sorted(set(train) & OWNED_TRAIN_KEYS)
    if owned:
        raise _err(path, f"[train] {owned[0]}: set per run or by the experiment, not in [train]")
    runs = []
    for name, spec in raw["runs"].items():
        if not isinstance(spec, dict):
            raise _err(path, f"[runs] {name}: expected an inline table {{ beta = ..., seed = ... }}")
        _unknown(path, f"runs] [{name}", spec, RUN_KEYS)
        seed = spec.get("seed", 0)
        if not isinstance(seed, int) or seed < 0:
            raise _err(path, f"[runs] {name}: seed must be an integer >= 0, got {seed!r}")
        beta = spec.get("beta", 0.0)
        if not isinstance(beta, (int, float)) or beta < 0:
            raise _err(path, f"[runs] {name}: beta must be a number >= 0, got {beta!r}")
        fields = dict(train) | {k: v for k, v in spec.items() if k != "seed"}
        for key in ("bits", "wbits"):
            if str(fields.get(key, "fp")).lower() == "fp":
                fields[key] = "fp"
        runs.append(RunSpec(name, _group_of(name, seed), seed, fields))
    if not runs:
        raise _err(path, "[runs] is empty")
    cfg = MechanismConfig(
        path=path, name=str(ex.get("name", path.stem)), dataset=str(ex.get("dataset", "cifar10")),
        data_dir=str(ex.get("data_dir", "data/cifar10.npz")), train_subset=int(ex.get("train_subset", 10000)),
        test_subset=int(ex.get("test_subset", 1000)), subset_seed=int(ex.get("subset_seed", 0)),
        out=str(ex.get("out", f"runs/{path.stem}")), jobs=int(ex.get("jobs", 1)), runs=runs, measure=measure,
        rules=rules, raw=raw)
    _check(cfg)
    return cfg


def _check(cfg: MechanismConfig) -> None:
    path, m, r = cfg.path, cfg.measure, cfg.rules
    if cfg.jobs < 1:
        raise _err(path, f"[experiment] jobs must be >= 1, got {cfg.jobs}")
    bad = [a for a in m.get("attacks", []) if a not in MEASURE_ATTACKS]
    if bad:
        raise _err(path, f"[measure] attacks: {bad[0]!r} is not one of {', '.join(MEASURE_ATTACKS)}")
    names = {x.name for x in cfg.runs}
    src = m.get("transfer_source")
    if src not in names:
        raise _err(path, f"[measure] transfer_source: {src!r} is not a run in [runs]")
    for key in ("d_eps", "robust_eps", "quant_vs_bypass_eps"):
        vals = (m if key != "quant_vs_bypass_eps" else r).get(key, [])
        if not vals or not all(isinstance(e, int) and 1 <= e <= 255 for e in vals):
            raise _err(path, f"{key}: a non-empty list of integer eps 1..255 (pixels) is required")
    groups = {x.group for x in cfg.runs}
    for g in [r.get("claim"), *r.get("baselines", []), *([r["repair"]] if r.get("repair") else [])]:
        if g not in groups:
            raise _err(path, f"[rules] {g!r} is not a run group (groups: {', '.join(sorted(groups))})")


# where the experiment's files go (read by the runner, the measurements and the report)
def subset_path(cfg: MechanismConfig) -> Path:
    return Path(cfg.out) / "data" / "subset.npz"


def run_dir(cfg: MechanismConfig, run: RunSpec) -> Path:
    return Path(cfg.out) / "runs" / run.name
