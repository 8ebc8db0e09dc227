"""Overhead of the DQ regularizer on a CNV W2A2 training step (CPU, batch 64, 32x32x3).

Measures, interleaved in one run so machine load hits every variant alike:
  base      - forward + backward + SGD step, no regularizer
  fast      - + DQRegularizer.add_grad_ (closed-form gradient on the small Gram; what dqhw trains with)
  lazy4     - the same applied every 4th step with 4x the gradient (--reg-every 4)
  autograd  - + dq_loss (small Gram, through autograd)
  naive     - + the paper's formula on the large Gram W^T W (n x n), through autograd
and prints median step times and the ratios to base. Goal: fast/base <= 1.05.

usage: python bench/bench_regularizer.py [--width 1.0] [--steps 12] [--batch 64]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from dqhw.models import build_model
from dqhw.quant import QuantSpec, weight_layers
from dqhw.regularizer import DQRegularizer, dq_loss


def naive_loss(model, beta):
    total = 0.0
    for _, m in weight_layers(model):
        w = m.weight.reshape(m.weight.shape[0], -1)
        total = total + (w.T @ w - torch.eye(w.shape[1])).pow(2).sum()
    return 0.5 * beta * total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = build_model("cnv", QuantSpec(2, 2), (32, 32, 3), 10, width=args.width)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    reg = DQRegularizer(model, 2e-3)
    lazy = DQRegularizer(model, 2e-3, every=4)
    x = torch.rand(args.batch, 3, 32, 32) * 255
    y = torch.randint(0, 10, (args.batch,))

    def step(kind: str) -> float:
        t = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        if kind == "autograd":
            loss = loss + dq_loss(model, 2e-3)
        elif kind == "naive":
            loss = loss + naive_loss(model, 2e-3)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if kind == "fast":
            reg.add_grad_()
        elif kind == "lazy4":
            lazy.add_grad_()
        opt.step()
        return time.perf_counter() - t

    kinds = ["base", "fast", "lazy4", "autograd", "naive"]
    for k in kinds:  # warm-up
        step(k)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(args.steps):
        for k in kinds:
            times[k].append(step(k))
    base = statistics.median(times["base"])
    print(f"CNV W2A2 width {args.width}, batch {args.batch}, {args.steps} interleaved steps, "
          f"{torch.get_num_threads()} threads")
    for k in kinds:
        med = statistics.median(times[k])
        print(f"  {k:9s} {med * 1000:8.1f} ms/step   ratio {med / base:5.3f}")
    ratio = statistics.median(times["fast"]) / base
    print(f"regularizer overhead (fast path): {100 * (ratio - 1):+.1f} %  (goal <= +5 %)")
    lazy_ratio = statistics.median(times["lazy4"]) / base
    print(f"regularizer overhead (--reg-every 4): {100 * (lazy_ratio - 1):+.1f} %")


if __name__ == "__main__":
    main()
