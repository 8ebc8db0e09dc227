"""The GPU check behind bench/gpu_check.sh: is torch a CUDA build that sees a GPU, how many images/s does
a WRN-28-10 train at A2 with DQ (dqhw's own training step: crop+flip, Brevitas fake quantization, the DQ
regularizer's closed-form gradient, SGD, Parseval projection), and what wall time does that project for
configs/cifar10-paper.toml on 1 and N GPUs.

Projection (dqhw.reproduce.estimate.gpu_projection): every unit's time is the cost model of `--plan` with
its per-image cost c (ms of one forward+backward of one image) replaced by the measured one:
    c(model) = 1000 / images_per_s x MACs(model) / MACs(WRN-28-10)
a training unit costs epochs x (train images x c x DQ/adv factors + the per-epoch accuracy passes), an
evaluation unit its images x c x the attacks' step counts; the N-GPU time is greedy list scheduling of the
unit graph (dependencies respected, one unit per GPU at a time), which is how `--executor ray` runs it.

    python bench/gpu_check.py                 # on a GPU machine: 300 steps at batch 128, projection
    python bench/gpu_check.py --tiny          # anywhere (CI): WRN-28-1, 3 steps of 8; no projection without CUDA
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "configs" / "cifar10-paper.toml"


def say(msg: str) -> None:
    print(msg, flush=True)


def cuda_report() -> tuple[bool, str]:
    if torch.version.cuda is None:
        return False, f"torch {torch.__version__} is a CPU-only build (no CUDA)"
    if not torch.cuda.is_available():
        return False, f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU"
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return True, f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s): {names}"


def measure(device: str, width: float, batch: int, steps: int, warmup: int) -> float:
    """Images/s of dqhw's training step on WRN-28-(10 x width), 2-bit activations, float weights, DQ."""
    import torch.nn.functional as F

    from dqhw.config import TrainConfig
    from dqhw.models import build_model, to_input
    from dqhw.models.wrn import project_parseval
    from dqhw.regularizer import DQRegularizer
    from dqhw.train import _augment

    cfg = TrainConfig(model="wrn28", dataset="cifar10", bits="2", wbits="fp", width=width, beta=1e-3)
    model = build_model("wrn28", cfg.quant_spec(), (32, 32, 3), 10, width=width).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    reg = DQRegularizer(model, cfg.beta, cfg.reg_every)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch * 4, 32, 32, 3), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (batch * 4,), generator=gen)
    t0 = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        k = (step % 4) * batch
        x = _augment(to_input(images[k:k + batch]), "cifar10", gen).to(device)
        loss = F.cross_entropy(model(x), labels[k:k + batch].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        reg.add_grad_()
        opt.step()
        project_parseval(model)
        if step % 50 == 0:
            say(f"  step {step + 1}/{warmup + steps}: loss {float(loss.detach()):.3f}")
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


def project(images_per_s: float, gpus: int) -> dict:
    from dqhw.reproduce.config import load_config
    from dqhw.reproduce.estimate import gpu_projection, hms
    from dqhw.reproduce.plan import make_plan

    cfg = load_config(PAPER)
    units = make_plan(cfg, Path("/nonexistent"), hardware=False)
    p = gpu_projection(cfg, units, images_per_s, "wrn28", 1.0, gpus)
    kinds = ", ".join(f"{k} {hms(v)}" for k, v in sorted(p["seconds_by_kind"].items()))
    say(f"projection for {PAPER.name} ({p['units']} units: {kinds}):")
    say(f"  1 GPU:  {hms(p['one_gpu_seconds'])}")
    say(f"  {gpus} GPUs: {hms(p['n_gpu_seconds'])} (longest unit {hms(p['longest_unit_seconds'])})")
    return p


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="WRN-28-1, 3 steps of batch 8: runs anywhere (CI)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--gpus", type=int, default=8, help="N of the N-GPU projection (default 8)")
    ap.add_argument("--json", default=None, metavar="FILE", help="also write the numbers here")
    a = ap.parse_args()
    ok, text = cuda_report()
    say(f"gpu_check: {text}")
    if not ok and not a.tiny:
        print(f"gpu_check: error: no CUDA GPU ({text}); --tiny runs the CPU smoke mode", file=sys.stderr)
        return 2
    device = "cuda" if ok else "cpu"
    width, batch, steps, warmup = (0.1, 8, 3, 1) if a.tiny else (1.0, a.batch, a.steps, 20)
    k = round(10 * width)
    say(f"gpu_check: WRN-28-{k} A2 DQ (float weights), batch {batch}, {steps} timed steps after {warmup} "
        f"warm-up, on {device}")
    ips = measure(device, width, batch, steps, warmup)
    say(f"gpu_check: {ips:,.1f} images/s (WRN-28-{k}, A2, DQ, {device})")
    res = {"cuda": ok, "torch": text, "device": device, "model": f"WRN-28-{k}", "batch": batch, "steps": steps,
           "images_per_s": round(ips, 2), "mixed_precision": False, "projection": None}
    if not ok or a.tiny:
        why = "measured on the CPU, not a GPU" if not ok else "--tiny measures WRN-28-1, not the paper's WRN-28-10"
        say(f"gpu_check: projection of {PAPER.name} refused: {why}")
    else:
        res["projection"] = project(ips, a.gpus)
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
