"""`dqhw eval`: robustness report (Markdown + JSON + PNG) for one or more runs.

- The paper's table layout (Tables 2-3): clean / Random / FGSM / R+FGSM / PGD / FGSM(B) / PGD(B) / Square at
  each ε, plus the per-example worst case over every attack run; accuracy is over all N images.
- Accuracy against activation bit width for FP / vanilla / DQ runs (Table 1, Fig. 1) when the runs span
  several bit widths (at the middle ε of the list, the paper's ε = 8 for CIFAR-10 / SVHN).
- Error amplification (Fig. 3): D = ‖A − A_adv‖₂ / ‖A‖₂ per activation layer (per image, averaged),
  FGSM white-box on each run, against the layer index and against ε.
- Sanity checks (Athalye et al. 2018; Carlini et al. 2019), on the correctly classified images:
  iterative ≤ single-step accuracy; white-box ≤ Square and transfer (else gradient masking is flagged);
  random noise weaker than FGSM; accuracy non-increasing in ε; accuracy near 0 at a large ε; gradient
  health (share of images whose input gradient is all zero).
Default ε depend on the data set: 2/8/16 (the paper's) for CIFAR-10 and SVHN, 16/32/64 for the coarse
8×8 digits (17 grey levels: ε = 8 stays inside one grey step, see shared/notes/robustness.md).
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
    GRADIENT_ATTACKS,
    ITERATIVE_ATTACKS,
    LABELS,
    SINGLE_STEP_ATTACKS,
    AttackParams,
    attack_images,
    attack_params,
    check_attack,
    check_eps,
    input_grad,
)
from dqhw.errors import DqhwError

DEFAULT_EPS = {"digits": (16, 32, 64), "cifar10": (2, 8, 16), "svhn": (2, 8, 16)}
AMPLIFICATION_EPS = {"digits": (4, 8, 16, 32, 64), "cifar10": (1, 2, 4, 8, 16), "svhn": (1, 2, 4, 8, 16)}
DEFAULT_ATTACKS = ("random", "fgsm", "rfgsm", "pgd", "square")
TRANSFER_ATTACKS = ("fgsm", "pgd")  # the paper's FGSM(B) and PGD(B)
COLUMN_ORDER = ("random", "fgsm", "rfgsm", "bim", "pgd", "fgsm(B)", "rfgsm(B)", "bim(B)", "pgd(B)", "square(B)",
                "random(B)", "autoattack(B)", "square", "autoattack")
LARGE_EPS = 128
LARGE_STEPS = 20  # large-ε PGD: α = ⌈ε/10⌉, 20 steps (the paper's α = 1 would take 1.25ε steps)
NEAR_ZERO = 0.10  # "accuracy → near 0 at a large ε": at most 10 % of the correctly classified images
ZERO_GRAD_MAX = 0.10  # gradient health: at most 10 % of the images with an all-zero input gradient


def column_label(col: str) -> str:
    if col.endswith("(B)"):
        return LABELS[col[:-3]] + "(B)"
    return LABELS.get(col, col)


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


def activation_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The activation stages (quantized ReLU or float clipped ReLU) in definition order."""
    try:
        from brevitas.nn import QuantReLU
        kinds: tuple = (QuantReLU, nn.ReLU, nn.ReLU6, nn.Hardtanh)
    except ImportError:  # pragma: no cover
        kinds = (nn.ReLU, nn.ReLU6, nn.Hardtanh)
    out: list[tuple[str, nn.Module]] = []
    for n, m in model.named_modules():  # QuantReLU wraps an nn.ReLU: keep the outermost stage only
        if isinstance(m, kinds) and not any(n.startswith(p + ".") for p, _ in out):
            out.append((n, m))
    return out


@torch.no_grad()
def activations(model: nn.Module, images: np.ndarray, batch_size: int = 256) -> list[np.ndarray]:
    """Outputs of every activation stage, in call order, flattened per image: a list of (N, features)."""
    from dqhw.models import to_input

    model.eval()
    store: list[list[torch.Tensor]] = []
    calls: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: calls.append(o.detach().float().flatten(1)))
             for _, m in activation_modules(model)]
    try:
        for i in range(0, len(images), batch_size):
            calls.clear()
            model(to_input(images[i:i + batch_size]))
            store.append(list(calls))
    finally:
        for h in hooks:
            h.remove()
    if not store or not store[0]:
        return []
    return [torch.cat([b[k] for b in store]).numpy() for k in range(len(store[0]))]


def normalized_distance(clean: list[np.ndarray], adv: list[np.ndarray]) -> list[float]:
    """D = ‖A − A_adv‖₂ / ‖A‖₂ per layer, per image, averaged over images with ‖A‖ > 0."""
    out = []
    for a, b in zip(clean, adv):
        na = np.linalg.norm(a, axis=1)
        d = np.linalg.norm(a - b, axis=1)
        ok = na > 0
        out.append(float((d[ok] / na[ok]).mean()) if ok.any() else float("nan"))
    return out


def error_amplification(run, images: np.ndarray, labels: np.ndarray, eps_list: Sequence[int], seed: int,
                        batch_size: int = 256) -> dict:
    """Fig. 3: D per activation layer for FGSM white-box examples at each ε (rows: ε, columns: layers)."""
    clean = activations(run.model, images, batch_size)
    rows = []
    for e in eps_list:
        adv = attack_images(run.model, images, labels, attack_params("fgsm", e), seed=seed, batch_size=batch_size)
        rows.append(normalized_distance(clean, activations(run.model, adv, batch_size)))
    return {"attack": "fgsm", "eps": list(eps_list), "layers": [n for n, _ in activation_modules(run.model)],
            "D": rows}


# --------------------------------------------------------------------------------------------------
# sanity checks


def _cond(correct: np.ndarray, mask: np.ndarray) -> float:
    return float(correct[mask].mean()) if mask.any() else float("nan")


def sanity_checks(p: Pipeline, eps_list: Sequence[int], large: dict | None, grad: dict | None) -> list[dict]:
    """Each check: {name, status: pass|flag|skip, detail}; accuracies on the clean-correct images."""
    mask = p.correct["clean"]
    n = int(mask.sum())
    tol = _tol(n)
    acc = {c: {e: _cond(v[e], mask) for e in v} for c, v in p.correct.items() if c != "clean"}
    checks = []

    def add(name, status, detail):
        checks.append({"name": name, "status": status, "detail": detail})

    def at(col, e):
        return acc.get(col, {}).get(e)

    # 1. iterative <= single-step
    bad, seen = [], []
    for e in eps_list:
        it = {c: at(c, e) for c in ITERATIVE_ATTACKS if at(c, e) is not None}
        ss = {c: at(c, e) for c in SINGLE_STEP_ATTACKS if at(c, e) is not None}
        if it and ss:
            ci, vi = min(it.items(), key=lambda kv: kv[1])
            cs, vs = min(ss.items(), key=lambda kv: kv[1])
            seen.append(f"ε={e}: {column_label(ci)} {_pct(vi)} vs {column_label(cs)} {_pct(vs)}")
            if vi > vs + tol:
                bad.append(seen[-1])
    add("iterative at least as strong as single-step",
        "skip" if not seen else ("flag" if bad else "pass"), "; ".join(bad or seen) or "needs an iterative and a "
        "single-step attack")

    # 2. white-box vs gradient-free / transfer (gradient masking)
    bad, seen = [], []
    for e in eps_list:
        wb = {c: at(c, e) for c in GRADIENT_ATTACKS if at(c, e) is not None}
        others = {c: at(c, e) for c in acc if (c == "square" or c.endswith("(B)")) and at(c, e) is not None}
        if not wb or not others:
            continue
        cw, vw = min(wb.items(), key=lambda kv: kv[1])
        for c, v in others.items():
            seen.append(f"ε={e}: {column_label(c)} {_pct(v)} vs best white-box {column_label(cw)} {_pct(vw)}")
            if v < vw - tol:
                bad.append(seen[-1])
    has_transfer = any(c.endswith("(B)") for c in acc)
    has_square = "square" in acc
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
        r, f = at("random", e), at("fgsm", e)
        if r is not None and f is not None:
            seen.append(f"ε={e}: Random {_pct(r)} vs FGSM {_pct(f)}")
            if r < f - tol:
                bad.append(seen[-1])
    add("random noise weaker than FGSM", "skip" if not seen else ("flag" if bad else "pass"),
        "; ".join(bad or seen) or "needs random and fgsm")

    # 4. monotone in ε
    bad = []
    for c, v in acc.items():
        es = sorted(v)
        for a, b in zip(es, es[1:]):
            if v[b] > v[a] + tol:
                bad.append(f"{column_label(c)}: ε={a} {_pct(v[a])} < ε={b} {_pct(v[b])}")
    add("accuracy non-increasing in ε", "skip" if len(eps_list) < 2 else ("flag" if bad else "pass"),
        "; ".join(bad) if bad else f"{len(acc)} attacks over ε = {', '.join(map(str, sorted(eps_list)))}")

    # 5. large ε -> near 0
    if large:
        vals = {c: _cond(v, mask) for c, v in large["correct"].items()}
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
    return checks


# --------------------------------------------------------------------------------------------------
# the evaluation


def _settings(attacks: Sequence[str], eps_list: Sequence[int], queries: int | None) -> dict:
    out = {}
    for a in attacks:
        out[a] = {str(e): {k: v for k, v in attack_params(a, e, queries).to_dict().items() if k not in ("attack",
                                                                                                         "eps")}
                  for e in eps_list}
    return out


def evaluate(run_paths: Sequence[str | Path], eps: Sequence[int] | None = None, attacks: Sequence[str] | None = None,
             source: str | Path | None = None, sets: Sequence[str | Path] | None = None, limit: int | None = None,
             split: str = "test", seed: int = 0, queries: int | None = None, squeeze: bool = False,
             out: str | Path | None = None, large_eps: int = LARGE_EPS, amplification: bool = True,
             batch_size: int = 256, progress: bool = True, save_sets: bool = False,
             log: Callable[[str], None] | None = None) -> dict:
    """Evaluate runs and write report.md, report.json and the PNGs into `out`; returns the report dict."""
    from dqhw import __version__
    from dqhw.advsets import AdvSet, check_compatible, default_path, load_set, provenance, save_set
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
        attacks = () if sets else DEFAULT_ATTACKS
    attacks = [check_attack(a) for a in attacks]
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
    pipes = _make_pipelines(runs, squeeze)
    say = log or (lambda _s: None)
    t0 = time.time()

    jobs = len(pipes) * (1 + len(attacks) * len(eps_list) + (2 if large_eps else 0))
    transfer = [a for a in TRANSFER_ATTACKS if a in attacks] if src is not None else []
    jobs += len(transfer) * len(eps_list) + (len(runs) if amplification else 0) + len(loaded)
    amp_eps = sorted(set(AMPLIFICATION_EPS.get(dataset, (1, 2, 4, 8, 16))) | set(eps_list))
    crafted: list[tuple[object, AdvSet]] = []
    large_res: dict[str, dict] = {}
    grads: dict[str, dict] = {}
    amp: dict[str, dict] = {}

    with _progress(progress) as bar:
        overall = bar.add_task("eval", total=jobs)
        images_task = bar.add_task("", total=n, visible=False)

        def run_attack(model, params: AttackParams, desc: str) -> np.ndarray:
            bar.reset(images_task, total=n, description=desc, visible=True)
            adv = attack_images(model, x, y, params, seed=seed, batch_size=batch_size,
                                on_batch=lambda k: bar.update(images_task, advance=k))
            bar.update(overall, advance=1)
            return adv

        for p in pipes:
            p.correct["clean"] = _correct(p.model, x, y, batch_size)
            grads[p.label] = gradient_health(p.model, x, y, batch_size)
            bar.update(overall, advance=1)
            for a in attacks:
                for e in eps_list:
                    params = attack_params(a, e, queries)
                    adv = run_attack(p.model, params, f"{a} ε={e} {p.run.name}{' +FS' if p.squeeze else ''}")
                    p.correct.setdefault(a, {})[e] = _correct(p.model, adv, y, batch_size)
                    if save_sets:
                        prov = provenance(p.run, p.run, params, seed, sample, x.shape[1:], p.squeeze)
                        crafted.append((p.run, AdvSet(adv, y.astype(np.int64), idx.astype(np.int64), prov)))
            if large_eps:
                big = {}
                for a in ("pgd", "square"):
                    params = (attack_params("pgd", large_eps, alpha=math.ceil(large_eps / 10), steps=LARGE_STEPS)
                              if a == "pgd" else attack_params("square", large_eps, queries))
                    adv = run_attack(p.model, params, f"{a} ε={large_eps} (sanity) {p.run.name}")
                    big[a] = _correct(p.model, adv, y, batch_size)
                large_res[p.label] = {"eps": large_eps, "correct": big,
                                      "params": {"pgd": {"alpha": math.ceil(large_eps / 10), "steps": LARGE_STEPS}}}
            say(f"{p.label}: done ({time.time() - t0:.0f} s)")

        for a in transfer:
            for e in eps_list:
                params = attack_params(a, e, queries)
                adv = run_attack(src.model, params, f"{a} ε={e} on substitute {src.name}")
                for p in pipes:
                    p.correct.setdefault(f"{a}(B)", {})[e] = _correct(p.model, adv, y, batch_size)
                if save_sets:
                    for r in runs:
                        prov = provenance(r, src, params, seed, sample, x.shape[1:], False)
                        crafted.append((r, AdvSet(adv, y.astype(np.int64), idx.astype(np.int64), prov)))

        for s in loaded:
            row = {int(v): k for k, v in enumerate(s.indices)}
            pos = np.array([row[int(i)] for i in idx], dtype=np.int64)
            adv = s.images[pos]
            for p in pipes:
                white = s.provenance["crafted_by_hash"] == p.run.model_hash() and s.squeezed == p.squeeze
                col = s.attack if white else f"{s.attack}(B)"
                p.correct.setdefault(col, {})[s.eps] = _correct(p.model, adv, y, batch_size)
            bar.update(overall, advance=1)

        if amplification:
            for r in runs:
                bar.reset(images_task, total=len(amp_eps), description=f"error amplification {r.name}", visible=True)
                amp[str(r.path)] = error_amplification(r, x, y, amp_eps, seed, batch_size)
                bar.update(overall, advance=1)
        bar.update(images_task, visible=False)

    # ---- assemble
    report_runs = []
    for p in pipes:
        cols = sorted((c for c in p.correct if c != "clean"),
                      key=lambda c: COLUMN_ORDER.index(c) if c in COLUMN_ORDER else len(COLUMN_ORDER))
        accs = {c: {str(e): float(p.correct[c][e].mean()) for e in sorted(p.correct[c])} for c in cols}
        worst = {}
        for e in eps_list:
            arrs = [p.correct[c][e] for c in cols if e in p.correct[c]]
            if arrs:
                worst[str(e)] = float(np.logical_and.reduce(arrs + [p.correct["clean"]]).mean())
        large = large_res.get(p.label)
        checks = sanity_checks(p, eps_list, large, grads.get(p.label))
        cfg = p.run.config
        report_runs.append({
            "label": p.label, "run": str(p.run.path), "name": p.run.name, "model_hash": p.run.model_hash(),
            "family": family(cfg), "model": cfg.model, "bits": cfg.bits, "wbits": cfg.wbits, "beta": cfg.beta,
            "adv": cfg.adv, "squeeze": p.squeeze, "clean": float(p.correct["clean"].mean()), "acc": accs,
            "worst_case": worst, "columns": cols,
            "large_eps": None if large is None else {
                "eps": large["eps"], "params": large["params"],
                "acc": {c: float(v.mean()) for c, v in large["correct"].items()},
                "acc_on_correct": {c: _cond(v, p.correct["clean"]) for c, v in large["correct"].items()}},
            "gradient": grads.get(p.label), "checks": checks,
            "amplification": None if p.squeeze else amp.get(str(p.run.path)),
        })
    report = {
        "dqhw_version": __version__, "created": time.strftime("%Y-%m-%d %H:%M:%S"), "dataset": dataset,
        "split": split, "num_images": n, "sample": sample.to_dict(), "sample_text": sample.describe()
        + (" (the images the --sets share)" if loaded else ""), "seed": seed, "eps": eps_list, "attacks": attacks,
        "settings": _settings(attacks, eps_list, queries),
        "source": None if src is None else {"run": str(src.path), "model_hash": src.model_hash(),
                                            "model": src.config.model, "family": family(src.config),
                                            "attacks": transfer},
        "sets": [str(s.path) for s in loaded], "squeeze": squeeze, "runs": report_runs,
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
    for run, s in crafted:
        save_set(default_path(run, s.attack, s.eps, sample, src if s.black_box else None, s.squeezed), s)
    return report


def bit_table(report_runs: list[dict], eps_list: Sequence[int]) -> dict | None:
    """Table 1 / Fig. 1: accuracy vs activation bits per family, when the quantized runs span ≥ 2 bit widths."""
    plain = [r for r in report_runs if not r["squeeze"]]
    bits = sorted({int(r["bits"]) for r in plain if str(r["bits"]).isdigit()})
    if len(bits) < 2:
        return None
    e = str(eps_list[len(eps_list) // 2])
    cols = [c for c in ("fgsm", "pgd", "square", "autoattack", "pgd(B)") if any(c in r["acc"] for r in plain)]
    rows = {}
    for r in plain:
        fam = r["family"]
        key = "fp" if not str(r["bits"]).isdigit() else int(r["bits"])
        rows.setdefault(fam, {})[str(key)] = {"clean": r["clean"], **{c: r["acc"].get(c, {}).get(e) for c in cols},
                                              "run": r["name"]}
    return {"eps": int(e), "bits": bits, "columns": ["clean", *cols], "rows": rows}


# --------------------------------------------------------------------------------------------------
# Markdown


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
    for e in rep["eps"]:
        cols = []
        for r in rep["runs"]:
            cols += [c for c in r["columns"] if str(e) in r["acc"].get(c, {}) and c not in cols]
        cols = sorted(cols, key=lambda c: COLUMN_ORDER.index(c) if c in COLUMN_ORDER else len(COLUMN_ORDER))
        L.append(f"\n## ε = {e}\n")
        L.append("| run | clean | " + " | ".join(column_label(c) for c in cols) + " | worst case |")
        L.append("|---|---:|" + "---:|" * len(cols) + "---:|")
        for r in rep["runs"]:
            cells = [_pct(r["acc"].get(c, {}).get(str(e))) for c in cols]
            L.append(f"| {r['label']} | {_pct(r['clean'])} | " + " | ".join(cells)
                     + f" | {_pct(r['worst_case'].get(str(e)))} |")
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
    L.append("On the correctly classified images (Athalye et al. 2018; Carlini et al. 2019). "
             "✅ pass, ⚠️ flagged, ➖ not run.\n")
    icon = {"pass": "✅", "flag": "⚠️", "skip": "➖"}
    for r in rep["runs"]:
        flags = sum(c["status"] == "flag" for c in r["checks"])
        L.append(f"\n**{r['label']}** — {flags} flagged\n")
        for c in r["checks"]:
            L.append(f"- {icon[c['status']]} {c['name']}: {c['detail']}")
    amp_runs = [r for r in rep["runs"] if r.get("amplification")]
    if amp_runs:
        L.append("\n## Error amplification (Fig. 3)\n")
        L.append("D = ‖A − A_adv‖₂ / ‖A‖₂ at each activation layer (mean over images), FGSM white-box on each run.\n")
        e_show = rep["eps"][len(rep["eps"]) // 2]
        width = max(len(r["amplification"]["layers"]) for r in amp_runs)
        L.append(f"At ε = {e_show}:\n")
        L.append("| run | " + " | ".join(f"L{i + 1}" for i in range(width)) + " |")
        L.append("|---|" + "---:|" * width)
        for r in amp_runs:
            a = r["amplification"]
            row = a["D"][a["eps"].index(e_show)]
            L.append(f"| {r['label']} | " + " | ".join(f"{v:.3f}" for v in row) + " |" + " |" * (width - len(row)))
    if rep.get("plots"):
        L.append("\n## Plots\n")
        for name in rep["plots"]:
            L.append(f"![{name}]({name})")
    L.append("\n## Settings\n")
    L.append("α and steps in integer pixels: BIM/PGD α = 1, ⌊min(ε+4, 1.25ε)⌋ steps (PGD from a random integer "
             "start); R+FGSM random step ⌊ε/2⌋; Square: queries per image (stops when misclassified). "
             "Large-ε sanity attack: PGD α = ⌈ε/10⌉, 20 steps, and Square.\n")
    for a, per in rep["settings"].items():
        L.append(f"- {column_label(a)}: " + "; ".join(
            f"ε={e}: " + ", ".join(f"{k} {v}" for k, v in s.items() if v is not None) for e, s in per.items()))
    L.append(f"\n{rep['seconds']:.0f} s.")
    return "\n".join(L) + "\n"
