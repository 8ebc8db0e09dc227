"""OUT/report.md, OUT/tables.md, OUT/results.json and OUT/plots/*.png, built only from the done records,
so a rerun that computes nothing writes the same files byte for byte.

Tables: Table 1 (accuracy vs activation bit width, clean and FGSM at each ε, FP / vanilla / DQ), the
strong-attack table (PGD (paper), PGD-strong, Square, transfer, AutoAttack where run, per-image worst
case, the RTL's worst case), Table 2 style (adversarial training), Table 3 style (feature squeezing),
the hardware table (build, frames simulated, mismatches, software vs RTL accuracy), Fig. 3 numbers
(error amplification), the verdict and the compute used. A cell with several seeds is the mean ± half
the range over the seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

from dqhw.io import atomic_path, write_json, write_text
from dqhw.reproduce.config import ReproConfig
from dqhw.reproduce.estimate import hms, split_sizes
from dqhw.reproduce.plan import Unit, read_done
from dqhw.reproduce.verdict import (
    DOES_NOT,
    PARTLY,
    REPRODUCES,
    TIE,
    base_family,
    family_of,
    fmt,
    half_range,
    is_adv,
    judge,
    mean,
    rule_text,
    split_family,
)

FAMILY_ORDER = ("FP", "FP+DQ", "vanilla", "DQ", "FP+rfgsm", "FP+DQ+rfgsm", "vanilla+rfgsm", "DQ+rfgsm", "FP+pgd",
                "FP+DQ+pgd", "vanilla+pgd", "DQ+pgd")
PLAIN = ("FP", "FP+DQ", "vanilla", "DQ")


def _bits_key(b: str) -> tuple[int, int]:
    return (0, 0) if b == "fp" else (1, int(b))


def _row_key(fam: str, bits: str) -> tuple:
    core, wbits, fs = split_family(fam) or (fam, None, False)
    return (_bits_key(bits), FAMILY_ORDER.index(core) if core in FAMILY_ORDER else 99, int(wbits or 0), fs)


def _plain(fam: str) -> bool:
    """Not adversarially trained and not behind the squeezer (float or quantized weights)."""
    parts = split_family(fam)
    return bool(parts) and parts[0] in PLAIN and not parts[2]


def collect(cfg: ReproConfig, out: Path, units: list[Unit]) -> dict:
    """Everything the report shows, from the done records (missing units are simply absent)."""
    recs = {u.id: read_done(out, u) for u in units}
    by_id = {u.id: u for u in units}
    runs, cells, counts, amp, hw = [], {}, {}, {}, {}
    for u in units:
        rec = recs[u.id]
        if u.kind == "train":
            row = {"id": u.id, "name": u.name, "group": u.meta["group"], "bits": u.meta["bits"],
                   "seed": u.meta["seed"], "role": u.meta["role"], "family": family_of(u.settings),
                   "done": rec is not None}
            if rec:
                row.update({k: rec["result"].get(k) for k in ("label", "test_acc", "epochs", "elapsed",
                                                              "seconds_per_epoch")})
            runs.append(row)
        elif u.kind == "eval" and rec:
            _eval_cells(u, rec["result"], by_id, cells, counts, amp)
        elif u.kind in ("worst", "build", "sim") and rec:
            hw.setdefault(u.meta["run"], {})[u.kind] = rec["result"]
    for rid, h in hw.items():  # the RTL columns
        t = by_id[rid]
        fam = family_of(t.settings)
        if "sim" in h:
            s = h["sim"]
            clean = s["sets"].get(s["clean_set"], {})
            worst = s["sets"].get(s["worst_set"], {})
            cells[("rtl", fam, t.meta["bits"], "clean", None)] = [clean.get("rtl_accuracy")]
            eps = by_id[[u.id for u in units if u.kind == "worst" and u.meta["run"] == rid][0]].settings["eps"]
            cells[("rtl", fam, t.meta["bits"], "worst", eps)] = [worst.get("rtl_accuracy")]
    verdict = [judge(r, cells, counts) for r in cfg.verdict]
    compute = []
    for u in units:
        rec = recs[u.id]
        wall = None
        if rec:
            wall = rec["wall_seconds"]
            if u.kind == "train" and rec["result"].get("elapsed"):
                wall = max(wall, rec["result"]["elapsed"])  # a resumed run: the epochs before the kill too
        compute.append({"id": u.id, "kind": u.kind, "name": u.name, "done": rec is not None, "seconds": wall,
                        "started": rec["started"] if rec else None})
    machines = [recs[u.id]["machine"] for u in units if recs[u.id]]
    data = next((recs[u.id]["result"] for u in units if u.kind == "data" and recs[u.id]), None)
    return {"recs": recs, "runs": runs, "cells": cells, "counts": counts, "amp": amp, "hw": hw, "verdict": verdict,
            "compute": compute, "machines": machines, "data": data, "by_id": by_id}


def _eval_cells(u: Unit, result: dict, by_id: dict, cells: dict, counts: dict, amp: dict) -> None:
    """One evaluation's accuracies into the cells, with the number of images behind each (for the verdict's
    binomial SE: a column run on a sub-sample, AutoAttack, counts its own)."""
    n_all = result["num_images"]
    for r in result["runs"]:
        fam = family_of(by_id[u.settings["run"]].settings) + (" + FS" if r["squeeze"] else "")
        bits, p = u.meta["bits"], u.meta["profile"]
        n_col = r.get("columns_n") or {}
        found = [(("clean", None), r["clean"], n_all)]
        found += [((col, int(e)), v, n_col.get(col, n_all)) for col, per in r["acc"].items() for e, v in per.items()]
        found += [(("worst", int(e)), v, n_all) for e, v in r["worst_case"].items()]
        for (col, e), v, n in found:
            key = (p, fam, bits, col, e)
            cells.setdefault(key, []).append(v)
            counts[key] = min(counts.get(key, n), n)
        if r.get("amplification") and not r["squeeze"] and p == "paper":
            amp.setdefault((fam, bits), []).append(r["amplification"])


# --------------------------------------------------------------------------------------------------
# Markdown


def _label(col: str) -> str:
    from dqhw.evaluate import column_label

    return {"clean": "clean", "worst": "worst case"}.get(col, column_label(col))


def _rows(cells: dict, profile: str, families=None) -> list[tuple[str, str]]:
    """(family, bits) rows of a profile; families: None (all), a set of names or a predicate."""
    keep = families if callable(families) else (lambda f: families is None or f in families)
    rows = {(k[1], k[2]) for k in cells if k[0] == profile and keep(k[1])}
    return sorted(rows, key=lambda fb: _row_key(*fb))


def _seeds(cells, profile, fam, bits) -> int:
    v = cells.get((profile, fam, bits, "clean", None)) or []
    return len(v)


def _cell(cells, key) -> str:
    v = cells.get(key)
    if not v or any(x is None for x in v):
        return "–"
    return fmt(v)


def _bits_label(b: str) -> str:
    return "FP" if b == "fp" else f"{b}"


def table1(cfg: ReproConfig, res: dict) -> list[str]:
    p = cfg.evals["paper"]
    cells = res["cells"]
    cols = [(c, e) for c in ("fgsm", "pgd") if c in p.attacks for e in p.eps]
    hw_rows = {(k[1], k[2]) for k in cells if k[0] == "rtl"}
    L = ["| family | act. bits | seeds | clean | " + " | ".join(f"{_label(c)} ε={e}" for c, e in cols)
         + (f" | RTL clean (whole test split, seed {cfg.hardware.seed}) |" if hw_rows else " |"),
         "|---|---:|---:|---:|" + "---:|" * len(cols) + ("---:|" if hw_rows else "")]
    for fam, bits in _rows(cells, "paper", _plain):
        line = (f"| {fam} | {_bits_label(bits)} | {_seeds(cells, 'paper', fam, bits)} | "
                f"{_cell(cells, ('paper', fam, bits, 'clean', None))} | "
                + " | ".join(_cell(cells, ("paper", fam, bits, c, e)) for c, e in cols))
        if hw_rows:
            line += " | " + (_cell(cells, ("rtl", fam, bits, "clean", None)) if (fam, bits) in hw_rows else "")
        L.append(line + " |")
    return L


def _attack_table(cfg: ReproConfig, res: dict, profile: str, families, eps: int, rtl: bool = True) -> list[str]:
    from dqhw.evaluate import COLUMN_ORDER

    cells = res["cells"]
    present = {k[3] for k in cells if k[0] == profile and k[4] == eps}
    cols = [c for c in COLUMN_ORDER if c in present] + ["worst"]
    hw_rows = {(k[1], k[2]) for k in cells if rtl and k[0] == "rtl" and k[3] == "worst" and k[4] == eps}
    L = ["| family | act. bits | seeds | clean | " + " | ".join(_label(c) for c in cols)
         + (f" | RTL worst case (seed {cfg.hardware.seed}) |" if hw_rows else " |"),
         "|---|---:|---:|---:|" + "---:|" * len(cols) + ("---:|" if hw_rows else "")]
    for fam, bits in _rows(cells, profile, families):
        line = (f"| {fam} | {_bits_label(bits)} | {_seeds(cells, profile, fam, bits)} | "
                f"{_cell(cells, (profile, fam, bits, 'clean', None))} | "
                + " | ".join(_cell(cells, (profile, fam, bits, c, eps)) for c in cols))
        if hw_rows:
            line += " | " + (_cell(cells, ("rtl", fam, bits, "worst", eps)) if (fam, bits) in hw_rows else "")
        L.append(line + " |")
    return L


def _eval_sample(res: dict, profile: str) -> str:
    for rid, rec in res["recs"].items():
        u = res["by_id"][rid]
        if rec and u.kind == "eval" and u.meta["profile"] == profile:
            r = rec["result"]
            aa = r.get("autoattack_images")
            extra = f"; AutoAttack on a stratified sub-sample of {aa['n']} of them" if aa and aa["n"] < aa["of"] else ""
            return f"{r['sample']}{extra}"
    return "not evaluated yet"


def tables(cfg: ReproConfig, res: dict, hardware_run: bool) -> str:
    L = []
    L += ["## Table 1: accuracy vs activation bit width (the paper's Table 1, FGSM white-box)", "",
          f"[eval.paper]: {_eval_sample(res, 'paper')}; attack seed {cfg.evals['paper'].seed}. Accuracy in %; "
          "an image counts only if it is classified correctly clean and under the attack. Cells with several "
          "seeds: mean ± half the range over the seeds.", ""]
    L += table1(cfg, res)
    if "strong" in cfg.evals:
        p = cfg.evals["strong"]
        L += ["", "## Beyond the paper: full-strength attacks, transfer and the per-image worst case", "",
              f"[eval.strong]: {_eval_sample(res, 'strong')}; Square {p.queries or 1000} queries per image. "
              "White-box: FGSM, R+FGSM, PGD (paper), PGD-strong, AutoAttack; score-based: Square; black-box "
              "transfer from the substitute: (B). Worst case: per image, robust only if correct clean and under "
              "every column at that ε (without AutoAttack where it ran on a sub-sample). RTL worst case: the "
              "worst-case set of that run (per image, its most damaging adversarial image) through the RTL.", ""]
        for e in p.eps:
            L += [f"**ε = {e}**", ""] + _attack_table(cfg, res, "strong", _plain, e) + [""]
        adv = [f for f in {k[1] for k in res["cells"] if k[0] == "strong"} if is_adv(f)]
        if adv:
            bits = {k[2] for k in res["cells"] if k[0] == "strong" and k[1] in adv}
            fams = set(adv) | {base_family(f) for f in adv}
            L += ["## Tables 2 and 3 style: adversarial training (R+FGSM), without vs with DQ", "",
                  "Table 2 (SVHN in the paper): the quantized nets; Table 3 (CIFAR-10): full precision. Same "
                  "evaluation as above, rows at the adversarially trained bit widths "
                  f"({', '.join(_bits_label(b) for b in sorted(bits, key=_bits_key))}).", ""]
            for e in p.eps:
                L += [f"**ε = {e}**", ""]
                t = _attack_table(cfg, res, "strong", fams, e)
                L += t[:2] + [r for r in t[2:] if any(f"| {_bits_label(b)} |" in r for b in bits)] + [""]
    if "squeeze" in cfg.evals:
        p = cfg.evals["squeeze"]
        L += ["## Table 3 style: feature squeezing (5-bit depth + 2×2 median), without vs with DQ", "",
              f"[eval.squeeze]: {_eval_sample(res, 'squeeze')}. \"+ FS\": the same run behind the squeezer, "
              "attacked end to end (BPDA).", ""]
        for e in p.eps:
            L += [f"**ε = {e}**", ""] + _attack_table(cfg, res, "squeeze", None, e, rtl=False) + [""]
    L += ["## Measured on the hardware (dqhw build + dqhw sim, Verilator)", ""] + hardware_table(cfg, res,
                                                                                                hardware_run)
    L += ["", "## Fig. 3: error amplification D = ‖A − A_adv‖₂ / ‖A‖₂ (FGSM, software)", ""] + amp_table(cfg, res)
    L += ["", "## Fig. 3 on the hardware: D read from the RTL's internal streams", ""] + rtl_amp_table(res)
    L += ["", "## Lipschitz readout (BN folded in, from each run's layers.json)", ""] + lipschitz_table(res)
    return "\n".join(L) + "\n"


def lipschitz_table(res: dict) -> list[str]:
    """Per trained run: mean relative residual, largest BN gain, largest and product of the BN-folded operator
    norms (dqhw.lipschitz; written with every run as layers.json)."""
    from dqhw.lipschitz import bn_gain_range, network_summary

    lines = ["| run | mean relative residual ‖G − I‖_F/√k | max BN gain γ/σ | max folded ‖·‖ | ∏ folded ‖·‖ |",
             "|---|---:|---:|---:|---:|"]
    for r in res["runs"]:
        path = Path(res["by_id"][r["id"]].meta.get("run_dir", "")) / "layers.json"
        try:
            rows = json.loads(path.read_text())["layers"]
        except (OSError, ValueError, KeyError):
            continue
        if not rows or "relative_residual" not in rows[0]:  # written before the readout had these fields
            continue
        s, gains = network_summary(rows), bn_gain_range(rows)
        lines.append(f"| {r['name']} | {s['mean_relative_residual']:.3f} | "
                     f"{gains[1] if gains else float('nan'):.2f} | {s['max_norm_with_bn']:.2f} | "
                     f"{s['norm_product_with_bn']:.3g} |")
    return lines if len(lines) > 2 else ["No run has a layers.json with the BN-folded readout yet."]


def rtl_amp_table(res: dict) -> list[str]:
    """Per hardware run: D per activation layer from the RTL's streams, the golden model's and the
    Brevitas model's on the same FGSM frames (runner._rtl_amplification)."""
    by_id = res["by_id"]
    rows = [(by_id[rid].name, d["sim"]["amplification_rtl"]) for rid, d in sorted(res["hw"].items(),
            key=lambda kv: by_id[kv[0]].name) if d.get("sim", {}).get("amplification_rtl")]
    if not rows:
        return ["Not measured (no hardware run finished)."]
    a0 = rows[0][1]
    width = max(len(a["D_rtl"]) for _, a in rows)
    L = [f"FGSM ε = {a0['eps']} on {a0['images']} stratified test images; clean and adversarial frames through one "
         "stream-dump simulation; D of the integer activation levels of every thresholding stage (one per-tensor "
         "scale, so D of the activations). RTL = golden model is required (else the unit fails); software: the "
         "Brevitas model on the same images.", "",
         "| run | source | " + " | ".join(f"layer {k + 1}" for k in range(width)) + " |",
         "|---|---|" + "---:|" * width]
    for name, a in rows:
        for src, key in (("RTL streams", "D_rtl"), ("golden model", "D_golden"), ("software", "D_software")):
            vals = a.get(key) or []
            L.append(f"| {name} | {src} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
    return L


def hardware_table(cfg: ReproConfig, res: dict, hardware_run: bool) -> list[str]:
    h = cfg.hardware
    if not h.enabled:
        return [f"Not part of this config: {h.reason}"]
    rule = (f"Chosen by the rule fixed in the config: the {h.bits}-bit pair, seed {h.seed}, groups "
            f"`{h.vanilla}` (vanilla) and `{h.dq}` (DQ); worst case at ε = {h.eps}; board {h.board}.")
    if not hardware_run and not res["hw"]:
        return [rule, "", "Not run (--no-hardware)."]
    L = [rule, "",
         "| run | est. FPS | LUT / BRAM18 (est.) | frames through the RTL | mismatches | clean: software (whole "
         "test split) | clean: RTL | worst case: software | worst case: RTL | data set's whole test split: RTL "
         "(= golden) |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by_id = res["by_id"]
    for rid in sorted(res["hw"], key=lambda r: by_id[r].name):
        d = res["hw"][rid]
        b, s, w = d.get("build"), d.get("sim"), d.get("worst")
        train = res["recs"].get(rid)
        sw_clean = f"{100 * train['result']['test_acc']:.1f}" if train else "–"
        if s:
            c, k = s["sets"].get(s["clean_set"], {}), s["sets"].get(s["worst_set"], {})
            rtl_clean = f"{100 * c['rtl_accuracy']:.1f}" if c.get("rtl_accuracy") is not None else "–"
            rtl_worst = f"{100 * k['rtl_accuracy']:.1f}" if k.get("rtl_accuracy") is not None else "–"
            frames, mism = f"{s['total_frames']:,}", str(s["total_mismatches"])
            f = s.get("full_test_split")
            full = (f"{100 * f['rtl_accuracy']:.1f} ({f['frames']:,} images; golden "
                    f"{100 * f['golden_accuracy']:.1f})" if f else "–")
        else:
            rtl_clean = rtl_worst = frames = mism = full = "not run"
        sw_worst = f"{100 * w['sw_accuracy']:.1f}" if w else "–"
        res_est = f"{b['LUT']} / {b['BRAM18']}" if b else "–"
        L.append(f"| {by_id[rid].name} | {b['estimated_fps'] if b else '–'} | {res_est} | {frames} | {mism} | "
                 f"{sw_clean} | {rtl_clean} | {sw_worst} | {rtl_worst} | {full} |")
    L += ["", "Software clean: the trained model's accuracy on the whole test split (Brevitas, float); RTL: the "
          "same images through the Verilator RTL, every logit compared with the golden model (a mismatch fails "
          "the command). They can differ only at exact ties of the integer logits, where the Brevitas argmax and the "
          "hardware's label select break the tie differently; the worst-case set (per image the lowest margin) "
          "holds many such ties. Worst case software: the worst-case set scored by the Brevitas model. Whole "
          "test split: with a test subset, the data set's whole clean test split goes through the RTL as well "
          "([hardware] full_test_split, on by default; BUILD/sim/report-full-test.md)."]
    return L


def amp_table(cfg: ReproConfig, res: dict) -> list[str]:
    amp = res["amp"]
    if not amp:
        return ["Not measured (set amplification = true in [eval.paper])."]
    eps_all = sorted({e for v in amp.values() for a in v for e in a["eps"]})
    L = ["D after the first activation (Fig. 3a) and after the last (Fig. 3b's end), per ε; mean over seeds.", "",
         "| family | act. bits | " + " | ".join(f"first ε={e}" for e in eps_all) + " | "
         + " | ".join(f"last ε={e}" for e in eps_all) + " |",
         "|---|---:|" + "---:|" * (2 * len(eps_all))]
    for (fam, bits) in sorted(amp, key=lambda fb: _row_key(*fb)):
        first, last = [], []
        for e in eps_all:
            vs = [a["D"][a["eps"].index(e)] for a in amp[(fam, bits)] if e in a["eps"]]
            first.append(f"{mean([v[0] for v in vs]):.3f}" if vs else "–")
            last.append(f"{mean([v[-1] for v in vs]):.3f}" if vs else "–")
        L.append(f"| {fam} | {_bits_label(bits)} | " + " | ".join(first) + " | " + " | ".join(last) + " |")
    return L


def verdict_md(cfg: ReproConfig, res: dict) -> list[str]:
    L = ["## Verdict", "", "Each rule was written in the config before any number existed and is evaluated on the "
         "numbers in the tables below by `dqhw.reproduce.verdict.judge` (mean over seeds; no seed or ε is chosen "
         "afterwards). Each comparison has a noise margin: the seed spread (max − min over each family's seeds, "
         "summed; 0 with one seed) + 2 binomial standard errors of the difference (n = images evaluated), plus "
         f"the rule's fixed margin if it has one. **{REPRODUCES}**: better − worse > margin; **{DOES_NOT}**: "
         f"worse − better > margin; **{TIE}** otherwise; **{PARTLY}**: the bit widths disagree.", ""]
    if not res["verdict"]:
        L.append("No rules in this config.")
    for v, r in zip(res["verdict"], cfg.verdict):
        L.append(f"- **{v['outcome'].upper()}** — {v['claim']}  ")
        L.append(f"  rule: {rule_text(r)}.  ")
        L.append(f"  measured: {v['text'] or 'nothing yet'}." + (f"  \n  paper: {v['paper']}." if v["paper"] else ""))
    sims = [d["sim"] for d in res["hw"].values() if "sim" in d]
    if cfg.hardware.enabled:
        if sims:
            frames = sum(s["total_frames"] for s in sims)
            mism = sum(s["total_mismatches"] for s in sims)
            L.append(f"- **{'RTL = GOLDEN MODEL' if mism == 0 else 'RTL MISMATCH'}** — {frames:,} frames of "
                     f"{len(sims)} builds through the RTL, {mism} mismatches (a mismatch fails the command).")
        else:
            L.append("- **RTL: not measured yet.**")
    return L


def compute_md(cfg: ReproConfig, res: dict) -> list[str]:
    rows = res["compute"]
    m = res["machines"][0] if res["machines"] else {}
    total = sum(r["seconds"] or 0 for r in rows)
    by_kind: dict[str, float] = {}
    for r in rows:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0.0) + (r["seconds"] or 0)
    L = ["## Compute used", "",
         f"Machine: {m.get('host', '?')} ({m.get('processor', '?')}, {m.get('cpus', '?')} CPUs), torch "
         f"{m.get('torch', '?')} with {m.get('torch_threads', '?')} thread(s), device {cfg.device}. "
         f"Total {hms(total)} of unit wall time ({', '.join(f'{k} {hms(v)}' for k, v in by_kind.items())}); "
         f"{sum(r['done'] for r in rows)} of {len(rows)} units done.", "",
         "| unit | kind | wall time | started |", "|---|---|---:|---|"]
    for r in rows:
        L.append(f"| {r['name']} | {r['kind']} | {hms(r['seconds']) if r['seconds'] is not None else 'not run'} | "
                 f"{r['started'] or ''} |")
    L += ["", "Training units: the run's cumulative training time (metrics.json `elapsed`, which continues across "
          "a resume); other units: the wall time of the call that completed them."]
    return L


def header(cfg: ReproConfig, res: dict) -> list[str]:
    n_train, n_test = split_sizes(cfg)
    d = res["data"]
    if d:
        data = (f"a seeded class-stratified subset: {d['train']['n']:,} of {d['train']['of']:,} training images "
                f"(10 % of them carved off for validation) and {d['test']['n']:,} of {d['test']['of']:,} test images")
    elif cfg.train_subset or cfg.test_subset:
        data = "a stratified subset (not built yet)"
    else:
        data = f"the whole data set ({n_train:,} training images after the 10 % validation carve, {n_test:,} test)"
    models = []
    for g in cfg.groups.values():
        f = {**cfg.train, **g.fields}
        models.append(f"`{g.name}`{' (substitute)' if g.role == 'substitute' else ''}: {f.get('model', 'tiny')} "
                      f"width {f.get('width', 1.0)}, bits {', '.join(g.bits)}, "
                      f"{f.get('epochs', 'default')} epochs"
                      + (f", init from `{g.init}`" if g.init else "")
                      + (", seeds " + "; ".join(f"{b} bit: {s}" for b, s in g.seeds_at.items()) if g.seeds_at
                         else (f", seeds {g.seeds}" if g.seeds != [0] else "")))
    return [f"# Reproduction: {cfg.name}", "", cfg.description.strip(), "",
            f"Config `{cfg.path}`. Data set: **{cfg.dataset_label}**, {data}. Models: " + "; ".join(models) + ".", ""]


def write_report(cfg: ReproConfig, out: Path, units: list[Unit], hardware_run: bool = True) -> dict:
    res = collect(cfg, out, units)
    tab = tables(cfg, res, hardware_run)
    plots = write_plots(cfg, res, out / "plots")
    md = header(cfg, res) + verdict_md(cfg, res) + ["", tab] + [
        "## Plots", ""] + [f"![{p}](plots/{p})" for p in plots] + [""] + compute_md(cfg, res)
    write_text(out / "tables.md", tab)
    write_text(out / "report.md", "\n".join(md) + "\n")
    cells = [{"profile": k[0], "family": k[1], "bits": k[2], "metric": k[3], "eps": k[4], "values": v,
              "n": res["counts"].get(k),
              "mean": mean(v) if v and None not in v else None,
              "half_range": half_range(v) if v and None not in v else None}
             for k, v in sorted(res["cells"].items(), key=lambda kv: json.dumps(kv[0], default=str))]
    results = {"name": cfg.name, "config": str(cfg.path), "config_raw": cfg.raw, "dataset": cfg.dataset,
               "dataset_label": cfg.dataset_label, "data": res["data"], "runs": res["runs"], "cells": cells,
               "hardware": {res["by_id"][k].name: v for k, v in res["hw"].items()}, "verdict": res["verdict"],
               "compute": res["compute"], "machine": res["machines"][0] if res["machines"] else None,
               "plots": plots}
    write_json(out / "results.json", results)
    return results


# --------------------------------------------------------------------------------------------------
# plots


def write_plots(cfg: ReproConfig, res: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []

    def save(fig, name):
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / name, ".png") as tmp:
            fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png", metadata={"Software": None})
        plt.close(fig)
        made.append(name)

    cells = res["cells"]
    colors = {"FP": "black", "FP+DQ": "tab:gray", "vanilla": "tab:red", "DQ": "tab:blue"}
    p = cfg.evals["paper"]
    panels = [("clean", None)] + [("fgsm", e) for e in p.eps if "fgsm" in p.attacks]
    if any(k[0] == "paper" for k in cells):
        fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.2), squeeze=False, sharey=True)
        for ax, (col, e) in zip(axes[0], panels):
            for fam in ("vanilla", "DQ"):
                pts = sorted((int(k[2]), v) for k, v in cells.items() if k[0] == "paper" and k[1] == fam
                             and k[2] != "fp" and k[3] == col and k[4] == e)
                if pts:
                    ax.errorbar([b for b, _ in pts], [100 * mean(v) for _, v in pts],
                                yerr=[100 * half_range(v) for _, v in pts], marker="o", capsize=3, label=fam,
                                color=colors[fam])
            fp = cells.get(("paper", "FP", "fp", col, e))
            if fp:
                ax.axhline(100 * mean(fp), color="black", linestyle=":", label="FP")
            ax.set_title("clean" if col == "clean" else f"FGSM ε={e}")
            ax.set_xlabel("activation bits")
            ax.grid(alpha=0.3)
        axes[0, 0].set_ylabel("accuracy (%)")
        axes[0, 0].legend(fontsize=8)
        fig.suptitle(f"Table 1 / Fig. 1 — {cfg.dataset_label}", y=1.04)  # above the panel titles
        save(fig, "table1_accuracy_vs_bits.png")
    if res["amp"]:
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
        style = {"vanilla": "-", "DQ": "--", "FP": ":"}
        cmap = plt.get_cmap("viridis")
        bit_list = sorted({bits for _, bits in res["amp"] if bits != "fp"}, key=int)
        for (fam, bits), items in sorted(res["amp"].items(), key=lambda kv: _row_key(*kv[0])):
            color = "black" if bits == "fp" else cmap(bit_list.index(bits) / max(1, len(bit_list)))
            eps = items[0]["eps"]
            first = [mean([it["D"][k][0] for it in items]) for k in range(len(eps))]
            a.plot(eps, first, style.get(fam, "-."), marker="o", color=color, label=f"{fam} {_bits_label(bits)}")
            mid = eps.index(min(eps, key=lambda e: abs(e - p.eps[len(p.eps) // 2])))
            layers = [mean([it["D"][mid][j] for it in items]) for j in range(len(items[0]["D"][mid]))]
            b.plot(range(1, len(layers) + 1), layers, style.get(fam, "-."), marker="o", color=color,
                   label=f"{fam} {_bits_label(bits)}")
        a.set_xscale("log", base=2)
        a.set_xlabel("ε (pixels)")
        a.set_ylabel("D after the first activation")
        a.set_title("Fig. 3a")
        b.set_xlabel("activation layer")
        b.set_ylabel(f"D at ε={p.eps[len(p.eps) // 2]}")
        b.set_title("Fig. 3b")
        for ax in (a, b):
            ax.grid(alpha=0.3)
        b.legend(fontsize=7, ncol=2)
        fig.suptitle("Error amplification, FGSM white-box (software)", y=1.02)
        save(fig, "fig3_error_amplification.png")
    if "strong" in cfg.evals and any(k[0] == "strong" for k in cells):
        from dqhw.evaluate import COLUMN_ORDER

        e = cfg.hardware.eps if cfg.hardware.enabled else cfg.evals["strong"].eps[len(cfg.evals["strong"].eps) // 2]
        rows = _rows(cells, "strong")
        present = {k[3] for k in cells if k[0] == "strong" and k[4] == e}
        cols = [c for c in COLUMN_ORDER if c in present] + ["worst"]
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(rows) * len(cols) / 3), 3.8))
        w = 0.8 / len(cols)
        for j, c in enumerate(cols):
            vals = [cells.get(("strong", f, b, c, e)) for f, b in rows]
            ax.bar([i + j * w for i in range(len(rows))], [100 * mean(v) if v else 0 for v in vals], w,
                   yerr=[100 * half_range(v) if v else 0 for v in vals], label=_label(c), capsize=2)
        ax.set_xticks([i + 0.4 - w / 2 for i in range(len(rows))])
        ax.set_xticklabels([f"{f} {_bits_label(b)}" for f, b in rows], rotation=20, fontsize=8)
        ax.set_ylabel(f"accuracy at ε={e} (%)")
        ax.legend(fontsize=7, ncol=3)
        ax.grid(alpha=0.3, axis="y")
        ax.set_title("Full-strength attacks and the worst case (software)")
        save(fig, "strong_attacks.png")
    return made
