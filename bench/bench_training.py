"""Low-bit training quality: CNV on CIFAR-10 (JPEG copy), every model side by side, same epoch budget.

Two modes:

  targets (default) - full precision, A2W2 and A1W2, vanilla (beta 0) and DQ (beta 2e-3), each with the
                      paper-faithful default and with the adopted levers (ADOPTED below); checks the
                      issue-15 targets: A2W2 >= FP - 5 points, A1W2 >= FP - 12 points, vanilla and DQ.
  --screen          - A2W2 vanilla: the default, each lever alone, all levers together, plus FP: what
                      each lever changes, at one seed and one budget.

Every run is a normal `dqhw train` run directory under --out; finished runs are skipped (resumable), an
interrupted one continues from its checkpoint. Prints a table (clean test accuracy, gap to FP,
seconds/epoch), writes OUT/bench_training.json and OUT/bench_training.png.

usage:
  python bench/bench_training.py --data-dir data/cifar10.npz [--epochs 15] [--width 0.5] [--out DIR]
  python bench/bench_training.py --screen --schedule step --width 0.5 --epochs 6 --train-subset 10000 \
      --test-subset 5000 --threads 1
  python bench/bench_training.py --only fp a2w2-dq a2w2-dq+levers
  python bench/bench_training.py --only fp a1w2-dq+levers a1w2-dq+levers-beta5e-4

--schedule applies one learning-rate schedule to every run (full precision included), so the gaps compare
like with like; --distill T adds distillation from the FP run to every run that starts from it. A DQ
"+levers" run may carry a different beta as NAME-beta<X> (e.g. a1w2-dq+levers-beta1e-3, only when named
in --only): the DQ target then uses, per bit width, the beta whose *validation* accuracy is highest
(chosen on val, reported on test), the way the paper picks beta per setting.

--train-subset / --test-subset train and test on a seeded, class-stratified subset (written once as
OUT/data-subset.npz; the results then say so); the default is the whole data set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

DATASET_LABEL = "CIFAR-10 (JPEG copy)"
TARGET_GAP = {"a2w2": 5.0, "a1w2": 12.0}  # points below full precision allowed (issue 15)

# The levers the CPU screening supported (docs/training.md, "What each lever changed": learned range
# +8.9, first/last 8-bit weights +3.1, init from FP +16.4 points on A2W2 vanilla; per-channel +2.1 was
# within noise and is not adopted). With init from FP, learned ranges start calibrated to the FP run's
# activations (dqhw/calibrate.py: +8.3 / +5.2 points on A1W2 vanilla / DQ). The cosine schedule (+6.5 in the
# screening) is the bench's default --schedule, for every run alike, FP included.
# The paper-faithful default stays the default of `dqhw train`.
# "init" means --init <the FP run of this bench> (so a "+levers" run also profits from FP's epochs).
ADOPTED: dict = {"act_range": "learned", "first_last_bits": "8", "init": "fp"}

# Every lever on its own (the screening): TrainConfig fields; "init": "fp" -> the FP run of the bench.
LEVERS: dict[str, dict] = {
    "per-channel": {"weight_scaling": "per-channel"},
    "first-last-8": {"first_last_bits": "8"},
    "learned-range": {"act_range": "learned"},
    "warmup-1": {"warmup_epochs": 1},
    "cosine": {"schedule": "cosine"},
    "init-fp": {"init": "fp"},
    "init-fp+kd4": {"init": "fp", "distill": 4.0},
}
ALL_LEVERS = {"weight_scaling": "per-channel", "first_last_bits": "8", "act_range": "learned",
              "warmup_epochs": 1, "init": "fp"}

BASE = {"fp": {"bits": "fp", "wbits": "fp", "beta": 0.0},
        "a2w2-vanilla": {"bits": "2", "wbits": "2", "beta": 0.0},
        "a2w2-dq": {"bits": "2", "wbits": "2", "beta": 2e-3},
        "a1w2-vanilla": {"bits": "1", "wbits": "2", "beta": 0.0},
        "a1w2-dq": {"bits": "1", "wbits": "2", "beta": 2e-3}}


def beta_variant(name: str) -> tuple[str, float] | None:
    """'a1w2-dq+levers-beta1e-3' -> ('a1w2-dq+levers', 1e-3); None for any other name."""
    base, sep, beta = name.rpartition("-beta")
    if not sep or not base.endswith("+levers") or not base.split("+")[0].endswith("-dq"):
        return None
    try:
        value = float(beta)
    except ValueError:
        return None
    return (base, value) if value > 0 else None


def plan(screen: bool) -> dict[str, dict]:
    """name -> TrainConfig overrides, in training order (FP first: others may start from it)."""
    runs: dict[str, dict] = {"fp": dict(BASE["fp"])}
    if screen:
        runs["a2w2-vanilla"] = dict(BASE["a2w2-vanilla"])
        for lever, kw in LEVERS.items():
            runs[f"a2w2-vanilla+{lever}"] = BASE["a2w2-vanilla"] | kw
        runs["a2w2-vanilla+all"] = BASE["a2w2-vanilla"] | ALL_LEVERS
        return runs
    for name in ("a2w2-vanilla", "a2w2-dq", "a1w2-vanilla", "a1w2-dq"):
        runs[name] = dict(BASE[name])
        runs[f"{name}+levers"] = BASE[name] | ADOPTED
    return runs


def stratified_subset(src: str, dst: Path, n_train: int | None, n_test: int | None, seed: int = 0) -> Path:
    """A seeded, class-stratified subset of an x_train/y_train/x_test/y_test .npz (equal counts per class)."""
    import numpy as np

    if dst.is_file():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    z = np.load(src)
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x, y = z[f"x_{split}"], z[f"y_{split}"]
        if n is None or n >= len(y):
            out[f"x_{split}"], out[f"y_{split}"] = x, y
            continue
        classes = np.unique(y)
        idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n // len(classes)] for c in classes])
        idx = rng.permutation(idx)
        out[f"x_{split}"], out[f"y_{split}"] = x[idx], y[idx]
    tmp = dst.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    tmp.rename(dst)
    return dst


def train_one(name: str, kw: dict, args, out: Path) -> dict:
    from dqhw.config import TrainConfig
    from dqhw.train import train

    run_dir = out / name
    kw = {"schedule": args.schedule} | dict(kw)
    if kw.get("init") == "fp":
        kw["init"] = str(out / "fp")
        if args.distill:
            kw["distill"] = args.distill
    cfg = TrainConfig(model="cnv", dataset=args.dataset, data_dir=args.data_dir_used, width=args.width,
                      epochs=args.epochs, seed=args.seed, device=args.device, out=str(run_dir), **kw)
    metrics_path = run_dir / "metrics.json"
    done = metrics_path.is_file() and len(json.loads(metrics_path.read_text())["epochs"]) >= args.epochs
    if done:
        print(f"{name}: finished before, skipped", file=sys.stderr, flush=True)
    else:
        resume = (run_dir / "checkpoint.pt").is_file()
        print(f"{name}: {'resuming' if resume else 'training'} ({cfg.validate().label()})", file=sys.stderr,
              flush=True)
        train(cfg, resume=resume, progress=not args.quiet)
    m = json.loads(metrics_path.read_text())
    epochs = m["epochs"][:args.epochs]
    return {"name": name, "label": m.get("label", name), "test_acc": epochs[-1]["test_acc"],
            "val_acc": epochs[-1]["val_acc"], "epochs": len(epochs),
            "seconds_per_epoch": sum(e["seconds"] for e in epochs) / len(epochs),
            "init_test_acc_at_start": (m.get("init") or {}).get("test_acc_at_start"),
            "beta": cfg.resolved_beta, "schedule": cfg.schedule,
            "options": {k: v for k, v in kw.items()}, "curve": [e["test_acc"] for e in epochs]}


def check_targets(rows: dict[str, dict]) -> list[dict]:
    """One check per '+levers' run (the paper-faithful defaults are reported in the table, not judged); a
    DQ '+levers' run with beta variants is judged on the variant with the best validation accuracy (beta
    chosen on val, never on test)."""
    fp = rows.get("fp")
    checks = []
    if fp is None:
        return checks
    candidates: dict[str, list[str]] = {}
    for name in rows:
        variant = beta_variant(name)
        base = variant[0] if variant else name
        family = base.split("-")[0]
        # the targets are for the adopted levers; the paper-faithful defaults are reported, not judged
        if family not in TARGET_GAP or not base.endswith("+levers"):
            continue
        candidates.setdefault(base, []).append(name)
    for base, names in candidates.items():
        chosen = max(names, key=lambda n: rows[n]["val_acc"])
        r = rows[chosen]
        need = 100 * fp["test_acc"] - TARGET_GAP[base.split("-")[0]]
        checks.append({"run": base, "judged_on": chosen, "beta": r.get("beta"), "clean": 100 * r["test_acc"],
                       "need": need, "passed": 100 * r["test_acc"] >= need,
                       "chosen_from": names if len(names) > 1 else None})
    return checks


def table(rows: dict[str, dict], checks: list[dict], args) -> str:
    fp = rows.get("fp")
    lines = [f"CNV width {args.width}, {args.data_label}, {args.epochs} epochs each, seed {args.seed}, "
             f"{args.schedule} learning-rate schedule for every run"
             + (f", distillation T = {args.distill:g} from the FP run in every run that starts from it"
                if args.distill else ""), "",
             "| run | label | beta | clean test % | val % | gap to FP (points) | s/epoch |",
             "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        gap = "" if fp is None else f"{100 * (r['test_acc'] - fp['test_acc']):+.1f}"
        beta = r.get("beta")
        lines.append(f"| {name} | {r['label']} | {'' if beta is None else f'{beta:g}'} | {100 * r['test_acc']:.1f} "
                     f"| {100 * r['val_acc']:.1f} | {gap} | {r['seconds_per_epoch']:.0f} |")
    if checks:
        lines += ["", "| target | judged on (beta chosen on val) | clean % | needs ≥ | result |",
                  "|---|---|---|---|---|"]
        for c in checks:
            lines.append(f"| {c['run']} | {c['judged_on']} | {c['clean']:.1f} | {c['need']:.1f} | "
                         f"{'PASS' if c['passed'] else 'FAIL'} |")
    return "\n".join(lines)


def plot(rows: dict[str, dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 5))
    names = list(rows)
    a.barh(names, [100 * rows[n]["test_acc"] for n in names])
    a.invert_yaxis()
    a.set_xlabel("clean test accuracy (%)")
    for n in names:
        b.plot(range(1, len(rows[n]["curve"]) + 1), [100 * v for v in rows[n]["curve"]], marker="o", label=n)
    b.set_xlabel("epoch")
    b.set_ylabel("test accuracy (%)")
    b.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15, help="epochs per model (default 15)")
    ap.add_argument("--width", type=float, default=0.5, help="CNV width multiplier (default 0.5)")
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--data-dir", default="data/cifar10.npz")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--schedule", choices=("step", "cosine"), default="cosine",
                    help="learning-rate schedule for every run, FP included (default cosine; step: the paper's)")
    ap.add_argument("--distill", type=float, default=None,
                    help="distil from the FP run at this temperature in every run that starts from it")
    ap.add_argument("--screen", action="store_true", help="A2W2 vanilla: default vs each lever alone vs all")
    ap.add_argument("--only", nargs="*", default=None, help="train/report only these runs (names as printed)")
    ap.add_argument("--out", default=None, help="folder for the runs (default runs/bench-training[-screen])")
    ap.add_argument("--train-subset", type=int, default=None, help="seeded class-stratified training subset")
    ap.add_argument("--test-subset", type=int, default=None, help="seeded class-stratified test subset")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (on a loaded machine 1 thread per process was ~10x faster than 2)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = Path(args.out or ("runs/bench-training-screen" if args.screen else "runs/bench-training"))
    args.data_dir_used, args.data_label = args.data_dir, DATASET_LABEL + ", all 50k train (10 % val) / 10k test"
    if args.train_subset or args.test_subset:
        args.data_dir_used = str(stratified_subset(args.data_dir, out / "data-subset.npz", args.train_subset,
                                                   args.test_subset, args.seed))
        args.data_label = (f"{DATASET_LABEL}, seeded class-stratified subset: {args.train_subset or 50000} train "
                           f"(10 % of it val) / {args.test_subset or 10000} test")
    todo = plan(args.screen)
    if args.only:
        for name in args.only:
            variant = None if args.screen else beta_variant(name)
            if variant and variant[0] in todo:
                todo[name] = todo[variant[0]] | {"beta": variant[1]}
        unknown = [n for n in args.only if n not in todo]
        if unknown:
            print(f"bench_training: unknown run {unknown[0]!r}; choose from {', '.join(todo)}", file=sys.stderr)
            return 2
        needs_fp = any(todo[n].get("init") == "fp" for n in args.only)
        todo = {n: kw for n, kw in todo.items() if n in args.only or (n == "fp" and needs_fp)}
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rows = {name: train_one(name, kw, args, out) for name, kw in todo.items()}
    checks = [] if args.screen else check_targets(rows)
    text = table(rows, checks, args)
    print(text)
    res = {"dataset": args.data_label, "model": "cnv", "width": args.width, "epochs": args.epochs, "seed": args.seed,
           "mode": "screen" if args.screen else "targets", "schedule": args.schedule, "distill": args.distill,
           "adopted_levers": ADOPTED, "runs": rows,
           "targets": checks, "wall_seconds": round(time.time() - t0, 1), "threads": args.threads,
           "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    (out / "bench_training.json").write_text(json.dumps(res, indent=1))
    (out / "bench_training.md").write_text(text + "\n")
    plot(rows, out / "bench_training.png", f"CNV {args.width}, {args.data_label}, {args.epochs} epochs, "
         f"{args.schedule} schedule")
    print(f"wrote {out / 'bench_training.json'}, {out / 'bench_training.png'}", file=sys.stderr)
    return 0 if all(c["passed"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
