"""`dqhw train --bits 2`: every option maps 1:1 to dqhw.config.TrainConfig."""

from __future__ import annotations

import argparse
import json
import os
import sys

from dqhw.config import ADV_MODES, DEFAULT_BETA, DISTILL_ALPHA, DQ_TARGETS, SCHEDULES, TrainConfig
from dqhw.quant import ACT_RANGE_KINDS, WEIGHT_SCALINGS


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--model", default=d.model,
                   help="tiny | cnv | vgg16 | wrn | wrn10 | wrn28 (default: tiny; wrn: WRN-16, wrn10: WRN-10, the "
                        "residual nets dqhw build takes; wrn28: the paper's WRN-28-10)")
    p.add_argument("--dataset", default=d.dataset, help="digits | cifar10 | svhn (default: digits)")
    p.add_argument("--data-dir", default=None, help="folder or .npz with the data set (cifar10, svhn)")
    p.add_argument("--bits", default=d.bits, help="activation bits 1..5 (up to 8) or 'fp' (default 2)")
    p.add_argument("--wbits", default=d.wbits, help="weight bits 1..8 (1 = bipolar) or 'fp' (default 2)")
    p.add_argument("--act", default=d.act, help="relu6 (range [0, 6]) or relu1 ([0, 1])")
    p.add_argument("--input-bits", default=None,
                   help="quantize the input pixels to 1..8 bits inside the network (bit-depth reduction; "
                        "a thresholding layer in hardware). Default: off")
    p.add_argument("--width", type=float, default=d.width, help="channel width multiplier (cnv, vgg16, wrn)")
    p.add_argument("--beta", type=float, default=None,
                   help=f"DQ regularizer strength, 0 = vanilla. Default: {DEFAULT_BETA:g} for quantized models; "
                        "0 for full precision (--bits fp --wbits fp: the plain 'fp' baseline; "
                        "give --beta for 'fp+dq')")
    p.add_argument("--reg-every", type=int, default=d.reg_every,
                   help="apply the regularizer every k steps with k x its gradient (lazy; default 1)")
    p.add_argument("--dq-target", default=d.dq_target, choices=DQ_TARGETS,
                   help="what the regularizer orthogonalizes: weight (the latent conv/linear weight, the paper) "
                        "or bn-folded (gamma/sigma * W, what conv + BatchNorm applies; beyond the paper)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: 30 digits/svhn, 60 cifar10)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--clip-grad", type=float, default=d.clip_grad, help="max gradient norm, 0 = off (5)")
    p.add_argument("--schedule", default=d.schedule, choices=SCHEDULES,
                   help="step (x0.1 at 50%% and 75%%: the paper's SVHN schedule), cifar-step (x0.2 at 30%%, 60%% "
                        "and 80%%: the paper's CIFAR-10 schedule) or cosine")
    p.add_argument("--warmup-epochs", type=int, default=d.warmup_epochs,
                   help="linear learning-rate warm-up over the first N epochs, then the schedule (default 0)")
    p.add_argument("--weight-scaling", default=d.weight_scaling, choices=WEIGHT_SCALINGS,
                   help="per-tensor (default) or per-channel weight scales (the classifier stays per-tensor)")
    p.add_argument("--first-last-bits", default=None,
                   help="weight bits 2..8 of the first conv and the classifier (default: --wbits)")
    p.add_argument("--act-range", default=d.act_range, choices=ACT_RANGE_KINDS,
                   help="fixed (the paper's [0, 6] / [0, 1], default) or learned (a trained clipping range)")
    p.add_argument("--init", default=None, metavar="RUN",
                   help="start from this run's weights (same model and width; e.g. a full-precision run); "
                        "with --act-range learned, ranges RUN lacks start calibrated to its activations")
    p.add_argument("--distill", type=float, default=None, metavar="T",
                   help=f"distil the --init run's logits at temperature T: loss = {1 - DISTILL_ALPHA:g}*CE + "
                        f"{DISTILL_ALPHA:g}*T^2*KL (default: off)")
    p.add_argument("--adv", default=d.adv, choices=ADV_MODES,
                   help="adversarial training: rfgsm or pgd, eps ~ clip(|N(0,8)|, 0, 16)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="cpu, cuda[:N] or auto (torchrun for several GPUs)")
    p.add_argument("--out", default=None, help="run directory (default: runs/<model>-<dataset>-...)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from dqhw.device import resolve_device
    from dqhw.train import train

    cfg = TrainConfig(
        model=args.model, dataset=args.dataset, data_dir=args.data_dir, bits=args.bits, wbits=args.wbits,
        act=args.act, input_bits=args.input_bits, width=args.width, beta=args.beta, reg_every=args.reg_every,
        dq_target=args.dq_target,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay, clip_grad=args.clip_grad,
        schedule=args.schedule, warmup_epochs=args.warmup_epochs, weight_scaling=args.weight_scaling,
        first_last_bits=args.first_last_bits, act_range=args.act_range, init=args.init, distill=args.distill,
        adv=args.adv, seed=args.seed, device=resolve_device(args.device), out=args.out,
    ).validate()
    if args.resume and not args.out:
        from dqhw.errors import DqhwError

        raise DqhwError("--resume needs --out pointing at the run to continue")
    out = train(cfg, resume=args.resume, progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 reports the run
        return 0
    metrics = json.loads((out / "metrics.json").read_text())
    last = metrics["epochs"][-1]
    total_s = last.get("elapsed", last["seconds"])
    print(f"run {out} ({metrics.get('label', '')}): test accuracy {metrics['test_acc']:.4f} "
          f"(regularizer {metrics['regularizer']:.4g}, {total_s:.0f} s)", file=sys.stdout)
    return 0
