"""Start values for learned activation ranges when a quantized model starts from a trained run.

`--init RUN --act-range learned` copies RUN's weights, but RUN (e.g. full precision) has no ranges to
copy: without this, every range starts at the ReLU's maximum (6 for ReLU6), and a 1-bit activation
then fires only above 3.0. Measured on CIFAR-10 CNV 0.5, such a model starts at chance (10 %) even
from a 75 % FP run.

Here each learned range is set, layer after layer in forward order, to the value that makes the
quantized activation closest (mean squared error) to the float activation the source run was
trained with (clip(x, 0, max)), on a seeded sample of training images. Layer k is calibrated with
layers 0..k-1 already quantized with their calibrated ranges, so it sees the inputs it will see in
training. The result is only a starting point: the ranges are trained afterwards as usual.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from dqhw.models import to_input

CALIBRATION_IMAGES = 512
GRID = 64  # candidate ranges per layer: max * (1..GRID) / GRID
SAMPLE = 1 << 18  # pre-activation values per layer the search uses (a seeded random subset)
# Brevitas' parameter scaling of dqhw.quant.LearnedRangeUintAct, relative to the QuantReLU that owns it
RANGE_PARAM = "act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl.value"


def learned_range_acts(model: nn.Module) -> list[tuple[str, nn.Module, nn.Parameter]]:
    """(name, module, range parameter) of every activation with a learned range, in module order."""
    found = []
    for name, mod in model.named_modules():
        param = dict(mod.named_parameters()).get(RANGE_PARAM)
        if param is not None:
            found.append((name, mod, param))
    return found


def quantize_unsigned(x: torch.Tensor, r: torch.Tensor, levels: int) -> torch.Tensor:
    """r / levels * round(clip(x, 0, r) * levels / r) for every range in r (broadcast over a new first axis)."""
    r = r.reshape(-1, *([1] * x.dim()))
    return torch.round(torch.minimum(x.clamp(min=0), r) * levels / r) * r / levels


def best_range(x: torch.Tensor, act_max: float, bits: int, seed: int = 0) -> tuple[float, float, float]:
    """(range, its MSE, the MSE of the range act_max) for pre-activations x against clip(x, 0, act_max)."""
    levels = 2 ** bits - 1
    x = x.reshape(-1)
    if x.numel() > SAMPLE:
        x = x[torch.randperm(x.numel(), generator=torch.Generator().manual_seed(seed))[:SAMPLE]]
    target = x.clamp(0, act_max)
    grid = torch.arange(1, GRID + 1, dtype=x.dtype) * (act_max / GRID)
    mse = torch.stack([((quantize_unsigned(x, r, levels)[0] - target) ** 2).mean() for r in grid])
    i = int(torch.argmin(mse))
    return float(grid[i]), float(mse[i]), float(mse[-1])


@torch.no_grad()
def calibrate_learned_ranges(model: nn.Module, images: np.ndarray, act_max: float, seed: int = 0,
                             n: int = CALIBRATION_IMAGES, device: str = "cpu") -> list[dict]:
    """Set every learned activation range of `model` (see the module doc); returns one record per layer."""
    acts = learned_range_acts(model)
    if not acts:
        return []
    pick = np.random.default_rng(seed).permutation(len(images))[:n]
    x = to_input(images[np.sort(pick)]).to(device)
    was_training = model.training
    model.eval()  # BatchNorm with the source run's statistics, as the quantized model starts training
    records = []
    for name, mod, param in acts:
        seen: list[torch.Tensor] = []
        handle = mod.register_forward_pre_hook(lambda _m, inp, seen=seen: seen.append(inp[0].detach().float().cpu()))
        try:
            model(x)
        finally:
            handle.remove()
        bits = int(mod.act_quant.bit_width())
        r, mse, mse_max = best_range(seen[0], act_max, bits, seed)
        param.data.fill_(r)
        records.append({"layer": name, "bits": bits, "range": round(r, 4), "mse": mse, "mse_at_max": mse_max})
    model.train(was_training)
    return records
