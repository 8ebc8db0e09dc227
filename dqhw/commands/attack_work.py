"""What `dqhw attack` does, apart from its arguments: craft a set (or one shard of it) from the
command's arguments, merge shards into the whole set; used by the command and by its Ray tasks
(dqhw.distributed.attack)."""

from __future__ import annotations

import argparse
import sys


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


def merge(args: argparse.Namespace) -> int:
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
