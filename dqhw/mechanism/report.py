"""The mechanism experiment's report: verdict.json, report.md and two plots from OUT/measure/*.json."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from dqhw.io import write_json, write_text
from dqhw.mechanism import verdict as V
from dqhw.mechanism.config import MechanismConfig


def load_results(cfg: MechanismConfig) -> list[dict]:
    from dqhw.mechanism.measure import measure_path

    return [json.loads(measure_path(cfg, r).read_text()) for r in cfg.runs if measure_path(cfg, r).is_file()]


def _commit_of(path: Path) -> str | None:
    """The commit that added the config (its pre-registration), if the file is tracked."""
    try:
        out = subprocess.run(["git", "log", "--diff-filter=A", "--format=%h %cs", "--", path.name],
                             cwd=path.parent, capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return " ".join(out[-2:]) if out else None


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def group_rows(cfg: MechanismConfig, results: list[dict]) -> list[str]:
    from dqhw.lipschitz import format_gain_range

    eps_d = cfg.measure["d_eps"]
    head = ["run", "val %", "clean %", "rel. residual", "median σmax/σmin", "BN gain", "max folded ‖·‖",
            "∏ folded ‖·‖"]
    head += [f"D ε={e} on/off" for e in eps_d]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        layers, s = r["layers"], r["summary"]
        conds = sorted(x["condition"] for x in layers)
        gain = format_gain_range(layers)
        d = [f"{_mean_last(r, e, 'on'):.3f}/{_mean_last(r, e, 'off'):.3f}" for e in eps_d]
        cells = [r["run"], _pct(r["train"]["val_acc"]), _pct(r["robust"]["clean"]),
                 f"{s['mean_relative_residual']:.3f}", f"{conds[len(conds) // 2]:.1f}", gain,
                 f"{s['max_norm_with_bn']:.1f}", f"{s['norm_product_with_bn']:.3g}", *d]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _mean_last(r: dict, eps: int, which: str) -> float:
    return sum(r["d"][k][str(eps)][which][-1] for k in V.COMMON_KINDS) / len(V.COMMON_KINDS)


def robust_rows(cfg: MechanismConfig, results: list[dict]) -> list[str]:
    attacks = [*cfg.measure["attacks"], "worst"]
    head = ["run", "clean"] + [f"{a} ε={e}" for e in cfg.measure["robust_eps"] for a in attacks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [r["run"], _pct(r["robust"]["clean"])]
        cells += [_pct(r["robust"]["eps"][str(e)][a]) for e in cfg.measure["robust_eps"] for a in attacks]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def verdict_lines(v: dict) -> list[str]:
    out = []
    for label, j in v.items():
        out.append(f"### {'The paper’s regularizer' if label == 'paper' else 'The BN-folded repair (beyond the paper)'}"
                   f" — `{j['group']}`")
        out.append(f"Mechanism present: **{'yes' if j['mechanism_present'] else 'no'}**")
        for m in j["mechanism"]:
            out.append(f"- {m['rule']}: **{'pass' if m['pass'] else 'fail'}** — {_rule_detail(m)}")
        out.append(f"\nClaim (worst-case robust accuracy above A4 β 0 and FP at every ε, Square and transfer not "
                   f"reversed): **{j['claim']['verdict']}**\n")
        out.append("| vs | ε | metric | this | baseline | diff | margin | outcome |")
        out.append("|---|---|---|---|---|---|---|---|")
        for c in j["claim"]["comparisons"]:
            out.append(f"| {c['baseline']} | {c['eps']} | {c['metric']} | {_pct(c['better'])} | {_pct(c['worse'])} | "
                       f"{100 * c['diff']:+.1f} | {100 * c['margin']:.1f} | {c['outcome']} |")
        out.append("")
    return out


def _rule_detail(m: dict) -> str:
    if "cells" in m:
        bad = [c for c in m["cells"] if not c["pass"]]
        return f"{len(m['cells']) - len(bad)} of {len(m['cells'])} cells" + (
            f"; fails e.g. {bad[0]['run']} {bad[0]['kind']} ε={bad[0]['eps']}: on {bad[0]['on']:.3f} ≥ off "
            f"{bad[0]['off']:.3f}" if bad else "")
    parts = []
    for s in m["per_seed"]:
        val = f"÷{s['factor']:.1f}" if "factor" in s else f"{-100 * s['fall']:+.0f} %"
        parts.append(f"seed {s['seed']}: {s['beta0']:.3f} → {s['dq']:.3f} ({val})")
    if m.get("monotone"):
        mono = m["monotone"]
        parts.append("sweep " + " → ".join(f"{d:.3f}" for d in mono["d"]) + (" monotone" if mono["pass"] else
                                                                                " NOT monotone"))
    return "; ".join(parts)


def write_report(cfg: MechanismConfig, say, publish: str | None = None) -> Path:
    out = Path(cfg.out)
    results = load_results(cfg)
    if not results:
        say("report: no measurements yet")
        return out
    v = V.judge(results, cfg.rules, cfg.measure["robust_eps"])
    write_json(out / "verdict.json", {"config": str(cfg.path), "preregistered": _commit_of(cfg.path.resolve()),
                                      "runs_measured": len(results), "runs_planned": len(cfg.runs), "verdict": v})
    from dqhw.mechanism.plots import plot_d, plot_robust

    plot_d(cfg, results, out / "d-per-layer.png")
    plot_robust(cfg, results, out / "robust.png")
    lines = [f"# {cfg.name}: {len(results)} of {len(cfg.runs)} runs measured", "",
             f"Rules pre-registered in `{cfg.path}` ({_commit_of(cfg.path.resolve()) or 'uncommitted'}).", "",
             "## Lipschitz readout and error amplification (last activation layer, mean of noise and transferred "
             "FGSM)", "", *group_rows(cfg, results), "", "## Robust accuracy (%)", "", *robust_rows(cfg, results),
             "", "## Verdict", "", *verdict_lines(v)]
    write_text(out / "report.md", "\n".join(lines) + "\n")
    say(f"report: {out / 'report.md'}")
    if publish:
        _publish(cfg, Path(publish), say)
    return out


def _publish(cfg: MechanismConfig, dst: Path, say) -> None:
    """Copy the small raw results (measurements, metrics, layers, verdict, report, plots) to `dst`."""
    from dqhw.mechanism.config import run_dir

    out = Path(cfg.out)
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("verdict.json", "report.md", "d-per-layer.png", "robust.png"):
        if (out / name).is_file():
            shutil.copy2(out / name, dst / name)
    for r in cfg.runs:
        src = out / "measure" / f"{r.name}.json"
        if src.is_file():
            (dst / r.name).mkdir(exist_ok=True)
            shutil.copy2(src, dst / r.name / "measure.json")
            for f in ("metrics.json", "layers.json", "config.json"):
                if (run_dir(cfg, r) / f).is_file():
                    shutil.copy2(run_dir(cfg, r) / f, dst / r.name / f)
    say(f"report: raw results copied to {dst}")
