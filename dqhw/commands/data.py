"""`dqhw data cifar10|svhn [--out DIR]`: download a data set (MD5-checked) into the layout
`--data-dir` reads; see dqhw.datasets_fetch."""

from __future__ import annotations

import argparse
import sys

from dqhw.datasets_fetch import MIRROR_ENV, SOURCES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", choices=tuple(SOURCES), help="cifar10 -> OUT/cifar-10-batches-py, svhn -> OUT/svhn")
    p.add_argument("--out", default="data", metavar="DIR", help="where the data set's folder goes (default: data)")
    p.add_argument("--mirror", default=None, metavar="URL",
                   help=f"folder URL (http, https, file) or local folder holding the official files, "
                        f"instead of the official site (default: ${MIRROR_ENV}, else the official site)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from dqhw.datasets_fetch import base_url, fetch, present

    src = SOURCES[args.dataset]
    if not args.quiet and not present(args.dataset, args.out):
        files = ", ".join(r.filename for r in src.remotes)
        print(f"{src.title}: {files} from {base_url(args.dataset, args.mirror)}", flush=True)
    res = fetch(args.dataset, out=args.out, mirror=args.mirror, progress=not args.quiet)
    if res.downloaded:
        print(f"{src.title} is in {res.path} (MD5 checked)", file=sys.stdout)
    else:
        print(f"{src.title} is already in {res.path}: nothing downloaded", file=sys.stdout)
    print(f"use: dqhw train --dataset {args.dataset} --data-dir {res.path}", file=sys.stdout)
    return 0
