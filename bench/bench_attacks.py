"""Accuracy and seconds per attack on one run: PGD (paper) vs PGD-strong vs AutoAttack vs Square.

Every attack runs on the same seeded class-stratified sample of the split (dqhw.sampling), on the integer grid
(dqhw.attacks.attack_images: uint8 within ε, checked), and is scored like `dqhw eval` scores it (an image counts
only if classified correctly clean and under the attack). Prints, per ε, that accuracy over the sample, the
accuracy on the correctly classified images, wall seconds and milliseconds per image;
then the per-image worst case over what was run. No timing is asserted anywhere: CPU load on a shared machine
moves the seconds, not the accuracies (those are deterministic for a given seed and batch size).

usage: OMP_NUM_THREADS=1 python bench/bench_attacks.py RUN [--eps 2 8 16] [--limit 200]
           [--attacks pgd pgd-strong autoattack square] [--queries Q] [--split test] [--seed 0] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from dqhw.attacks import ATTACKS, attack_images, attack_params, check_attack
from dqhw.data import load_dataset
from dqhw.evaluate import DEFAULT_EPS, column_label
from dqhw.infer import predict_logits
from dqhw.runs import load_run
from dqhw.sampling import sample_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", metavar="RUN")
    ap.add_argument("--eps", nargs="+", type=int, default=None, help="default: the data set's report ε")
    ap.add_argument("--attacks", nargs="+", default=["pgd", "pgd-strong", "autoattack", "square"],
                    help=f"of {', '.join(ATTACKS)}")
    ap.add_argument("--limit", type=int, default=200, help="stratified sample size (default 200; 0 = the split)")
    ap.add_argument("--split", default="test", choices=("test", "val", "train"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--queries", type=int, default=None, help="Square 1000 / AutoAttack's Square 5000 by default")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, metavar="FILE", help="also write the numbers as JSON")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    attacks = [check_attack(a) for a in args.attacks]
    run = load_run(args.run)
    data = load_dataset(run.config.dataset, run.config.data_dir)
    x_all, y_all = data.split(args.split)
    sample = sample_split(y_all, args.split, args.limit or None, args.seed)
    x, y = x_all[sample.indices], y_all[sample.indices]
    eps_list = args.eps or list(DEFAULT_EPS.get(run.config.dataset, (2, 8, 16)))
    model = run.model.eval()

    def correct(images):
        return predict_logits(model, images, args.batch_size).argmax(1) == y

    clean = correct(x)
    print(f"{run.path} ({run.config.model}, A{run.config.bits}W{run.config.wbits}, β={run.config.beta}): "
          f"{sample.describe()}; clean {100 * clean.mean():.1f} %, {torch.get_num_threads()} thread(s)")
    print(f"{'ε':>4} {'attack':<22} {'acc %':>7} {'on clean-correct %':>19} {'seconds':>9} {'ms/image':>9}  settings")
    rows = []
    for e in eps_list:
        worst = clean.copy()
        for a in attacks:
            p = attack_params(a, e, args.queries)
            t = time.perf_counter()
            adv = attack_images(model, x, y, p, seed=args.seed, batch_size=args.batch_size)
            sec = time.perf_counter() - t
            ok = correct(adv) & clean  # robust: right clean and under the attack (as `dqhw eval` counts)
            worst &= ok
            on_clean = float(ok[clean].mean()) if clean.any() else float("nan")
            settings = {k: v for k, v in p.to_dict().items() if k not in ("attack", "eps") and v is not None}
            print(f"{e:>4} {column_label(a):<22} {100 * ok.mean():>7.1f} {100 * on_clean:>19.1f} {sec:>9.1f} "
                  f"{1000 * sec / len(x):>9.1f}  {settings}", flush=True)
            rows.append({"eps": e, "attack": a, "acc": float(ok.mean()), "acc_on_correct": on_clean,
                         "seconds": sec, "settings": settings})
        print(f"{e:>4} {'worst case':<22} {100 * worst.mean():>7.1f}")
        rows.append({"eps": e, "attack": "worst", "acc": float(worst.mean())})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"run": str(run.path), "sample": sample.to_dict(), "clean": float(np.mean(clean)),
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
