"""`dqhw attack RUN --attack A --eps E --executor ray [--jobs N]`: the n shards of one adversarial set
(`--shard i/n`, RUN/adv/shards/) crafted as Ray tasks, then merged into the whole set as `--merge` does.
RUN must be on a file system every node sees."""

from __future__ import annotations

import argparse
import sys

from dqhw.errors import DqhwError


def attack_shard(args: argparse.Namespace) -> str:
    """One shard inside a Ray worker: the path of the shard file it wrote."""
    from dqhw.commands.attack_work import craft

    path, _ = craft(args)
    return str(path)


def run_attack_ray(args: argparse.Namespace) -> int:
    from dqhw.commands.attack_work import merge as merge_shards
    from dqhw.distributed.cluster import cluster_device, connect, task_options, unwrap

    if args.shard or args.merge is not None:
        raise DqhwError("--executor ray shards the set itself: not with --shard or --merge")
    if args.attack is None or args.eps is None:
        raise DqhwError("--attack and --eps are required (unless --merge)")
    from dqhw.attacks import attack_params

    attack_params(args.attack, args.eps, args.queries)  # a bad attack fails here, before the cluster starts
    from dqhw.device import resolve_device

    device = args.device if args.address else resolve_device(args.device)  # a local cluster is this machine
    ray = connect(args.address, args.jobs)
    device = cluster_device(ray, device)
    n = args.jobs or int(ray.cluster_resources().get("CPU", 1))
    task = ray.remote(attack_shard).options(**task_options("attack", device))
    shards = [argparse.Namespace(**{**vars(args), "shard": f"{i}/{n}", "out": None, "quiet": True, "device": device,
                                    "executor": "local", "jobs": None, "address": None}) for i in range(n)]
    refs = [task.remote(ns) for ns in shards]
    if not args.quiet:
        print(f"attack {args.attack} eps {args.eps}: {n} shards submitted to Ray", file=sys.stderr, flush=True)
    paths = []
    for i, ref in enumerate(refs):
        try:
            paths.append(ray.get(ref))
        except Exception as e:  # noqa: BLE001 - the first failed shard ends the command in one line
            for r in refs[i + 1:]:
                ray.cancel(r, force=True)
            raise unwrap(ray, e, f"shard {i}/{n}") from None
    merge = argparse.Namespace(**{**vars(args), "merge": paths})
    return merge_shards(merge)
