"""`dqhw mechanism configs/dq-mechanism.toml`: the pre-registered experiment on DQ's mechanism (train every
run, perturb every model identically, measure, judge by the config's rules, write the report)."""

from __future__ import annotations

import argparse

from dqhw.mechanism.runner import STAGES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="the experiment's TOML (configs/dq-mechanism.toml)")
    p.add_argument("--out", default=None, help="output folder (default: the config's [experiment] out)")
    p.add_argument("--only", nargs="+", choices=STAGES, default=None,
                   help=f"run only these stages ({', '.join(STAGES)}); each skips what is already done")
    p.add_argument("--publish", default=None, metavar="DIR",
                   help="after the report, copy the small raw results (measurements, metrics, layers, verdict, "
                        "report, plots) to DIR (e.g. results/dq-mechanism)")
    p.add_argument("--jobs", type=int, default=None, help="processes side by side (default: the config's jobs)")


def run(args: argparse.Namespace) -> int:
    from dqhw.errors import DqhwError
    from dqhw.mechanism.config import load
    from dqhw.mechanism.runner import run_experiment

    cfg = load(args.config)
    if args.out:
        cfg.out = args.out
    if args.jobs is not None:
        if args.jobs < 1:
            raise DqhwError(f"--jobs must be >= 1, got {args.jobs}")
        cfg.jobs = args.jobs
    out = run_experiment(cfg, tuple(args.only or STAGES), say=lambda s: print(s, flush=True), publish=args.publish)
    print(f"mechanism: {out}")
    return 0
