"""`dqhw eval`: robustness report (Markdown + JSON + PNG) for one or more runs.

- The paper's table layout (Tables 2-3): clean / Random / FGSM / R+FGSM / PGD (paper) / FGSM(B) / PGD(B) /
  Square at each ε, plus the full-strength attacks PGD-strong and (CIFAR-10 / SVHN) AutoAttack, and the
  per-example worst case over every attack run; accuracy is over all N images (AutoAttack: over its
  sub-sample of at most `--autoattack-images` images, default 500; the worst case is then given twice,
  on all images without AutoAttack and on the sub-sample with every column).
- Accuracy against activation bit width for FP / vanilla / DQ runs (Table 1, Fig. 1) when the runs span
  several bit widths (at the middle ε of the list, the paper's ε = 8 for CIFAR-10 / SVHN).
- Error amplification (Fig. 3): D = ‖A − A_adv‖₂ / ‖A‖₂ per activation layer (per image, averaged),
  FGSM white-box on each run, against the layer index and against ε.
- Sanity checks (Athalye et al. 2018; Carlini et al. 2019), on the correctly classified images:
  iterative ≤ single-step accuracy; white-box ≤ Square and transfer (else gradient masking is flagged);
  random noise weaker than FGSM; accuracy non-increasing in ε; accuracy near 0 at a large ε; gradient
  health (share of images whose input gradient is all zero); PGD-strong ≤ PGD (paper) up to paired noise.
  Columns measured on different images are compared on the images they share.
Default ε depend on the data set: 2/8/16 (the paper's) for CIFAR-10 and SVHN, 16/32/64 for the coarse
8×8 digits (17 grey levels, steps of ~16 on the 0..255 scale: ε = 8 stays inside one grey step).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from dqhw.attacks import (
    COLUMN_ORDER,
    GRADIENT_ATTACKS,
    ITERATIVE_ATTACKS,
    SINGLE_STEP_ATTACKS,
    STRONG_RESTARTS,
    STRONG_STEPS,
    AttackParams,
    attack_images,
    attack_params,
    check_attack,
    check_eps,
    column_label,
    input_grad,
)
from dqhw.errors import DqhwError

DEFAULT_EPS = {"digits": (16, 32, 64), "cifar10": (2, 8, 16), "svhn": (2, 8, 16)}
AMPLIFICATION_EPS = {"digits": (4, 8, 16, 32, 64), "cifar10": (1, 2, 4, 8, 16), "svhn": (1, 2, 4, 8, 16)}
# CIFAR-10 / SVHN: the paper's attacks, PGD at full strength and AutoAttack; digits (the test suite's data set,
# 8x8 images) keeps a cheap default without AutoAttack (minutes per run on CPU)
DEFAULT_ATTACKS = {"digits": ("random", "fgsm", "rfgsm", "pgd", "pgd-strong", "square"),
                   "cifar10": ("random", "fgsm", "rfgsm", "pgd", "pgd-strong", "square", "autoattack"),
                   "svhn": ("random", "fgsm", "rfgsm", "pgd", "pgd-strong", "square", "autoattack")}
AUTOATTACK_IMAGES = 500  # AutoAttack's default sample: a seeded class-stratified sub-sample of the evaluation
SUBSAMPLED_ATTACKS = ("autoattack",)
TRANSFER_ATTACKS = ("fgsm", "pgd")  # the paper's FGSM(B) and PGD(B)
LARGE_EPS = 128
LARGE_ATTACKS = ("pgd-strong", "square")  # large-ε sanity check: PGD-strong (α = ⌈ε/4⌉, 20 steps, 3 restarts)
NEAR_ZERO = 0.10  # "accuracy → near 0 at a large ε": at most 10 % of the correctly classified images
ZERO_GRAD_MAX = 0.10  # gradient health: at most 10 % of the images with an all-zero input gradient


def default_attacks(dataset: str) -> tuple[str, ...]:
    return DEFAULT_ATTACKS.get(dataset, DEFAULT_ATTACKS["cifar10"])


def threat_legend(cols: Sequence[str]) -> str:
    """Which threat model each column of a table is, for the report."""
    from dqhw.attacks import threat_mode

    groups: dict[str, list[str]] = {}
    for c in cols:
        mode = threat_mode(c[:-3], False) if c.endswith("(B)") else threat_mode(c, True)
        groups.setdefault(mode, []).append(column_label(c))
    names = {"white-box": "white-box (the target's gradients)", "score-based": "score-based (the target's logits "
             "only, no gradients)", "noise": "noise (no model)", "black-box": "black-box transfer (crafted on the "
             "substitute)"}
    return "; ".join(f"{names[m]}: {', '.join(v)}" for m, v in groups.items())


def family(cfg) -> str:
    """FP / FP+DQ / vanilla / DQ, with the adversarial-training mode appended."""
    bits = cfg.quant_spec().act_bits
    name = ("FP+DQ" if cfg.beta > 0 else "FP") if bits is None else ("DQ" if cfg.beta > 0 else "vanilla")
    return name if cfg.adv == "none" else f"{name}+{cfg.adv}"


@dataclass
class Pipeline:
    """A run as evaluated: its model, optionally behind the feature squeezer (BPDA for the attacks)."""

    run: object  # dqhw.runs.Run
    model: nn.Module
    squeeze: bool = False
    label: str = ""
    correct: dict = field(default_factory=dict)  # column -> {eps: bool array}; "clean" -> bool array
    measured: dict = field(default_factory=dict)  # column -> bool mask of the images it was run on (absent: all)

    def robust(self, adv_correct: np.ndarray) -> np.ndarray:
        """Robust = classified correctly clean and under the attack: an image the model already gets wrong
        counts as an error in every column, even when the perturbation happens to flip it to the right class."""
        return np.asarray(adv_correct, bool) & self.correct["clean"]

    def mask(self, col: str) -> np.ndarray:
        """The images a column was measured on (its correct arrays are meaningless outside)."""
        m = self.measured.get(col)
        return np.ones(len(self.correct["clean"]), bool) if m is None else m

    @property
    def bits(self):
        return self.run.config.quant_spec().act_bits


def _tol(n: int) -> float:
    """Tolerance of the sanity comparisons: 1 percentage point plus one image."""
    return 0.01 + 1.0 / max(n, 1)


def _pct(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def _make_pipelines(runs, squeeze: bool) -> list[Pipeline]:
    from dqhw.squeeze import Squeezed

    names = [r.name for r in runs]
    out = []
    for r in runs:
        base = r.name if names.count(r.name) == 1 else str(r.path)
        spec = r.config.quant_spec()
        prec = "float" if spec.act_bits is None and spec.weight_bits is None else (
            f"A{spec.act_bits or 'fp'}W{spec.weight_bits or 'fp'}")
        label = f"{base} ({family(r.config)}, {prec})"
        out.append(Pipeline(r, r.model, False, label))
        if squeeze:
            out.append(Pipeline(r, Squeezed(r.model), True, f"{label} + FS"))
    return out


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    disable=not enabled, transient=False)


@torch.no_grad()
def _correct(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch_size: int) -> np.ndarray:
    from dqhw.infer import predict_logits

    was = model.training
    out = predict_logits(model, images, batch_size).argmax(1) == np.asarray(labels)
    model.train(was)
    return out


def gradient_health(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> dict:
    """Share of images whose input gradient is all zero, share of zero entries, and NaN count."""
    from dqhw.models import to_input

    model.eval()
    zero_images, zero_entries, nan, total = 0, 0, 0, 0
    for i in range(0, len(images), batch_size):
        x = to_input(images[i:i + batch_size])
        y = torch.as_tensor(labels[i:i + batch_size], dtype=torch.long)
        g = input_grad(model, x, y).flatten(1)
        nan += int(torch.isnan(g).any(1).sum())
        zero_images += int((g == 0).all(1).sum())
        zero_entries += int((g == 0).sum())
        total += g.numel()
    n = max(len(images), 1)
    return {"zero_grad_images": zero_images / n, "zero_grad_entries": zero_entries / max(total, 1),
            "nan_images": nan}


def lipschitz_summary(run) -> dict:
    """The run's per-layer Lipschitz readout (dqhw.lipschitz; BN folded in) and its network summary."""
    from dqhw.lipschitz import layer_report, network_summary

    h, w, c = run.in_shape
    rows = layer_report(run.model, torch.zeros(1, c, h, w), iters=30)
    return {"layers": rows, "summary": network_summary(rows)}


# --------------------------------------------------------------------------------------------------
# sanity checks


def _cond(correct: np.ndarray, mask: np.ndarray) -> float:
    return float(correct[mask].mean()) if mask.any() else float("nan")


def strong_vs_paper_tolerance(only_paper: int, only_strong: int) -> float:
    """Images by which PGD-strong may break fewer than PGD (paper) before it is flagged: 1 image + 2σ of the
    paired difference. The two attacks run on the same images; an image only one of them breaks is a
    discordant pair, and were they equally strong each such image would go either way with probability ½
    (McNemar), so (only_paper − only_strong) has standard deviation √(only_paper + only_strong)."""
    return 1.0 + 2.0 * math.sqrt(only_paper + only_strong)


def sanity_checks(p: Pipeline, eps_list: Sequence[int], large: dict | None, grad: dict | None) -> list[dict]:
    """Each check: {name, status: pass|flag|skip, detail}; accuracies on the clean-correct images. Two columns
    measured on different images (AutoAttack on a sub-sample) are compared on the images they share."""
    clean = p.correct["clean"]
    n_all = int(clean.sum())
    cols = [c for c in p.correct if c != "clean"]
    checks = []

    def add(name, status, detail):
        checks.append({"name": name, "status": status, "detail": detail})

    def has(col, e):
        return e in p.correct.get(col, {})

    def on(*cs) -> np.ndarray:
        m = clean.copy()
        for c in cs:
            m &= p.mask(c)
        return m

    def acc(col, e, m):
        return _cond(p.correct[col][e], m)

    def where(m) -> str:
        k = int(m.sum())
        return "" if k == n_all else f" (on the {k} correctly classified images both were run on)"

    def closest(first: Sequence[str], second: str, e):
        """The column of `first` with the lowest accuracy relative to `second`, each pair on shared images:
        (col, its accuracy, second's accuracy, tolerance, mask)."""
        best = None
        for c in first:
            m = on(c, second)
            v, w = acc(c, e, m), acc(second, e, m)
            if not m.any():
                continue
            if best is None or v - w < best[1] - best[2]:
                best = (c, v, w, _tol(int(m.sum())), m)
        return best

    # 1. iterative <= single-step
    bad, seen = [], []
    for e in eps_list:
        it = [c for c in ITERATIVE_ATTACKS if has(c, e)]
        ss = [c for c in SINGLE_STEP_ATTACKS if has(c, e)]
        if it and ss:
            cs = min(ss, key=lambda c: acc(c, e, on(c)))
            got = closest(it, cs, e)
            if got is None:
                continue
            ci, vi, vs, tol, m = got
            seen.append(f"ε={e}: {column_label(ci)} {_pct(vi)} vs {column_label(cs)} {_pct(vs)}{where(m)}")
            if vi > vs + tol:
                bad.append(seen[-1])
    add("iterative at least as strong as single-step",
        "skip" if not seen else ("flag" if bad else "pass"), "; ".join(bad or seen) or "needs an iterative and a "
        "single-step attack")

    # 2. white-box vs gradient-free / transfer (gradient masking)
    bad, seen = [], []
    for e in eps_list:
        wb = [c for c in GRADIENT_ATTACKS if has(c, e)]
        others = [c for c in cols if (c == "square" or c.endswith("(B)")) and has(c, e)]
        if not wb:
            continue
        for c in others:
            got = closest(wb, c, e)
            if got is None:
                continue
            cw, vw, v, tol, m = got
            seen.append(f"ε={e}: {column_label(c)} {_pct(v)} vs best white-box {column_label(cw)} {_pct(vw)}"
                        f"{where(m)}")
            if v < vw - tol:
                bad.append(seen[-1])
    has_transfer = any(c.endswith("(B)") for c in cols)
    has_square = "square" in cols
    if not seen:
        add("white-box at least as strong as Square / transfer (no gradient masking)", "skip",
            "needs a white-box attack and Square or --source")
    else:
        detail = "; ".join(bad) if bad else "; ".join(seen)
        if bad:
            detail = "GRADIENT MASKING SUSPECTED — " + detail
        if not (has_transfer and has_square):
            detail += " (missing: " + ", ".join(x for x, h in (("Square", has_square), ("transfer (--source)",
                                                                                        has_transfer)) if not h) + ")"
        add("white-box at least as strong as Square / transfer (no gradient masking)", "flag" if bad else "pass",
            detail)

    # 3. random weaker than FGSM
    bad, seen = [], []
    for e in eps_list:
        if has("random", e) and has("fgsm", e):
            m = on("random", "fgsm")
            r, f = acc("random", e, m), acc("fgsm", e, m)
            seen.append(f"ε={e}: Random {_pct(r)} vs FGSM {_pct(f)}")
            if r < f - _tol(int(m.sum())):
                bad.append(seen[-1])
    add("random noise weaker than FGSM", "skip" if not seen else ("flag" if bad else "pass"),
        "; ".join(bad or seen) or "needs random and fgsm")

    # 4. monotone in ε (a column is measured on the same images at every ε)
    bad = []
    for c in cols:
        m = on(c)
        tol = _tol(int(m.sum()))
        es = sorted(p.correct[c])
        for a, b in zip(es, es[1:]):
            va, vb = acc(c, a, m), acc(c, b, m)
            if vb > va + tol:
                bad.append(f"{column_label(c)}: ε={a} {_pct(va)} < ε={b} {_pct(vb)}")
    add("accuracy non-increasing in ε", "skip" if len(eps_list) < 2 else ("flag" if bad else "pass"),
        "; ".join(bad) if bad else f"{len(cols)} attacks over ε = {', '.join(map(str, sorted(eps_list)))}")

    # 5. large ε -> near 0
    if large:
        vals = {c: _cond(v, clean) for c, v in large["correct"].items()}
        best = min(vals.values())
        detail = (f"ε={large['eps']}: " + ", ".join(f"{column_label(c)} {_pct(v)}" for c, v in vals.items())
                  + f" (threshold {_pct(NEAR_ZERO)})")
        add("accuracy near 0 at a large ε", "flag" if best > NEAR_ZERO else "pass", detail)
    else:
        add("accuracy near 0 at a large ε", "skip", "disabled (--large-eps 0)")

    # 6. gradient health
    if grad is not None:
        z = grad["zero_grad_images"]
        status = "flag" if z > ZERO_GRAD_MAX or grad["nan_images"] else "pass"
        add("gradient health (input gradients not zero / NaN)", status,
            f"{_pct(z)} % of images with an all-zero input gradient, {_pct(grad['zero_grad_entries'])} % zero "
            f"entries, {grad['nan_images']} with NaN")

    # 7. PGD-strong <= PGD (paper), up to the paired noise
    bad, seen = [], []
    for e in eps_list:
        if has("pgd", e) and has("pgd-strong", e):
            m = on("pgd", "pgd-strong")
            k = int(m.sum())
            paper, strong = p.correct["pgd"][e][m], p.correct["pgd-strong"][e][m]
            only_paper, only_strong = int((~paper & strong).sum()), int((paper & ~strong).sum())
            tol = strong_vs_paper_tolerance(only_paper, only_strong)
            seen.append(f"ε={e}: PGD-strong {_pct(strong.mean() if k else None)} vs PGD (paper) "
                        f"{_pct(paper.mean() if k else None)} ({only_paper} images only the paper's PGD breaks, "
                        f"{only_strong} only PGD-strong; tolerance {tol:.1f} images)")
            if only_paper - only_strong > tol:
                bad.append(seen[-1])
    add("PGD-strong at least as strong as PGD (paper)", "skip" if not seen else ("flag" if bad else "pass"),
        "; ".join(bad or seen) or "needs pgd and pgd-strong")
    return checks


# --------------------------------------------------------------------------------------------------
# the evaluation


def _settings(attacks: Sequence[str], eps_list: Sequence[int], queries: int | None) -> dict:
    out = {}
    for a in attacks:
        out[a] = {str(e): {k: v for k, v in attack_params(a, e, queries).to_dict().items()
                           if k not in ("attack", "eps") and not (k == "restarts" and v == 1)}
                  for e in eps_list}
    return out


def evaluate(run_paths: Sequence[str | Path], eps: Sequence[int] | None = None, attacks: Sequence[str] | None = None,
             source: str | Path | None = None, sets: Sequence[str | Path] | None = None, limit: int | None = None,
             split: str = "test", seed: int = 0, queries: int | None = None, squeeze: bool = False,
             out: str | Path | None = None, large_eps: int = LARGE_EPS, amplification: bool = True,
             batch_size: int = 256, progress: bool = True, save_sets: bool = False,
             log: Callable[[str], None] | None = None, autoattack_images: int | None = AUTOATTACK_IMAGES,
             device: str = "cpu") -> dict:
    """Evaluate runs and write report.md, report.json and the PNGs into `out`; returns the report dict.
    `device` (dqhw.device): where the attacks craft their images; the counted predictions stay on the CPU.
    AutoAttack runs on a seeded class-stratified sub-sample of `autoattack_images` of the evaluated images
    (0 or None: all of them; all of them too when there are fewer)."""
    from dqhw import __version__
    from dqhw.advsets import AdvSet, check_compatible, default_path, load_set, provenance, save_set
    from dqhw.amplification import error_amplification
    from dqhw.data import load_dataset
    from dqhw.io import write_json, write_text
    from dqhw.runs import load_run
    from dqhw.sampling import Sample, check_limit, class_counts, sample_split, stratified_indices

    if not run_paths:
        raise DqhwError("give at least one run directory")
    if batch_size < 1:
        raise DqhwError(f"--batch-size must be >= 1, got {batch_size}")
    check_limit(limit)
    runs = [load_run(p) for p in run_paths]
    for r in runs[1:]:
        check_compatible(runs[0], r)
    src = load_run(source) if source else None
    if src is not None:
        check_compatible(runs[0], src)
    dataset = runs[0].config.dataset
    eps_list = sorted({check_eps(e) for e in (eps if eps else DEFAULT_EPS.get(dataset, (2, 8, 16)))})
    large_eps = check_eps(large_eps)
    if attacks is None:
        attacks = () if sets else default_attacks(dataset)
    attacks = [check_attack(a) for a in attacks]
    if autoattack_images is not None and autoattack_images < 0:
        raise DqhwError(f"--autoattack-images must be >= 0 (0 = all), got {autoattack_images}")
    data = load_dataset(dataset, runs[0].config.data_dir)
    x_all, y_all = data.split(split)

    loaded: list[AdvSet] = [load_set(s, run=runs[0], clean=(x_all, y_all)) for s in (sets or [])]
    if loaded:
        if any(s.provenance["split"] != split for s in loaded):
            raise DqhwError(f"--sets: every set must come from the --split {split} split")
        common = loaded[0].indices
        for s in loaded[1:]:
            common = np.intersect1d(common, s.indices)
        if len(common) == 0:
            raise DqhwError("--sets: the sets share no images")
        common = np.sort(common)
        pos = stratified_indices(y_all[common], len(common) if limit is None else limit, seed)
        sample = Sample(split, common[pos], len(y_all), seed, class_counts(y_all[common[pos]]))
        eps_list = sorted(set(eps_list) | {s.eps for s in loaded}) if eps else sorted({s.eps for s in loaded})
    else:
        sample = sample_split(y_all, split, limit, seed)
    idx = sample.indices
    x, y = x_all[idx], y_all[idx]
    n = len(idx)
    # AutoAttack's images: a seeded class-stratified sub-sample of the evaluated ones (the same seed). When the
    # evaluation is the whole split it is exactly `--limit M --seed S`'s sample, so its saved sets are named so.
    wanted = n if not autoattack_images else int(autoattack_images)
    sub = stratified_indices(y, min(wanted, n), seed)
    sub_mask = np.zeros(n, bool)
    sub_mask[sub] = True
    sub_sample = Sample(split, idx[sub], sample.total, seed, class_counts(y[sub]))
    sub_named = len(sub) == n or (sample.whole and not loaded)  # its file name says which images it holds
    subsampled = [a for a in attacks if a in SUBSAMPLED_ATTACKS]
    notes: list[str] = []
    pipes = _make_pipelines(runs, squeeze)
    say = log or (lambda _s: None)
    t0 = time.time()

    jobs = len(pipes) * (1 + len(attacks) * len(eps_list) + (len(LARGE_ATTACKS) if large_eps else 0))
    transfer = [a for a in TRANSFER_ATTACKS if a in attacks] if src is not None else []
    jobs += len(transfer) * len(eps_list) + (len(runs) if amplification else 0) + len(loaded)
    amp_eps = sorted(set(AMPLIFICATION_EPS.get(dataset, (1, 2, 4, 8, 16))) | set(eps_list))
    crafted: list[tuple[object, AdvSet]] = []
    large_res: dict[str, dict] = {}
    grads: dict[str, dict] = {}
    amp: dict[str, dict] = {}

    from dqhw.device import OnDevice

    on_device = OnDevice(device)
    with _progress(progress) as bar:
        overall = bar.add_task("eval", total=jobs)
        images_task = bar.add_task("", total=n, visible=False)

        def run_attack(model, params: AttackParams, desc: str, pos: np.ndarray | None = None) -> np.ndarray:
            """The adversarial images of the evaluated images at positions `pos` (default: all)."""
            xs, ys = (x, y) if pos is None else (x[pos], y[pos])
            bar.reset(images_task, total=len(xs), description=desc, visible=True)
            adv = attack_images(on_device(model), xs, ys, params, seed=seed, batch_size=batch_size, device=device,
                                on_batch=lambda k: bar.update(images_task, advance=k))
            bar.update(overall, advance=1)
            return adv

        for p in pipes:
            p.correct["clean"] = _correct(p.model, x, y, batch_size)
            grads[p.label] = gradient_health(p.model, x, y, batch_size)
            bar.update(overall, advance=1)
            for a in attacks:
                part = a in subsampled and len(sub) < n
                for e in eps_list:
                    params = attack_params(a, e, queries)
                    desc = f"{a} ε={e} {p.run.name}{' +FS' if p.squeeze else ''}"
                    if not part:
                        adv = run_attack(p.model, params, desc)
                        p.correct.setdefault(a, {})[e] = p.robust(_correct(p.model, adv, y, batch_size))
                    else:
                        adv = run_attack(p.model, params, f"{desc} ({len(sub)} images)", sub)
                        ok = np.zeros(n, bool)
                        ok[sub] = _correct(p.model, adv, y[sub], batch_size)
                        p.correct.setdefault(a, {})[e] = p.robust(ok)
                        p.measured[a] = sub_mask
                    if save_sets and (not part or sub_named):
                        smp, pos = (sub_sample, sub) if part else (sample, np.arange(n))
                        prov = provenance(p.run, p.run, params, seed, smp, x.shape[1:], p.squeeze)
                        crafted.append((p.run, AdvSet(adv, y[pos].astype(np.int64), idx[pos].astype(np.int64),
                                                      prov), smp))
                    elif save_sets:
                        note = (f"{column_label(a)} sets were not saved: they hold a sub-sample of a sample, which "
                                "no set file name can express (craft them with `dqhw attack --limit`)")
                        if note not in notes:
                            notes.append(note)
            if large_eps:
                big, big_params = {}, {}
                for a in LARGE_ATTACKS:
                    params = attack_params(a, large_eps, queries)
                    adv = run_attack(p.model, params, f"{a} ε={large_eps} (sanity) {p.run.name}")
                    big[a] = p.robust(_correct(p.model, adv, y, batch_size))
                    big_params[a] = {k: v for k, v in params.to_dict().items()
                                     if k not in ("attack", "eps") and v is not None}
                large_res[p.label] = {"eps": large_eps, "correct": big, "params": big_params}
            say(f"{p.label}: done ({time.time() - t0:.0f} s)")

        for a in transfer:
            for e in eps_list:
                params = attack_params(a, e, queries)
                adv = run_attack(src.model, params, f"{a} ε={e} on substitute {src.name}")
                for p in pipes:
                    p.correct.setdefault(f"{a}(B)", {})[e] = p.robust(_correct(p.model, adv, y, batch_size))
                if save_sets:
                    for r in runs:
                        prov = provenance(r, src, params, seed, sample, x.shape[1:], False)
                        crafted.append((r, AdvSet(adv, y.astype(np.int64), idx.astype(np.int64), prov), sample))

        for s in loaded:
            row = {int(v): k for k, v in enumerate(s.indices)}
            pos = np.array([row[int(i)] for i in idx], dtype=np.int64)
            adv = s.images[pos]
            for p in pipes:
                white = s.provenance["crafted_by_hash"] == p.run.model_hash() and s.squeezed == p.squeeze
                col = s.attack if white else f"{s.attack}(B)"
                p.correct.setdefault(col, {})[s.eps] = p.robust(_correct(p.model, adv, y, batch_size))
            bar.update(overall, advance=1)

        if amplification:
            for r in runs:
                bar.reset(images_task, total=len(amp_eps), description=f"error amplification {r.name}", visible=True)
                amp[str(r.path)] = error_amplification(r, x, y, amp_eps, seed, batch_size, source=src)
                bar.update(overall, advance=1)
        bar.update(images_task, visible=False)

    # ---- assemble
    report_runs = []
    for p in pipes:
        cols = sorted((c for c in p.correct if c != "clean"),
                      key=lambda c: COLUMN_ORDER.index(c) if c in COLUMN_ORDER else len(COLUMN_ORDER))
        accs = {c: {str(e): float(p.correct[c][e][p.mask(c)].mean()) for e in sorted(p.correct[c])} for c in cols}
        worst, worst_sub = worst_cases(p, cols, eps_list)
        large = large_res.get(p.label)
        checks = sanity_checks(p, eps_list, large, grads.get(p.label))
        cfg = p.run.config
        report_runs.append({
            "label": p.label, "run": str(p.run.path), "name": p.run.name, "model_hash": p.run.model_hash(),
            "family": family(cfg), "model": cfg.model, "bits": cfg.bits, "wbits": cfg.wbits, "beta": cfg.beta,
            "adv": cfg.adv, "squeeze": p.squeeze, "clean": float(p.correct["clean"].mean()), "acc": accs,
            "worst_case": worst, "worst_case_subsample": worst_sub, "columns": cols,
            "columns_n": {c: int(p.mask(c).sum()) for c in cols},
            "large_eps": None if large is None else {
                "eps": large["eps"], "params": large["params"],
                "acc": {c: float(v.mean()) for c, v in large["correct"].items()},
                "acc_on_correct": {c: _cond(v, p.correct["clean"]) for c, v in large["correct"].items()}},
            "gradient": grads.get(p.label), "checks": checks,
            "amplification": None if p.squeeze else amp.get(str(p.run.path)),
            "lipschitz": None if p.squeeze else lipschitz_summary(p.run),
        })
    report = {
        "dqhw_version": __version__, "created": time.strftime("%Y-%m-%d %H:%M:%S"), "dataset": dataset,
        "split": split, "num_images": n, "sample": sample.to_dict(), "sample_text": sample.describe()
        + (" (the images the --sets share)" if loaded else ""), "seed": seed, "eps": eps_list, "attacks": attacks,
        "settings": _settings(attacks, eps_list, queries),
        "source": None if src is None else {"run": str(src.path), "model_hash": src.model_hash(),
                                            "model": src.config.model, "family": family(src.config),
                                            "attacks": transfer},
        "autoattack_images": None if not subsampled else {
            "requested": wanted, "n": len(sub), "of": n, "sample": sub_sample.to_dict(),
            "sample_text": sub_sample.describe() if sub_named else (
                f"seed {seed}; per class " + ", ".join(f"{c}: {k}" for c, k in sorted(sub_sample.per_class.items()))),
            "positions": [int(v) for v in sub]},
        "notes": notes, "sets": [str(s.path) for s in loaded], "squeeze": squeeze, "runs": report_runs,
        "bit_table": bit_table(report_runs, eps_list), "seconds": time.time() - t0,
    }
    first = Path(runs[0].path)
    out_dir = Path(out) if out else (first / "eval" if len(runs) == 1 else first.parent / "eval")
    from dqhw import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    report["plots"] = plots.write_all(report, out_dir)  # each file written atomically
    write_json(out_dir / "report.json", report)
    write_text(out_dir / "report.md", markdown(report))
    report["out"] = str(out_dir)
    for run, s, smp in crafted:
        save_set(default_path(run, s.attack, s.eps, smp, src if s.black_box else None, s.squeezed), s)
    return report


def worst_cases(p: Pipeline, cols: Sequence[str], eps_list: Sequence[int]) -> tuple[dict, dict]:
    """The per-image worst case at each ε: an image counts as robust only if it is classified correctly clean
    and under every column (white-box, score-based, noise and transfer alike).
    Returns (worst_case, worst_case_subsample):
    - worst_case[ε]: on all images, over every column measured on all of them (every column when none was
      run on a sub-sample);
    - worst_case_subsample[ε] = {"acc", "n", "columns"}: only at an ε where some column (AutoAttack) was
      measured on a sub-sample: on the images every column was run on, over every column."""
    clean = p.correct["clean"]
    worst, worst_sub = {}, {}
    for e in eps_list:
        here = [c for c in cols if e in p.correct[c]]
        if not here:
            continue
        full = [c for c in here if c not in p.measured]
        worst[str(e)] = float(np.logical_and.reduce([p.correct[c][e] for c in full] + [clean]).mean())
        if len(full) < len(here):
            m = np.logical_and.reduce([p.mask(c) for c in here])
            ok = np.logical_and.reduce([p.correct[c][e] for c in here] + [clean])[m]
            worst_sub[str(e)] = {"acc": float(ok.mean()) if len(ok) else float("nan"), "n": int(m.sum()),
                                 "columns": here}
    return worst, worst_sub


def bit_table(report_runs: list[dict], eps_list: Sequence[int]) -> dict | None:
    """Table 1 / Fig. 1: accuracy vs activation bits per family, when the quantized runs span ≥ 2 bit widths."""
    plain = [r for r in report_runs if not r["squeeze"]]
    bits = sorted({int(r["bits"]) for r in plain if str(r["bits"]).isdigit()})
    if len(bits) < 2:
        return None
    e = str(eps_list[len(eps_list) // 2])
    cols = [c for c in ("fgsm", "pgd", "pgd-strong", "square", "autoattack", "pgd(B)")
            if any(c in r["acc"] for r in plain)]
    rows = {}
    for r in plain:
        fam = r["family"]
        key = "fp" if not str(r["bits"]).isdigit() else int(r["bits"])
        rows.setdefault(fam, {})[str(key)] = {"clean": r["clean"], **{c: r["acc"].get(c, {}).get(e) for c in cols},
                                              "run": r["name"]}
    return {"eps": int(e), "bits": bits, "columns": ["clean", *cols], "rows": rows}


# --------------------------------------------------------------------------------------------------
# Markdown


def _images_note(rep: dict) -> str | None:
    """Where AutoAttack ran on fewer images than the rest, or on fewer than asked for: say so."""
    aa = rep.get("autoattack_images")
    if not aa:
        return None
    if aa["n"] < aa["of"]:
        return (f"AutoAttack: on a seeded class-stratified sub-sample of {aa['n']:,} of the {aa['of']:,} evaluated "
                f"images ({aa['sample_text']}; `--autoattack-images`); every other column on all {aa['of']:,}. "
                f"Worst case (all {aa['of']:,}): every column but AutoAttack, on all images; worst case "
                f"({aa['n']:,}): every column, AutoAttack included, on its sub-sample.")
    if aa["requested"] > aa["n"]:
        return (f"AutoAttack: on all {aa['n']:,} images — fewer than the {aa['requested']:,} asked for "
                "(`--autoattack-images`), because the evaluation has no more (`--limit` or the split's size).")
    return f"AutoAttack: on all {aa['n']:,} images, like every other column."


def markdown(rep: dict) -> str:
    L = []
    L.append("# Robustness report\n")
    what = rep.get("sample_text") or f"{rep['split']} split, {rep['num_images']} images"
    L.append(f"{rep['dataset']}: {what}; attack seed {rep['seed']}, "
             f"dqhw {rep['dqhw_version']}, {rep['created']}. Accuracy in % over all images; adversarial images "
             "are uint8 on the integer grid with ‖x_adv − x‖∞ ≤ ε (pixels 0..255).\n")
    if rep["source"]:
        s = rep["source"]
        L.append(f"Black-box (B): transfer from the substitute `{s['run']}` ({s['model']}, {s['family']}, "
                 f"hash {s['model_hash']}).\n")
    else:
        L.append("**No transfer attack** (give `--source RUN`): gradient masking can only be checked against Square."
                 "\n")
    if rep["sets"]:
        L.append("Saved sets: " + ", ".join(f"`{p}`" for p in rep["sets"]) + "\n")
    note = _images_note(rep)
    if note:
        L.append(note + "\n")
    for text in rep.get("notes") or []:
        L.append(text + "\n")
    for e in rep["eps"]:
        cols = []
        for r in rep["runs"]:
            cols += [c for c in r["columns"] if str(e) in r["acc"].get(c, {}) and c not in cols]
        cols = sorted(cols, key=lambda c: COLUMN_ORDER.index(c) if c in COLUMN_ORDER else len(COLUMN_ORDER))
        sub_n = {r.get("worst_case_subsample", {}).get(str(e), {}).get("n") for r in rep["runs"]} - {None}
        col_n = {}
        for r in rep["runs"]:
            for c, k in (r.get("columns_n") or {}).items():
                if k != rep["num_images"]:
                    col_n[c] = k
        L.append(f"\n## ε = {e}\n")
        if cols:
            L.append(threat_legend(cols) + ".\n")
        heads = [column_label(c) + (f" ({col_n[c]:,} images)" if c in col_n else "") for c in cols]
        if sub_n:
            heads += [f"worst case (all {rep['num_images']:,}, without {', '.join(column_label(c) for c in col_n)})",
                      f"worst case ({', '.join(f'{k:,}' for k in sorted(sub_n))}, every column)"]
        else:
            heads += ["worst case"]
        L.append("| run | clean | " + " | ".join(heads) + " |")
        L.append("|---|---:|" + "---:|" * (len(heads)))
        for r in rep["runs"]:
            cells = [_pct(r["acc"].get(c, {}).get(str(e))) for c in cols] + [_pct(r["worst_case"].get(str(e)))]
            if sub_n:
                cells.append(_pct(r.get("worst_case_subsample", {}).get(str(e), {}).get("acc")))
            L.append(f"| {r['label']} | {_pct(r['clean'])} | " + " | ".join(cells) + " |")
    bt = rep.get("bit_table")
    if bt:
        L.append(f"\n## Accuracy vs activation bits (Table 1 layout, ε = {bt['eps']})\n")
        L.append("Cells: " + " / ".join(column_label(c) if c != "clean" else "clean" for c in bt["columns"]) + ".\n")
        keys = ["fp"] + [str(b) for b in bt["bits"]]
        L.append("| | " + " | ".join("FP" if k == "fp" else f"{k} bit" for k in keys) + " |")
        L.append("|---|" + "---:|" * len(keys))
        for fam, row in bt["rows"].items():
            cells = []
            for k in keys:
                c = row.get(k)
                cells.append(" / ".join(_pct(c.get(col)) for col in bt["columns"]) if c else "")
            L.append(f"| {fam} | " + " | ".join(cells) + " |")
    L.append("\n## Sanity checks\n")
    L.append("On the correctly classified images (Athalye et al. 2018; Carlini et al. 2019); two columns run on "
             "different images are compared on the images they share. ✅ pass, ⚠️ flagged, ➖ not run.\n")
    icon = {"pass": "✅", "flag": "⚠️", "skip": "➖"}
    for r in rep["runs"]:
        flags = sum(c["status"] == "flag" for c in r["checks"])
        L.append(f"\n**{r['label']}** — {flags} flagged\n")
        for c in r["checks"]:
            L.append(f"- {icon[c['status']]} {c['name']}: {c['detail']}")
    amp_runs = [r for r in rep["runs"] if r.get("amplification")]
    if amp_runs:
        L.append("\n## Error amplification (Fig. 3)\n")
        L.append("D = ‖A − A_adv‖₂ / ‖A‖₂ at each activation layer L1, L2, … (mean over images), FGSM white-box on "
                 "each run, at every ε.\n")
        width = max(len(r["amplification"]["layers"]) for r in amp_runs)
        L.append("| run | ε | " + " | ".join(f"L{i + 1}" for i in range(width)) + " |")
        L.append("|---|---:|" + "---:|" * width)
        for r in amp_runs:
            a = r["amplification"]
            for e, row in zip(a["eps"], a["D"]):
                L.append(f"| {r['label']} | {e} | " + " | ".join(f"{v:.3f}" for v in row) + " |"
                         + " |" * (width - len(row)))
    L += _on_off_lines(amp_runs) + _lipschitz_lines(rep["runs"])
    if rep.get("plots"):
        L.append("\n## Plots\n")
        for name in rep["plots"]:
            L.append(f"![{name}]({name})")
    L.append("\n## Settings\n")
    L.append("α and steps in integer pixels. BIM and PGD (paper): α = 1, ⌊min(ε+4, 1.25ε)⌋ steps (PGD from a "
             f"random integer start). PGD-strong: α = max(1, ⌈ε/4⌉), {STRONG_STEPS} steps, {STRONG_RESTARTS} random "
             "integer restarts, per image the worst restart (the first that misclassifies, else the lowest margin). "
             "R+FGSM random step ⌊ε/2⌋. Square: queries per image (stops when misclassified). AutoAttack: "
             "\"standard\" (APGD-CE, APGD-T, FAB-T, Square) on a model that rounds its input onto the pixel grid "
             "(identity backward); its result rounded back onto the grid and re-scored. "
             "Large-ε sanity attacks: PGD-strong and Square.\n")
    for a, per in rep["settings"].items():
        L.append(f"- {column_label(a)}: " + "; ".join(
            f"ε={e}: " + ", ".join(f"{k} {v}" for k, v in s.items() if v is not None) for e, s in per.items()))
    L.append(f"\n{rep['seconds']:.0f} s.")
    return "\n".join(L) + "\n"


def _on_off_lines(amp_runs: list[dict]) -> list[str]:
    """Last activation layer's D, quantizers on / bypassed, under the common perturbations."""
    rows = [r for r in amp_runs if r["amplification"].get("on_off")]
    if not rows:
        return []
    kinds = [k for k in ("noise", "transfer-fgsm") if k in rows[0]["amplification"]["on_off"]]
    eps = rows[0]["amplification"]["eps"]
    L = ["\n## Error amplification, quantizers on / bypassed (Fig. 3a, common perturbations)\n",
         "D after the last activation layer, the same model with its quantizers on / bypassed (float ReLU6), under "
         "perturbations identical for every run: uniform integer noise in [−ε, ε]" +
         (" and FGSM transferred from the --source run" if "transfer-fgsm" in kinds else
          " (give --source RUN for FGSM transferred from one fixed model)") + ".\n",
         "| run | " + " | ".join(f"{k} ε={e}" for k in kinds for e in eps) + " |",
         "|---|" + "---:|" * (len(kinds) * len(eps))]
    for r in rows:
        t = r["amplification"]["on_off"]
        L.append(f"| {r['label']} | " + " | ".join(
            f"{t[k][str(e)]['on'][-1]:.3f} / {t[k][str(e)]['off'][-1]:.3f}" for k in kinds for e in eps) + " |")
    return L


def _lipschitz_lines(runs: list[dict]) -> list[str]:
    from dqhw.lipschitz import format_gain_range

    rows = [r for r in runs if r.get("lipschitz")]
    if not rows:
        return []
    L = ["\n## Lipschitz readout (BN folded in)\n",
         "Mean relative orthogonality residual ‖G − I‖_F/√k of the latent weights, the largest and the product of "
         "the per-layer operator norms with BatchNorm's γ/σ folded in (power iteration through the real conv).\n",
         "| run | mean relative residual | max folded ‖·‖ | ∏ folded ‖·‖ | BN gain range |", "|---|---:|---:|---:|---|"]
    for r in rows:
        s, layers = r["lipschitz"]["summary"], r["lipschitz"]["layers"]
        g = format_gain_range(layers)
        L.append(f"| {r['label']} | {s['mean_relative_residual']:.3f} | {s['max_norm_with_bn']:.2f} | "
                 f"{s['norm_product_with_bn']:.3g} | {g} |")
    return L
