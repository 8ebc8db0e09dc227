"""`dqhw attack RUN --attack pgd --eps 8 [--source RUN2]`: write
RUN/adv/<attack>-eps<eps>[-from-<source>]-<split>[-n<N>-s<seed>].npz."""

from __future__ import annotations

import argparse
import sys

from dqhw.attacks import ATTACKS, AUTOATTACK_QUERIES, DEFAULT_QUERIES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="the target run directory (dqhw train --out)")
    p.add_argument("--attack", default=None, metavar="NAME",
                   help=f"one of {', '.join(ATTACKS)} (pgd: the paper's schedule; pgd-strong: α = ⌈ε/4⌉, "
                        "20 steps, 3 restarts)")
    p.add_argument("--eps", type=int, default=None,
                   help="L-inf budget in integer pixels 0..255 (paper: 2, 8, 16); required with --attack")
    p.add_argument("--source", default=None, metavar="RUN2",
                   help="craft on this substitute run (black-box transfer) instead of the target itself")
    p.add_argument("--split", default="test", choices=("test", "val", "train"))
    p.add_argument("--limit", type=int, default=None,
                   help="a seeded, class-stratified sample of N images of the split (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seeds the attack and the --limit sample (default 0)")
    p.add_argument("--queries", type=int, default=None,
                   help=f"Square queries (default {DEFAULT_QUERIES}) / AutoAttack's Square "
                        f"(default {AUTOATTACK_QUERIES})")
    p.add_argument("--squeeze", action="store_true",
                   help="attack the feature-squeezed pipeline end to end (BPDA); images are the unsqueezed input")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--out", default=None, metavar="FILE", help="output .npz (default RUN/adv/<name>.npz)")
    p.add_argument("--shard", default=None, metavar="i/n",
                   help="craft only slice i of n of the sample, into RUN/adv/shards/ (run the n slices anywhere, "
                        "then --merge)")
    p.add_argument("--merge", nargs="*", default=None, metavar="SHARD.npz",
                   help="join the shard files of one set (default: every shard file in RUN/adv/shards/ of one "
                        "attack) into the whole set in RUN/adv/ (or --out)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    from dqhw.device import DEVICE_HELP

    p.add_argument("--device", default="cpu", help=f"where the attack runs: {DEVICE_HELP}; default cpu")
    from dqhw.distributed.cluster import add_arguments as add_executor

    add_executor(p, "with --executor ray: the number of shards (Ray tasks), merged into the whole set "
                    "(default: the cluster's CPUs)")


def run(args: argparse.Namespace) -> int:
    from dqhw.errors import DqhwError

    if args.executor == "ray":
        from dqhw.distributed.attack import run_attack_ray

        return run_attack_ray(args)
    if args.address or args.jobs is not None:
        raise DqhwError("--address and --jobs are for --executor ray")
    if args.merge is not None:
        return _merge(args)
    _, message = craft(args)
    print(message, file=sys.stdout)
    return 0


def craft(args: argparse.Namespace) -> tuple[object, str]:
    """Craft the set (or the shard) args describe and save it; returns (its path, the summary line)."""
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from dqhw.advsets import craft_set, default_path, save_set, shard_path
    from dqhw.attacks import MODE_LABELS, attack_params
    from dqhw.data import load_dataset
    from dqhw.errors import DqhwError
    from dqhw.infer import predict_logits
    from dqhw.runs import load_run
    from dqhw.sampling import sample_split, shard_slice

    if args.attack is None or args.eps is None:
        raise DqhwError("--attack and --eps are required (unless --merge)")
    from dqhw.device import resolve_device

    device = resolve_device(args.device)
    params = attack_params(args.attack, args.eps, args.queries)  # validates name, eps, queries first
    shard = None
    if args.shard:
        from dqhw.sampling import parse_shard

        shard = parse_shard(args.shard)
    if args.batch_size < 1:
        raise DqhwError(f"--batch-size must be >= 1, got {args.batch_size}")
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix != ".npz":
        raise DqhwError(f"--out {out}: adversarial sets are .npz files")
    target = load_run(args.run)
    source = load_run(args.source) if args.source else None
    data = load_dataset(target.config.dataset, target.config.data_dir)
    x, y = data.split(args.split)
    sample = sample_split(y, args.split, args.limit, args.seed)
    n = sample.size if shard is None else len(shard_slice(sample.indices, shard))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  disable=args.quiet, transient=True) as bar:
        task = bar.add_task(f"{args.attack} eps {args.eps}", total=n)
        advset = craft_set(target, args.attack, args.eps, source=source, split=args.split, limit=args.limit,
                           seed=args.seed, squeeze=args.squeeze, batch_size=args.batch_size, data=data,
                           params=params, on_batch=lambda k: bar.update(task, advance=k), shard=shard,
                           device=device)
    whole = default_path(target, args.attack, args.eps, sample, source, args.squeeze)
    path = save_set(out or (whole if shard is None else shard_path(whole, shard)), advset)
    model = target.model
    if args.squeeze:
        from dqhw.squeeze import Squeezed

        model = Squeezed(model)
    clean_ok = predict_logits(model, x[advset.indices]).argmax(1) == advset.labels
    adv_ok = predict_logits(model, advset.images).argmax(1) == advset.labels
    # robust accuracy, as dqhw eval counts it: right on the clean image and on its adversarial twin
    clean, adv = float(clean_ok.mean()), float((clean_ok & adv_ok).mean())
    part = "" if shard is None else f" (shard {args.shard}: {len(advset)} images)"
    return path, (f"wrote {path}: {sample.describe()}{part}; {MODE_LABELS[advset.provenance['mode']]}; accuracy "
                  f"of {target.name} clean {clean:.4f} -> robust {adv:.4f}")


def _merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dqhw.advsets import load_set, merge_shards, save_set
    from dqhw.errors import DqhwError
    from dqhw.runs import load_run

    target = load_run(args.run)
    paths = [Path(p) for p in args.merge] or sorted((Path(target.path) / "adv" / "shards").glob("*.shard*of*.npz"))
    if not paths:
        raise DqhwError(f"--merge: no shard files given and none in {Path(target.path) / 'adv' / 'shards'}")
    merged, name = merge_shards(paths)
    out = Path(args.out) if args.out else Path(target.path) / "adv" / name
    save_set(out, merged)
    load_set(out, run=target)  # the whole set passes every check a set file gets (labels, indices, ε)
    print(f"wrote {out}: {len(merged)} images merged from {merged.provenance['merged_shards']} shards", file=sys.stdout)
    return 0
