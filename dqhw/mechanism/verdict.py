"""The pre-registered rules of configs/dq-mechanism.toml [rules], applied to the per-run measurements.

Pure functions of numbers (no model, no files), so that tests can feed them synthetic measurements.
`compare` is the noise-margin rule every ">=" claim uses: the difference must exceed the larger seed
spread plus `se_multiplier` binomial standard errors of the difference, otherwise it is a tie.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dqhw.amplification import mean_last_layer
from dqhw.stats import binomial_se, seed_spread

COMMON_KINDS = ("noise", "transfer-fgsm")
HOLDS, REVERSED, TIE = "holds", "reversed", "tie within noise"


def compare(better: Sequence[float], worse: Sequence[float], n: int, se_multiplier: float = 2.0) -> dict:
    """Is mean(better) > mean(worse) beyond the margin? `better`/`worse`: one accuracy per seed."""
    a, b = sum(better) / len(better), sum(worse) / len(worse)
    spread = max(seed_spread(better), seed_spread(worse))  # the larger spread (pre-registered)
    margin = spread + se_multiplier * binomial_se(a, n, b, n)
    diff = a - b
    outcome = HOLDS if diff > margin else REVERSED if -diff > margin else TIE
    return {"better": a, "worse": b, "diff": diff, "spread": spread, "margin": margin, "outcome": outcome}


def _by_group(results: Sequence[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in sorted(results, key=lambda r: r["seed"]):
        out.setdefault(r["group"], []).append(r)
    return out


def d_stat(result: dict, eps_list: Sequence[int]) -> float:
    return mean_last_layer(result["d"], COMMON_KINDS, eps_list)


def orthogonality_rule(groups: dict, base: str, dq: str, drop: float) -> dict:
    rows = []
    for b in groups.get(base, []):
        d = next((x for x in groups.get(dq, []) if x["seed"] == b["seed"]), None)
        if d is None:
            continue
        rb, rd = b["summary"]["mean_relative_residual"], d["summary"]["mean_relative_residual"]
        rows.append({"seed": b["seed"], "beta0": rb, "dq": rd, "factor": rb / rd if rd > 0 else math.inf})
    ok = bool(rows) and all(r["factor"] >= drop for r in rows)
    return {"rule": f"mean relative residual falls >= {drop:g}x", "per_seed": rows, "pass": ok}


def amplification_rule(groups: dict, base: str, dq: str, sweep: Sequence[str] | None, eps: Sequence[int],
                       drop: float, tol: float) -> dict:
    rows = []
    for b in groups.get(base, []):
        d = next((x for x in groups.get(dq, []) if x["seed"] == b["seed"]), None)
        if d is not None:
            db, dd = d_stat(b, eps), d_stat(d, eps)
            rows.append({"seed": b["seed"], "beta0": db, "dq": dd, "fall": 1 - dd / db if db > 0 else 0.0})
    falls = bool(rows) and all(r["fall"] >= drop for r in rows)
    mono = None
    if sweep:
        seq = [d_stat(groups[g][0], eps) for g in sweep if g in groups]
        mono = {"groups": list(sweep), "d": seq,
                "pass": all(nxt <= prev * (1 + tol) for prev, nxt in zip(seq, seq[1:]))}
    ok = falls and (mono is None or mono["pass"])
    return {"rule": f"last-layer D falls >= {100 * drop:.0f} %" + (", monotone in beta" if sweep else ""),
            "per_seed": rows, "monotone": mono, "pass": ok}


def quantization_rule(runs: Sequence[dict], eps: Sequence[int]) -> dict:
    rows = []
    for r in runs:
        for kind in COMMON_KINDS:
            for e in eps:
                cell = r["d"][kind][str(e)]
                rows.append({"run": r["run"], "kind": kind, "eps": e, "on": cell["on"][-1], "off": cell["off"][-1],
                             "pass": cell["on"][-1] < cell["off"][-1]})
    return {"rule": "quantized D < bypassed D", "cells": rows, "pass": bool(rows) and all(x["pass"] for x in rows)}


def _accs(runs: Sequence[dict], eps: int, metric: str) -> list[float]:
    return [r["robust"]["eps"][str(eps)][metric] for r in runs]


def claim_rule(groups: dict, claim: str, baselines: Sequence[str], baseline_seeds: dict, eps_list: Sequence[int],
               agree: Sequence[str], se_multiplier: float) -> dict:
    cmp = []
    for base in baselines:
        seeds = baseline_seeds.get(base)
        base_runs = [r for r in groups.get(base, []) if seeds is None or r["seed"] in seeds]
        for e in eps_list:
            for metric in ("worst", *agree):
                n = groups[claim][0]["robust"]["n"]
                c = compare(_accs(groups[claim], e, metric), _accs(base_runs, e, metric), n, se_multiplier)
                cmp.append({"baseline": base, "eps": e, "metric": metric, **c})
    worst = [c for c in cmp if c["metric"] == "worst"]
    others = [c for c in cmp if c["metric"] != "worst"]
    holds = all(c["outcome"] == HOLDS for c in worst) and not any(c["outcome"] == REVERSED for c in others)
    reversed_ = any(c["outcome"] == REVERSED for c in worst)
    verdict = "holds" if holds else "contradicted" if reversed_ else "not supported (ties within noise)"
    return {"comparisons": cmp, "verdict": verdict}


def judge(results: Sequence[dict], rules: dict, robust_eps: Sequence[int]) -> dict:
    """Both rule sets for the claim group and (if configured) for the repair group."""
    groups = _by_group(results)
    base = "a4-b0" if "a4-b0" in groups else rules["baselines"][0]
    sweep = sorted((g for g, rs in groups.items()
                    if rs[0]["quantized"] and rs[0].get("dq_target", "weight") == "weight"),
                   key=lambda g: groups[g][0]["beta"])
    out = {}
    for label, dq in (("paper", rules["claim"]), ("repair", rules.get("repair"))):
        if not dq or dq not in groups:
            continue
        mech = [
            orthogonality_rule(groups, base, dq, rules["residual_drop"]),
            amplification_rule(groups, base, dq, sweep if label == "paper" else None, robust_eps,
                               rules["d_drop"], rules["monotone_tolerance"]),
            quantization_rule([r for g in ([x for x in sweep if groups[x][0]["beta"] > 0] if label == "paper"
                                           else [dq]) for r in groups[g]], rules["quant_vs_bypass_eps"]),
        ]
        claim = claim_rule(groups, dq, rules["baselines"], rules.get("baseline_seeds", {}), robust_eps,
                           rules.get("agree_metrics", []), rules.get("se_multiplier", 2.0))
        out[label] = {"group": dq, "mechanism": mech, "mechanism_present": all(m["pass"] for m in mech),
                      "claim": claim}
    return out
