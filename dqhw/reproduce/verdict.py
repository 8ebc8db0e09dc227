"""The verdict: fixed rules, written in the config before any number exists, evaluated on the numbers.

A rule says "family BETTER is at least as accurate as family WORSE (+ margin points) on METRIC at ε, in
the evaluation PROFILE, at every listed activation bit width". It is judged on the mean over seeds:

- "reproduces"          the inequality holds at every bit width compared;
- "does not reproduce"  it holds at none;
- "partly"              it holds at some and not at others;
- "not measured"        a number it needs is missing (a unit not run, a family not trained).

Each comparison also says when the difference is inside the seed spread (|Δ| ≤ the two half-ranges
summed, only where a cell has ≥ 2 seeds): the outcome does not change, the reader is told. A family
measured without a bit width (FP) is compared with the other family at each of its bit widths.

`judge(rule, cells)` is a pure function of the numbers; tests/test_reproduce.py feeds it synthetic
cells and checks both outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

_BASE = ("FP", "FP+DQ", "vanilla", "DQ")
FAMILIES = tuple(f"{b}{adv}" for adv in ("", "+rfgsm", "+pgd") for b in _BASE)
METRICS = ("clean", "worst", "random", "fgsm", "rfgsm", "bim", "pgd", "pgd-strong", "square", "autoattack",
           "fgsm(B)", "pgd(B)")
REPRODUCES, PARTLY, DOES_NOT, NOT_MEASURED = "reproduces", "partly", "does not reproduce", "not measured"

# cells: (profile, family, bits, metric, eps) -> accuracies (0..1), one per seed; bits "fp" or "1".."8";
# eps None for "clean"
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


def _bits_of(cells: Mapping[CellKey, Sequence[float]], rule, family: str) -> set[str]:
    return {k[2] for k in cells if k[0] == rule.profile and k[1] == family and k[3] == rule.metric
            and k[4] == rule.eps}


def _get(cells, rule, family: str, bits: str, fp_like: bool):
    return cells.get((rule.profile, family, "fp" if fp_like else bits, rule.metric, rule.eps))


def judge(rule, cells: Mapping[CellKey, Sequence[float]]) -> dict:
    """Evaluate one rule (a dqhw.reproduce.config.Rule) on the cells; returns {claim, outcome, rows, text}."""
    a_bits, b_bits = _bits_of(cells, rule, rule.better), _bits_of(cells, rule, rule.worse)
    a_fp, b_fp = a_bits == {"fp"}, b_bits == {"fp"}
    if rule.bits is not None:
        compare = list(rule.bits)
    elif a_fp and b_fp:
        compare = ["fp"]
    elif a_fp:
        compare = sorted(b_bits - {"fp"}, key=_bit_order)
    elif b_fp:
        compare = sorted(a_bits - {"fp"}, key=_bit_order)
    else:
        compare = sorted(a_bits & b_bits, key=_bit_order)
    rows, missing = [], []
    for bits in compare:
        a, b = _get(cells, rule, rule.better, bits, a_fp), _get(cells, rule, rule.worse, bits, b_fp)
        if not a or not b:
            missing.append(bits)
            continue
        diff = 100 * (mean(a) - mean(b))
        noise = 100 * (half_range(a) + half_range(b))
        rows.append({"bits": bits, "better": list(a), "worse": list(b), "diff_points": diff,
                     "holds": diff >= rule.margin, "within_spread": (len(a) > 1 or len(b) > 1) and abs(diff) <= noise})
    if missing or not rows:
        outcome = NOT_MEASURED
    elif all(r["holds"] for r in rows):
        outcome = REPRODUCES
    elif not any(r["holds"] for r in rows):
        outcome = DOES_NOT
    else:
        outcome = PARTLY
    parts = []
    for r in rows:
        where = "FP" if r["bits"] == "fp" else f"{r['bits']} bit"
        parts.append(f"{where}: {rule.better} {fmt(r['better'])} vs {rule.worse} {fmt(r['worse'])} "
                     f"({r['diff_points']:+.1f} points{', within the seed spread' if r['within_spread'] else ''})")
    if missing:
        parts.append("missing: " + ", ".join("FP" if b == "fp" else f"{b} bit" for b in missing))
    return {"claim": rule.claim, "outcome": outcome, "rows": rows, "missing": missing, "text": "; ".join(parts),
            "rule": {"profile": rule.profile, "metric": rule.metric, "eps": rule.eps, "better": rule.better,
                     "worse": rule.worse, "bits": rule.bits or "all", "margin": rule.margin},
            "paper": rule.paper}


def _bit_order(b: str) -> tuple[int, int]:
    return (1, 0) if b == "fp" else (0, int(b))


def rule_text(rule) -> str:
    """The rule as stated in advance, in words."""
    from dqhw.evaluate import column_label

    metric = {"clean": "clean accuracy", "worst": "per-image worst case over every attack run"}.get(
        rule.metric, column_label(rule.metric))
    at = "" if rule.eps is None else f" at ε = {rule.eps}"
    bits = "every bit width measured" if rule.bits is None else ", ".join(
        "FP" if b == "fp" else f"{b} bit" for b in rule.bits)
    margin = f" + {rule.margin:g} points" if rule.margin else ""
    return (f"{rule.better} ≥ {rule.worse}{margin} on {metric}{at} ([eval.{rule.profile}], mean over seeds), "
            f"at {bits}")
