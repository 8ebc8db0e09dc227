"""`dqhw sim [BUILD]` (what `make sim` runs): clean + adversarial sets through the RTL, bit-exact."""

from __future__ import annotations

import argparse
import os


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", nargs="?", default=None,
                   help="build directory from `dqhw build` (default: the most recent under runs/ or builds/)")
    p.add_argument("--split", default="test", help="clean split to run (default: test, all of it)")
    p.add_argument("--limit", type=int, default=None,
                   help="a seeded, class-stratified sample of N frames of each set (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seeds the --limit samples (default 0)")
    p.add_argument("--sets", nargs="*", default=None, help="adversarial set files (default: RUN/adv/*.npz)")
    p.add_argument("--frames", default=None, metavar="FRAMES.npz",
                   help="run only this frame file (`images` uint8 NHWC, `labels` optional); default: the test "
                        "split and adversarial sets of the run, or the frames a model-file build was verified on")
    p.add_argument("--shard", default=os.environ.get("SHARD") or None,
                   help="i/n: run the i-th of n slices of every set (default: $SHARD or all)")
    p.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS") or 0) or os.cpu_count() or 1,
                   help="run this many shards side by side and merge them into one report (default: $JOBS or "
                        "the number of CPUs; sets under 100 frames per job use fewer)")
    p.add_argument("--merge", nargs="*", default=None, metavar="DIR",
                   help="only merge shard reports (report-shard<i>of<n>.json) found in BUILD/sim and DIRs into "
                        "BUILD/sim/report.json/.md, e.g. after a SLURM job array")
    p.add_argument("--waves", action="store_true", default=os.environ.get("WAVES") == "1",
                   help="dump FST waveforms (also WAVES=1)")
    p.add_argument("--backend", choices=("verilator", "hls"), default="verilator",
                   help="verilator (default): the RTL; hls: the build's HLS C++ (BUILD/hls) C-simulated with g++, "
                        "report in BUILD/sim/report-hls.md")
    p.add_argument("--engine", choices=("auto", "cocotb", "cpp"), default=os.environ.get("SIM_ENGINE") or "auto",
                   help="what clocks the Verilated bulk testbench: cocotb, a bare C++ main (cpp: same model, same "
                        "flags, same output files, ~1.2x faster), or auto (default, also $SIM_ENGINE): cpp when a "
                        "shard runs >= 100 M cycles (a whole CIFAR-10 evaluation), else cocotb; the protocol run is "
                        "cocotb's either way")
    p.add_argument("--quiet", action="store_true")
    from dqhw.distributed.cluster import add_arguments as add_executor

    add_executor(p, "")  # --jobs above: with --executor ray, the number of shards (Ray tasks)


def run(args: argparse.Namespace) -> int:
    from dqhw.simsession.session import latest_build, run_sim

    build = args.build or str(latest_build())
    if args.merge is not None and args.backend != "verilator":
        from dqhw.errors import DqhwError

        raise DqhwError("--merge combines Verilator shard reports; the hls backend writes one report")
    if args.executor == "ray":
        return _run_ray(args, build)
    if args.address:
        from dqhw.errors import DqhwError

        raise DqhwError("--address is for --executor ray")
    if args.merge is not None:
        from pathlib import Path

        from dqhw.simsession.shards import merge_dirs

        report = merge_dirs(Path(build), [Path(d) for d in args.merge])
        print(f"sim {build}: merged {report['shards']} shards, {report['total_frames']} frames, "
              f"{report['total_mismatches']} mismatches, report in {build}/sim/report.md")
        return 0
    report = run_sim(build, split=args.split, limit=args.limit, shard=args.shard, waves=args.waves,
                     set_paths=args.sets, progress=not args.quiet, frames=args.frames, seed=args.seed,
                     jobs=args.jobs, backend=args.backend, engine=args.engine)
    name = "report.md" if not args.shard else f"report-shard{args.shard.replace('/', 'of')}.md"
    if args.backend == "hls":
        name = "report-hls.md"
    backend = " (backend=hls)" if args.backend == "hls" else ""
    print(f"sim {build}{f' shard {args.shard}' if args.shard else ''}{backend}: "
          f"{report['total_frames']} frames, {report['total_mismatches']} mismatches, report in {build}/sim/{name}")
    return 0


def _run_ray(args: argparse.Namespace, build: str) -> int:
    from dqhw.distributed.sim import run_sim_ray
    from dqhw.errors import DqhwError

    if args.shard or args.merge is not None or args.waves or args.backend != "verilator":
        raise DqhwError("--executor ray shards the Verilator simulation itself: not with --shard, --merge, --waves "
                        "or --backend hls")
    report = run_sim_ray(build, args.jobs, args.address, progress=not args.quiet, split=args.split, limit=args.limit,
                         set_paths=args.sets, frames=args.frames, seed=args.seed, engine=args.engine)
    print(f"sim {build} (Ray, {report['shards']} shards): {report['total_frames']} frames, "
          f"{report['total_mismatches']} mismatches, report in {build}/sim/report.md")
    return 0
