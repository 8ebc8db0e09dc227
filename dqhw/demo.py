"""`make demo`: the whole product on the embedded default (sklearn digits), end to end.

train (2-bit DQ) -> adversarial sets (FGSM, PGD) -> robustness report -> dqhw build (pynq-z2)
-> RTL simulation of the clean test split and the adversarial sets, bit-exact against the golden model.
Each stage is the same `dqhw` command a user would type; the demo stops at the first failure.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from dqhw.cli import main as dqhw

# digits have 17 grey levels (steps of ~16/255): the paper's eps 2-16 stay inside one step, so
# the demo attacks at 32 (see docs/attacks.md)
DEMO_EPS = "32"


def stages(out: Path) -> list[tuple[str, list[str]]]:
    run, build = out / "run", out / "build"
    return [
        ("train", ["train", "--bits", "2", "--out", str(run), "--quiet"]),
        ("attack fgsm", ["attack", str(run), "--attack", "fgsm", "--eps", DEMO_EPS]),
        ("attack pgd", ["attack", str(run), "--attack", "pgd", "--eps", DEMO_EPS]),
        ("eval", ["eval", str(run), "--out", str(out / "report")]),
        ("build", ["build", str(run), "--board", "pynq-z2", "--out", str(build)]),
        ("sim", ["sim", str(build)]),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dqhw.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/demo")
    ap.add_argument("--until", default=None, help="stop after this stage")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if out.exists():  # the demo is idempotent: it starts from scratch each time
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, cmd in stages(out):
        t = time.time()
        print(f"\n== dqhw {' '.join(cmd)}", flush=True)
        code = dqhw(cmd)
        if code != 0:
            print(f"demo: stage '{name}' failed (exit {code})", file=sys.stderr)
            return code
        print(f"== {name}: done in {time.time() - t:.1f} s", flush=True)
        if args.until == name:
            break
    print(f"\ndemo finished: everything is under {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
