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
    from dqhw.commands.attack_work import craft, merge
    from dqhw.errors import DqhwError

    if args.executor == "ray":
        from dqhw.distributed.attack import run_attack_ray

        return run_attack_ray(args)
    if args.address or args.jobs is not None:
        raise DqhwError("--address and --jobs are for --executor ray")
    if args.merge is not None:
        return merge(args)
    _, message = craft(args)
    print(message, file=sys.stdout)
    return 0
