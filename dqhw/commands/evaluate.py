"""`dqhw eval RUN [RUN ...]`: robustness report (report.md, report.json, PNGs) — see dqhw.evaluate."""

from __future__ import annotations

import argparse
import sys

from dqhw.attacks import ATTACKS, AUTOATTACK_QUERIES, DEFAULT_QUERIES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (dqhw train --out)")
    p.add_argument("--eps", nargs="+", type=int, default=None,
                   help="L-inf budgets in pixels (default: 2 8 16 for cifar10/svhn, 16 32 64 for digits)")
    p.add_argument("--attacks", nargs="+", default=None, metavar="NAME",
                   help=f"white-box / score-based attacks to craft on the fly, of {', '.join(ATTACKS)} "
                   "(default: random fgsm rfgsm pgd pgd-strong square, plus autoattack for cifar10/svhn; "
                   "none when --sets is given)")
    p.add_argument("--source", default=None, metavar="RUN",
                   help="substitute run for the black-box transfer columns FGSM(B) and PGD(B)")
    p.add_argument("--sets", nargs="+", default=None, metavar="NPZ", help="score saved sets (RUN/adv/*.npz)")
    p.add_argument("--split", default="test", choices=("test", "val", "train"))
    p.add_argument("--limit", type=int, default=None,
                   help="a seeded, class-stratified sample of N images of the split (default: all; "
                        "with --sets, of the images they share)")
    p.add_argument("--seed", type=int, default=0, help="seeds the attacks and the --limit sample (default 0)")
    p.add_argument("--queries", type=int, default=None,
                   help=f"Square queries per image (default {DEFAULT_QUERIES}; AutoAttack's own Square "
                        f"{AUTOATTACK_QUERIES}); given, it sets both")
    p.add_argument("--autoattack-images", type=int, default=500, metavar="N",
                   help="AutoAttack runs on a seeded class-stratified sub-sample of N of the evaluated images "
                        "(default 500; 0 = all of them); the report says on how many images each column ran")
    p.add_argument("--squeeze", action="store_true",
                   help="also evaluate each run behind feature squeezing (attacked end to end, BPDA)")
    p.add_argument("--large-eps", type=int, default=128,
                   help="ε of the 'accuracy near 0' sanity check, PGD-strong and Square (0 = skip; default 128)")
    p.add_argument("--no-amplification", action="store_true", help="skip the error-amplification (Fig. 3) analysis")
    p.add_argument("--save-sets", action="store_true", help="also write every crafted set to RUN/adv/")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    from dqhw.device import DEVICE_HELP

    p.add_argument("--device", default="cpu", help=f"where the attacks craft their images: {DEVICE_HELP}; default cpu")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="report folder (default RUN/eval for one run, else eval/ next to the first run)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from dqhw.device import resolve_device
    from dqhw.errors import DqhwError
    from dqhw.evaluate import evaluate

    device = resolve_device(args.device)
    if args.threads is not None:
        if args.threads < 1:
            raise DqhwError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    rep = evaluate(args.runs, eps=args.eps, attacks=args.attacks, source=args.source, sets=args.sets,
                   limit=args.limit, split=args.split, seed=args.seed, queries=args.queries, squeeze=args.squeeze,
                   out=args.out, large_eps=args.large_eps, amplification=not args.no_amplification,
                   batch_size=args.batch_size, progress=not args.quiet, save_sets=args.save_sets,
                   autoattack_images=args.autoattack_images, device=device)
    flags = sum(c["status"] == "flag" for r in rep["runs"] for c in r["checks"])
    print(f"wrote {rep['out']}/report.md (+ report.json, {', '.join(rep['plots'])}): {len(rep['runs'])} run(s), "
          f"{rep['num_images']} images, {flags} sanity check(s) flagged", file=sys.stdout)
    return 0
