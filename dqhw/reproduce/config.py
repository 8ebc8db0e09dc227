"""The reproduce config (TOML, configs/*.toml): loading and validation.

Every problem is one DqhwError line naming the file and the key, e.g.
`configs/x.toml: [models.dq] bits: 9 is not an activation bit width 1..8 or "fp"`.
The schema (docs/reproduce.md has the annotated version):

  [experiment]  name, description, dataset, data_dir, dataset_label, train_subset, test_subset,
                subset_seed, out, device, threads
  [train]       TrainConfig fields shared by every model (model, width, epochs, lr, wbits, ...)
  [models.NAME] one group of training runs: bits (one or a list), seeds, seeds_at = {"2" = [0, 1]},
                init = "OTHER GROUP", role = "substitute" (at most one), any TrainConfig field
  [eval.paper]  Table 1 / Fig. 3 evaluation: which runs (groups, bits, seeds), eps, attacks, limit, ...
  [eval.strong] the full-strength evaluation (Tables 2 and the strong-attack table, the worst case)
  [eval.squeeze] the feature-squeezing evaluation (Table 3)
  [hardware]    the pair that goes through dqhw build + dqhw sim, chosen by a rule fixed here
  [[verdict]]   the rules, fixed in advance, that turn numbers into "reproduces" / "does not reproduce" /
                "tie within noise" (dqhw/reproduce/verdict.py: the noise margin)
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dqhw.errors import DqhwError

PROFILES = ("paper", "strong", "squeeze")
DATASET_LABELS = {"cifar10": "CIFAR-10 (JPEG copy)", "digits": "sklearn digits (8×8, 17 grey levels)",
                  "svhn": "SVHN"}
# TrainConfig fields a config may not set per model: the reproduce command owns them
_OWNED = {"out", "dataset", "data_dir", "extra", "seed", "device", "init"}
EXPERIMENT_KEYS = {"name", "description", "dataset", "data_dir", "dataset_label", "train_subset", "test_subset",
                   "subset_seed", "out", "device", "threads"}
GROUP_KEYS = {"bits", "seeds", "seeds_at", "init", "role"}
EVAL_KEYS = {"groups", "bits", "seeds", "eps", "attacks", "limit", "queries", "transfer", "amplification",
             "large_eps", "autoattack_images", "seed", "batch_size"}
HARDWARE_KEYS = {"enabled", "vanilla", "dq", "bits", "seed", "eps", "board", "verify_frames", "prove_frames",
                 "sim_limit", "full_test_split", "synth", "reason"}
RULE_KEYS = {"claim", "profile", "metric", "eps", "better", "worse", "bits", "margin", "paper"}


@dataclass
class Group:
    name: str
    fields: dict  # TrainConfig overrides of this group (on top of [train])
    bits: list[str]
    seeds: list[int]
    seeds_at: dict[str, list[int]]
    init: str | None = None
    role: str = "model"  # or "substitute"

    def runs(self) -> list[tuple[str, int]]:
        """(bits, seed) of every run of the group, in order."""
        return [(b, s) for b in self.bits for s in self.seeds_at.get(b, self.seeds)]


@dataclass
class EvalProfile:
    name: str
    groups: list[str] | None = None  # None: every model group
    bits: list[str] | None = None  # None: every bit width
    seeds: list[int] | None = None  # None: every seed
    eps: list[int] = field(default_factory=list)
    attacks: list[str] = field(default_factory=list)
    limit: int | None = None
    queries: int | None = None
    transfer: bool = False
    amplification: bool = False
    large_eps: int = 0
    autoattack_images: int = 500
    seed: int = 0
    batch_size: int = 256

    def selects(self, group: str, bits: str, seed: int) -> bool:
        return ((self.groups is None or group in self.groups) and (self.bits is None or bits in self.bits)
                and (self.seeds is None or seed in self.seeds))

    def settings(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("groups", "bits", "seeds"):
            d.pop(k)
        return d


@dataclass
class Hardware:
    enabled: bool = False
    vanilla: str = ""
    dq: str = ""
    bits: str = "2"
    seed: int = 0
    eps: int = 8
    board: str = "pynq-z2"
    verify_frames: int = 64
    prove_frames: int = 16
    sim_limit: int | None = None  # None: the whole test split
    # with a test subset: also the data set's whole clean test split (e.g. CIFAR-10's 10,000) through the RTL
    full_test_split: bool = True
    synth: bool = False
    reason: str = ""  # why hardware is off, when it is


@dataclass
class Rule:
    claim: str
    profile: str
    metric: str
    eps: int | None
    better: str
    worse: str
    bits: list[str] | None  # None: every bit width both families were measured at
    margin: float = 0.0  # percentage points, on top of the noise margin (seed spread + 2 binomial SE)
    paper: str = ""


@dataclass
class ReproConfig:
    path: Path
    name: str
    description: str
    dataset: str
    data_dir: str | None
    dataset_label: str
    train_subset: int | None
    test_subset: int | None
    subset_seed: int
    out: str
    device: str
    threads: int | None
    train: dict
    groups: dict[str, Group]
    evals: dict[str, EvalProfile]
    hardware: Hardware
    verdict: list[Rule]
    raw: dict

    @property
    def substitute(self) -> Group | None:
        return next((g for g in self.groups.values() if g.role == "substitute"), None)


def _err(path: Path, where: str, msg: str) -> DqhwError:
    return DqhwError(f"{path}: {where}: {msg}" if where else f"{path}: {msg}")


def _bits_list(path: Path, where: str, v) -> list[str]:
    from dqhw.quant import parse_bits

    items = v if isinstance(v, list) else [v]
    if not items:
        raise _err(path, where, "bits: needs at least one bit width")
    out = []
    for b in items:
        s = str(b)
        try:
            parse_bits(s, "bits")
        except DqhwError:
            raise _err(path, where, f"bits: {b!r} is not an activation bit width 1..8 or \"fp\"") from None
        if s in out:
            raise _err(path, where, f"bits: {s} is listed twice")
        out.append(s)
    return out


def _int_list(path: Path, where: str, key: str, v, lo: int = 0, hi: int | None = None) -> list[int]:
    if not isinstance(v, list) or not v or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise _err(path, where, f"{key}: must be a non-empty list of integers, got {v!r}")
    for x in v:
        if x < lo or (hi is not None and x > hi):
            raise _err(path, where, f"{key}: {x} is outside {lo}..{hi if hi is not None else ''}")
    if len(set(v)) != len(v):
        raise _err(path, where, f"{key}: duplicate values in {v}")
    return list(v)


def _check_keys(path: Path, where: str, d: dict, allowed: set[str]) -> None:
    if not isinstance(d, dict):
        raise _err(path, where, f"must be a table, got {type(d).__name__}")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise _err(path, where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _typed(path: Path, where: str, d: dict, key: str, kind, default=None, allow_none: bool = False):
    v = d.get(key, default)
    if v is None and (allow_none or default is None):
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(v, bool) and bool not in kinds:
        raise _err(path, where, f"{key}: expected {kinds[0].__name__}, got {v!r}")
    if not isinstance(v, kinds):
        raise _err(path, where, f"{key}: expected {kinds[0].__name__}, got {v!r}")
    return v


def train_fields() -> set[str]:
    from dqhw.config import TrainConfig

    return {f.name for f in dataclasses.fields(TrainConfig)} - _OWNED


def load_config(path: str | Path) -> ReproConfig:
    """Read and validate a reproduce config; every problem is one DqhwError line."""
    path = Path(path)
    if not path.is_file():
        raise DqhwError(f"{path}: no such config file (see configs/ and docs/reproduce.md)")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise DqhwError(f"{path}: not valid TOML ({e})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DqhwError(f"{path}: unreadable ({type(e).__name__})") from None
    return parse_config(raw, path)


def parse_config(raw: dict, path: Path) -> ReproConfig:
    from dqhw.attacks import check_attack, check_eps
    from dqhw.data import DATASETS

    _check_keys(path, "", raw, {"experiment", "train", "models", "eval", "hardware", "verdict"})
    for need in ("experiment", "models"):
        if need not in raw:
            raise _err(path, "", f"missing [{need}] section")
    ex = raw["experiment"]
    _check_keys(path, "[experiment]", ex, EXPERIMENT_KEYS)
    w = "[experiment]"
    name = _typed(path, w, ex, "name", str) or path.stem
    dataset = _typed(path, w, ex, "dataset", str, "digits")
    if dataset not in DATASETS:
        raise _err(path, w, f"dataset: {dataset!r} is not one of {', '.join(DATASETS)}")
    data_dir = _typed(path, w, ex, "data_dir", str)
    if dataset != "digits" and not data_dir:
        raise _err(path, w, f"data_dir: dataset {dataset} needs a data_dir")
    subsets = {}
    for k in ("train_subset", "test_subset"):
        v = _typed(path, w, ex, k, int)
        if v is not None and v < 10:
            raise _err(path, w, f"{k}: must be >= 10 images, got {v}")
        subsets[k] = v
    if dataset == "digits" and any(subsets.values()):
        raise _err(path, w, "train_subset/test_subset: digits is small enough; subsets are for cifar10/svhn")
    threads = _typed(path, w, ex, "threads", int)
    if threads is not None and threads < 1:
        raise _err(path, w, f"threads: must be >= 1, got {threads}")
    device = _typed(path, w, ex, "device", str, "cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise _err(path, w, f"device: {device!r} is not cpu or cuda[:N]")

    train = raw.get("train", {})
    allowed_train = train_fields()
    _check_keys(path, "[train]", train, allowed_train)
    groups = _groups(raw["models"], train, allowed_train, path, dataset)
    evals = _evals(raw.get("eval", {}), groups, path, check_attack, check_eps)
    hardware = _hardware(raw.get("hardware"), groups, evals, path, check_eps)
    rules = _rules(raw.get("verdict", []), evals, path, check_eps)
    return ReproConfig(
        path=path, name=name, description=_typed(path, w, ex, "description", str, "") or "", dataset=dataset,
        data_dir=data_dir, dataset_label=_typed(path, w, ex, "dataset_label", str) or DATASET_LABELS[dataset],
        train_subset=subsets["train_subset"], test_subset=subsets["test_subset"],
        subset_seed=_typed(path, w, ex, "subset_seed", int, 0), out=_typed(path, w, ex, "out", str)
        or f"runs/reproduce/{name}", device=device, threads=threads, train=dict(train), groups=groups,
        evals=evals, hardware=hardware, verdict=rules, raw=raw)


def _groups(models: dict, train: dict, allowed: set[str], path: Path, dataset: str) -> dict[str, Group]:
    from dqhw.config import TrainConfig

    if not isinstance(models, dict) or not models:
        raise _err(path, "[models]", "needs at least one [models.NAME] group")
    groups: dict[str, Group] = {}
    for gname, g in models.items():
        where = f"[models.{gname}]"
        _check_keys(path, where, g, allowed | GROUP_KEYS)
        if not gname.replace("-", "").replace("_", "").isalnum():
            raise _err(path, where, "group names may hold letters, digits, '-' and '_' only")
        bits = _bits_list(path, where, g.get("bits", train.get("bits", "2")))
        seeds = _int_list(path, where, "seeds", g.get("seeds", [0]))
        seeds_at_raw = g.get("seeds_at", {})
        if not isinstance(seeds_at_raw, dict):
            raise _err(path, where, "seeds_at: must be a table like { \"2\" = [0, 1] }")
        seeds_at = {}
        for b, ss in seeds_at_raw.items():
            if str(b) not in bits:
                raise _err(path, where, f"seeds_at: bit width {b} is not in bits {bits}")
            seeds_at[str(b)] = _int_list(path, where, f"seeds_at.{b}", ss)
        role = g.get("role", "model")
        if role not in ("model", "substitute"):
            raise _err(path, where, f"role: must be \"model\" or \"substitute\", got {role!r}")
        fields = {k: v for k, v in g.items() if k not in GROUP_KEYS}
        init = g.get("init")
        if init is not None and (not isinstance(init, str) or init not in models or init == gname):
            raise _err(path, where, f"init: must name another [models.*] group, got {init!r}")
        grp = Group(gname, fields, bits, seeds, seeds_at, init, role)
        for b, s in grp.runs():  # each run must be a valid TrainConfig (init is checked by the plan)
            kw = {**train, **fields, "bits": b}
            try:
                TrainConfig(**kw, dataset=dataset, seed=s).validate()
            except DqhwError as e:
                raise _err(path, where, f"bits {b}, seed {s}: {e}") from None
            except TypeError as e:
                raise _err(path, where, f"bits {b}: {e}") from None
        groups[gname] = grp
    subs = [g for g in groups.values() if g.role == "substitute"]
    if len(subs) > 1:
        raise _err(path, "[models]", f"at most one substitute group, got {', '.join(g.name for g in subs)}")
    if subs and len(subs[0].runs()) != 1:
        raise _err(path, f"[models.{subs[0].name}]", "the substitute must be one run (one bit width, one seed)")
    # init chains must end (no cycles) and start from a model group
    for g in groups.values():
        seen, cur = {g.name}, g.init
        while cur is not None:
            if cur in seen:
                raise _err(path, f"[models.{g.name}]", f"init: cycle through {cur!r}")
            seen.add(cur)
            cur = groups[cur].init
    return groups


def _evals(ev: dict, groups: dict[str, Group], path: Path, check_attack, check_eps) -> dict[str, EvalProfile]:
    _check_keys(path, "[eval]", ev, set(PROFILES))
    out = {}
    models = [g for g in groups.values() if g.role == "model"]
    for pname, d in ev.items():
        where = f"[eval.{pname}]"
        _check_keys(path, where, d, EVAL_KEYS)
        p = EvalProfile(pname)
        if "groups" in d:
            gs = d["groups"]
            if not isinstance(gs, list) or not gs:
                raise _err(path, where, "groups: must be a non-empty list of [models.*] names")
            for gname in gs:
                if gname not in groups or groups[gname].role != "model":
                    raise _err(path, where, f"groups: {gname!r} is not a model group "
                               f"({', '.join(g.name for g in models)})")
            p.groups = list(gs)
        if "bits" in d:
            p.bits = _bits_list(path, where, d["bits"])
        if "seeds" in d:
            p.seeds = _int_list(path, where, "seeds", d["seeds"])
        try:
            p.eps = [check_eps(e) for e in _int_list(path, where, "eps", d.get("eps", []), 0, 255)]
            attacks = d.get("attacks")
            if not isinstance(attacks, list) or not attacks:
                raise _err(path, where, "attacks: must be a non-empty list of attack names")
            p.attacks = [check_attack(a) for a in attacks]
        except DqhwError as e:
            if str(e).startswith(str(path)):
                raise
            raise _err(path, where, str(e)) from None
        for k in ("limit", "queries"):
            v = _typed(path, where, d, k, int)
            if v is not None and v < 1:
                raise _err(path, where, f"{k}: must be >= 1, got {v}")
            setattr(p, k, v)
        for k in ("transfer", "amplification"):
            setattr(p, k, bool(_typed(path, where, d, k, bool, False)))
        p.large_eps = _typed(path, where, d, "large_eps", int, 0)
        if not 0 <= p.large_eps <= 255:
            raise _err(path, where, f"large_eps: must be 0 (off) .. 255, got {p.large_eps}")
        p.autoattack_images = _typed(path, where, d, "autoattack_images", int, 500)
        p.seed = _typed(path, where, d, "seed", int, 0)
        p.batch_size = _typed(path, where, d, "batch_size", int, 256)
        if p.transfer and not any(g.role == "substitute" for g in groups.values()):
            raise _err(path, where, "transfer = true needs a substitute group (role = \"substitute\")")
        if not any(p.selects(g.name, b, s) for g in models for b, s in g.runs()):
            raise _err(path, where, "selects no run (check groups / bits / seeds)")
        out[pname] = p
    if "paper" not in out:
        raise _err(path, "[eval]", "needs [eval.paper] (Table 1)")
    return out


def _hardware(hw: dict | None, groups: dict[str, Group], evals: dict[str, EvalProfile], path: Path,
              check_eps) -> Hardware:
    if hw is None:
        return Hardware(enabled=False, reason="no [hardware] section")
    where = "[hardware]"
    _check_keys(path, where, hw, HARDWARE_KEYS)
    h = Hardware(enabled=bool(_typed(path, where, hw, "enabled", bool, True)))
    h.reason = _typed(path, where, hw, "reason", str, "") or ""
    if not h.enabled:
        if not h.reason:
            raise _err(path, where, "enabled = false needs a reason = \"...\" (the report prints it)")
        return h
    for k in ("vanilla", "dq"):
        gname = _typed(path, where, hw, k, str)
        if gname not in groups or groups[gname].role != "model":
            raise _err(path, where, f"{k}: must name a model group, got {gname!r}")
        setattr(h, k, gname)
    h.bits = str(hw.get("bits", "2"))
    h.seed = _typed(path, where, hw, "seed", int, 0)
    for k in ("vanilla", "dq"):
        if (h.bits, h.seed) not in groups[getattr(h, k)].runs():
            raise _err(path, where, f"{k}: group {getattr(h, k)!r} has no run at bits {h.bits}, seed {h.seed}")
    try:
        h.eps = check_eps(_typed(path, where, hw, "eps", int, 8))
    except DqhwError as e:
        raise _err(path, where, str(e)) from None
    strong = evals.get("strong")
    if strong is None or h.eps not in strong.eps:
        raise _err(path, where, f"eps: {h.eps} must be one of [eval.strong] eps (the worst-case set comes from it)")
    for k in ("vanilla", "dq"):
        if not strong.selects(getattr(h, k), h.bits, h.seed):
            raise _err(path, where, f"{k}: [eval.strong] must evaluate this run (its worst case goes to the RTL)")
    h.board = _typed(path, where, hw, "board", str, "pynq-z2")
    h.verify_frames = _typed(path, where, hw, "verify_frames", int, 64)
    h.prove_frames = _typed(path, where, hw, "prove_frames", int, 16)
    h.sim_limit = _typed(path, where, hw, "sim_limit", int)
    if h.sim_limit is not None and h.sim_limit < 1:
        raise _err(path, where, f"sim_limit: must be >= 1 (leave it out for the whole test split), got {h.sim_limit}")
    h.full_test_split = bool(_typed(path, where, hw, "full_test_split", bool, True))
    h.synth = bool(_typed(path, where, hw, "synth", bool, False))
    return h


def _rules(items, evals: dict[str, EvalProfile], path: Path, check_eps) -> list[Rule]:
    from dqhw.reproduce.verdict import FAMILIES, METRICS, split_family

    if not isinstance(items, list):
        raise _err(path, "[[verdict]]", "must be an array of tables ([[verdict]] ...)")
    rules = []
    for i, d in enumerate(items):
        where = f"[[verdict]] #{i + 1}"
        _check_keys(path, where, d, RULE_KEYS)
        for k in ("claim", "metric", "better", "worse"):
            if not isinstance(d.get(k), str) or not d[k]:
                raise _err(path, where, f"{k}: required (a string)")
        profile = d.get("profile", "paper")
        if profile not in evals:
            raise _err(path, where, f"profile: {profile!r} is not an [eval.*] section of this config")
        metric = d["metric"]
        if metric not in METRICS:
            raise _err(path, where, f"metric: {metric!r} is not one of {', '.join(METRICS)}")
        p = evals[profile]
        if metric not in ("clean", "worst") and metric.removesuffix("(B)") not in p.attacks:
            raise _err(path, where, f"metric: [eval.{profile}] does not run {metric.removesuffix('(B)')!r}")
        if metric.endswith("(B)") and not p.transfer:
            raise _err(path, where, f"metric: {metric} needs transfer = true in [eval.{profile}]")
        eps = d.get("eps")
        if metric == "clean":
            eps = None
        elif eps is None or eps not in p.eps:
            raise _err(path, where, f"eps: must be one of [eval.{profile}] eps {p.eps}, got {eps!r}")
        for k in ("better", "worse"):
            if split_family(d[k]) is None:
                raise _err(path, where, f"{k}: {d[k]!r} is not a family ({', '.join(FAMILIES)}; vanilla/DQ with "
                           "quantized weights as 'DQ W8'; optionally with ' + FS')")
        bits = d.get("bits", "all")
        bits = None if bits == "all" else _bits_list(path, where, bits)
        margin = d.get("margin", 0.0)  # a fixed margin on top of the noise margin (verdict.compare)
        if not isinstance(margin, (int, float)) or isinstance(margin, bool) or margin < 0:
            raise _err(path, where, f"margin: must be a number of percentage points >= 0, got {margin!r}")
        rules.append(Rule(d["claim"], profile, metric, eps, d["better"], d["worse"], bits, float(margin),
                          str(d.get("paper", ""))))
    return rules
