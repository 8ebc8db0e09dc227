"""The verdict: fixed rules, written in the config before any number exists, evaluated on the numbers.

A rule says "family BETTER is more accurate than family WORSE on METRIC at ε, in the evaluation PROFILE, at
every listed activation bit width, by more than the noise". Each bit width is one comparison of the means
over seeds, with a noise margin in percentage points:

    margin = seed spread + 2 binomial SE of the difference (+ the rule's fixed `margin`, default 0)
    seed spread = (max - min over BETTER's seeds) + (max - min over WORSE's seeds)   (0 with one seed each)
    SE = sqrt(p1 (1 - p1) / n1 + p2 (1 - p2) / n2)   p: mean accuracy, n: images evaluated for that cell

and one of three outcomes: "reproduces" (BETTER - WORSE > margin), "does not reproduce" (WORSE - BETTER >
margin), "tie within noise" (otherwise). The rule's outcome is the comparisons' common outcome, "partly"
when they differ, "not measured" when a number (or its image count) is missing. A family measured without
a bit width (FP) is compared with the other family at each of its bit widths.

Families: FP, FP+DQ, vanilla, DQ, each optionally with +rfgsm / +pgd (adversarial training); a run with
quantized weights carries its weight bits, "DQ W8" (the float-weight "DQ" is the paper's quantizer); and
" + FS" for the same run behind the feature squeezer.

`compare` and `judge` are pure functions of the numbers; tests/test_verdict_margins.py checks the arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from dqhw.stats import binomial_se, seed_spread

_BASE = ("FP", "FP+DQ", "vanilla", "DQ")
FAMILIES = tuple(f"{b}{adv}" for adv in ("", "+rfgsm", "+pgd") for b in _BASE)
METRICS = ("clean", "worst", "random", "fgsm", "rfgsm", "bim", "pgd", "pgd-strong", "square", "autoattack",
           "fgsm(B)", "pgd(B)")
REPRODUCES, PARTLY, DOES_NOT, TIE, NOT_MEASURED = ("reproduces", "partly", "does not reproduce", "tie within noise",
                                                  "not measured")
FS = " + FS"
_WTAG = re.compile(r"^(.*) W([1-8])$")

# cells: (profile, family, bits, metric, eps) -> accuracies (0..1), one per seed; bits "fp" or "1".."8";
# eps None for "clean"; counts: the same keys -> images evaluated
CellKey = tuple[str, str, str, str, int | None]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def half_range(values: Sequence[float]) -> float:
    return (max(values) - min(values)) / 2 if len(values) > 1 else 0.0


def fmt(values: Sequence[float] | None) -> str:
    """Percent, mean ± half-range over seeds (n seeds) when there are several."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * mean(values):.1f} ± {100 * half_range(values):.1f}"


def split_family(name: str) -> tuple[str, str | None, bool] | None:
    """'DQ+rfgsm W8 + FS' -> ('DQ+rfgsm', '8', True); None if NAME is not a family."""
    fs = name.endswith(FS)
    core = name.removesuffix(FS)
    m = _WTAG.match(core)
    wbits = m.group(2) if m else None
    core = m.group(1) if m else core
    if core not in FAMILIES or (wbits and core.startswith("FP")):
        return None
    return core, wbits, fs


def base_family(name: str) -> str:
    """The family without adversarial training, weight bits or squeezer: 'DQ+rfgsm W8 + FS' -> 'DQ'."""
    parts = split_family(name)
    return parts[0].split("+rfgsm")[0].split("+pgd")[0] if parts else name


def is_adv(name: str) -> bool:
    parts = split_family(name)
    return bool(parts) and ("+rfgsm" in parts[0] or "+pgd" in parts[0])


def family_of(settings: dict) -> str:
    """A training run's family from its TrainConfig settings (bits, wbits, beta, adv)."""
    fp = settings["bits"] == "fp" and settings["wbits"] == "fp"
    name = ("FP+DQ" if settings["beta"] > 0 else "FP") if fp else ("DQ" if settings["beta"] > 0 else "vanilla")
    name = name if settings["adv"] == "none" else f"{name}+{settings['adv']}"
    return name if fp or settings["wbits"] == "fp" else f"{name} W{settings['wbits']}"


def compare(better: Sequence[float], worse: Sequence[float], n_better: int, n_worse: int,
            extra: float = 0.0) -> dict:
    """One comparison (accuracies 0..1 per seed, images per cell); every number in percentage points."""
    diff = 100 * (mean(better) - mean(worse))
    spread = 100 * (seed_spread(better) + seed_spread(worse))
    se = 100 * binomial_se(mean(better), n_better, mean(worse), n_worse)
    margin = spread + 2 * se + extra
    outcome = REPRODUCES if diff > margin else DOES_NOT if -diff > margin else TIE
    return {"diff_points": diff, "seed_spread": spread, "se": se, "extra": extra, "margin": margin,
            "outcome": outcome}


def _bits_of(cells: Mapping[CellKey, Sequence[float]], rule, family: str) -> set[str]:
    return {k[2] for k in cells if k[0] == rule.profile and k[1] == family and k[3] == rule.metric
            and k[4] == rule.eps}


def _key(rule, family: str, bits: str, fp_like: bool) -> CellKey:
    return (rule.profile, family, "fp" if fp_like else bits, rule.metric, rule.eps)


def _compared_bits(rule, a_bits: set[str], b_bits: set[str]) -> list[str]:
    a_fp, b_fp = a_bits == {"fp"}, b_bits == {"fp"}
    if rule.bits is not None:
        return list(rule.bits)
    if a_fp and b_fp:
        return ["fp"]
    if a_fp:
        return sorted(b_bits - {"fp"}, key=_bit_order)
    if b_fp:
        return sorted(a_bits - {"fp"}, key=_bit_order)
    return sorted(a_bits & b_bits, key=_bit_order)


def judge(rule, cells: Mapping[CellKey, Sequence[float]], counts: Mapping[CellKey, int]) -> dict:
    """Evaluate one rule (a dqhw.reproduce.config.Rule) on the cells and their image counts; returns {claim,
    outcome, rows, missing, text, rule, paper}."""
    a_bits, b_bits = _bits_of(cells, rule, rule.better), _bits_of(cells, rule, rule.worse)
    a_fp, b_fp = a_bits == {"fp"}, b_bits == {"fp"}
    rows, missing = [], []
    for bits in _compared_bits(rule, a_bits, b_bits):
        ka, kb = _key(rule, rule.better, bits, a_fp), _key(rule, rule.worse, bits, b_fp)
        a, b, na, nb = cells.get(ka), cells.get(kb), counts.get(ka), counts.get(kb)
        if not a or not b or None in a or None in b or not na or not nb:
            missing.append(bits)
            continue
        rows.append({"bits": bits, "better": list(a), "worse": list(b), "n_better": na, "n_worse": nb,
                     **compare(a, b, na, nb, rule.margin)})
    outcomes = {r["outcome"] for r in rows}
    outcome = NOT_MEASURED if missing or not rows else outcomes.pop() if len(outcomes) == 1 else PARTLY
    parts = [_row_text(rule, r) for r in rows]
    if missing:
        parts.append("missing: " + ", ".join(_where(b) for b in missing))
    return {"claim": rule.claim, "outcome": outcome, "rows": rows, "missing": missing, "text": "; ".join(parts),
            "rule": {"profile": rule.profile, "metric": rule.metric, "eps": rule.eps, "better": rule.better,
                     "worse": rule.worse, "bits": rule.bits or "all", "margin": rule.margin},
            "paper": rule.paper}


def _where(bits: str) -> str:
    return "FP" if bits == "fp" else f"{bits} bit"


def _row_text(rule, r: dict) -> str:
    extra = f" + fixed {r['extra']:g}" if r["extra"] else ""
    return (f"{_where(r['bits'])}: {rule.better} {fmt(r['better'])} vs {rule.worse} {fmt(r['worse'])} "
            f"(n = {r['n_better']}/{r['n_worse']}): {r['diff_points']:+.1f} points, margin {r['margin']:.1f} "
            f"(seed spread {r['seed_spread']:.1f} + 2 SE {2 * r['se']:.1f}{extra}) → {r['outcome']}")


def _bit_order(b: str) -> tuple[int, int]:
    return (1, 0) if b == "fp" else (0, int(b))


def rule_text(rule) -> str:
    """The rule as stated in advance, in words."""
    from dqhw.evaluate import column_label

    metric = {"clean": "clean accuracy", "worst": "per-image worst case over every attack run"}.get(
        rule.metric, column_label(rule.metric))
    at = "" if rule.eps is None else f" at ε = {rule.eps}"
    bits = "every bit width measured" if rule.bits is None else ", ".join(_where(b) for b in rule.bits)
    fixed = f" + {rule.margin:g} points" if rule.margin else ""
    return (f"{rule.better} > {rule.worse} by more than the noise margin (seed spread + 2 binomial SE{fixed}) on "
            f"{metric}{at} ([eval.{rule.profile}], mean over seeds), at {bits}")
