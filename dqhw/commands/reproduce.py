"""`dqhw reproduce CONFIG`: train, attack, evaluate, build and simulate everything a config
(configs/*.toml) describes; resumable (finished units are skipped); writes OUT/report.md, tables.md,
results.json and plots/ (see dqhw.reproduce and docs/reproduce.md)."""

from __future__ import annotations

import argparse
import sys

from dqhw.errors import DqhwError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG", help="a reproduce config, e.g. configs/cifar10-cpu.toml")
    p.add_argument("--out", default=None, help="output folder (default: the config's experiment.out)")
    p.add_argument("--plan", action="store_true",
                   help="print every unit (done / to run), its dependencies and estimated time; run nothing")
    p.add_argument("--no-hardware", action="store_true",
                   help="skip the [hardware] units (dqhw build + dqhw sim); the report says so")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the config's threads)")
    p.add_argument("--report-only", action="store_true", help="only write the report from the units done so far")
    p.add_argument("--quiet", action="store_true", help="only the runner's own progress lines")
    from dqhw.device import DEVICE_HELP

    p.add_argument("--device", default=None,
                   help=f"where training and evaluation units run: {DEVICE_HELP}; default: the config's device. "
                        "Not part of a unit's id: switching it keeps finished units")
    from dqhw.distributed.cluster import add_arguments as add_executor

    add_executor(p, "with --executor ray and no --address: the local cluster's CPUs, i.e. units side by side "
                    "(default: this machine's CPUs)")


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from dqhw.reproduce.config import load_config

    if args.executor != "ray" and (args.address or args.jobs is not None):
        raise DqhwError("--address and --jobs are for --executor ray")
    cfg = load_config(args.config)
    threads = args.threads if args.threads is not None else cfg.threads
    if threads is not None:
        if threads < 1:
            raise DqhwError(f"--threads must be >= 1, got {threads}")
        os.environ["OMP_NUM_THREADS"] = str(threads)  # for any subprocess (build tools, shards)
        import torch

        torch.set_num_threads(threads)
    out = Path(args.out or cfg.out)
    from dqhw.reproduce.plan import make_plan

    units = make_plan(cfg, out, hardware=not args.no_hardware)
    if args.plan:
        print_plan(cfg, out, units)
        return 0
    from dqhw.reproduce.report import write_report
    from dqhw.reproduce.runner import execute

    if not args.report_only:
        cfg = _with_device(cfg, args)
        out.mkdir(parents=True, exist_ok=True)
        if args.executor == "ray":
            from dqhw.reproduce.ray_runner import execute_ray

            summary = execute_ray(cfg, out, units, address=args.address, jobs=args.jobs, threads=threads)
        else:
            summary = execute(cfg, out, units, quiet=args.quiet)
    results = write_report(cfg, out, units, hardware_run=not args.no_hardware)
    outcomes = ", ".join(f"{v['outcome']}" for v in results["verdict"]) or "no rules"
    ran = "" if args.report_only else (f"{len(summary['ran'])} units run, {len(summary['skipped'])} skipped, "
                                       f"{summary['seconds']:.0f} s; ")
    print(f"reproduce {cfg.name}: {ran}wrote {out}/report.md (+ tables.md, results.json, plots/); verdict: "
          f"{outcomes}", file=sys.stdout)
    return 0


def _with_device(cfg, args):
    """The config with --device applied, checked here (one line when CUDA is absent) unless the units run
    on a cluster at --address, whose GPUs the Ray runner checks (and where auto means its GPUs if any)."""
    import dataclasses

    from dqhw.device import resolve_device

    device = args.device or cfg.device
    if args.executor == "ray" and args.address:
        if device != "auto":  # auto: cuda if the cluster has a GPU (dqhw.distributed.cluster.cluster_device)
            from dqhw.device import check_name

            check_name(device)
    else:
        device = resolve_device(device)
    return dataclasses.replace(cfg, device=device)


def print_plan(cfg, out, units) -> None:
    from dqhw.reproduce.estimate import estimate, hms, split_sizes
    from dqhw.reproduce.plan import read_done, train_progress

    by_id = {u.id: u for u in units}
    n_train, n_test = split_sizes(cfg)
    print(f"plan of {cfg.path} ({cfg.name}): {cfg.dataset_label}, {n_train:,} training images (after the "
          f"validation carve), {n_test:,} test images; device {cfg.device}, threads {cfg.threads or 'torch default'}; "
          f"output {out}")
    total_left, total_done = 0.0, 0.0
    width = max(len(u.id) for u in units)
    for k, u in enumerate(units, 1):
        rec = read_done(out, u)
        est = estimate(u, by_id, cfg)
        if rec:
            status, shown = "done", f"{hms(rec['wall_seconds'])} measured"
            total_done += rec["wall_seconds"]
        else:
            prog = train_progress(u) if u.kind == "train" else None
            status = f"epoch {prog[0]}/{prog[1]}" if prog else "to run"
            left = est * (1 - prog[0] / prog[1]) if prog else est
            total_left += left
            shown = f"~{hms(left)}"
        deps = ", ".join(by_id[d].title for d in u.deps) or "-"
        print(f"{k:>3}. {u.id:<{width}}  {status:<11} {shown:>16}  after: {deps}")
    print(f"total: {len(units)} units, {sum(1 for u in units if read_done(out, u))} done ({hms(total_done)} "
          f"measured), estimated {hms(total_left)} to run (cost model: dqhw/reproduce/estimate.py)")
    if cfg.device != "cpu":
        print(f"note: device {cfg.device}: the estimates are for this project's 2-core CPU with one thread; a GPU "
              "trains far faster (not calibrated); bench/gpu_check.sh measures a GPU and projects this config's "
              "wall time")
