"""Feature squeezing (Xu et al. 2018) as an input stage, the paper's baseline defense: 5-bit colour depth
reduction followed by a 2×2 median filter.

Both steps map uint8 pixels to uint8 pixels, so the squeezed image is itself an image the FPGA could take:
- depth: q = round(x · 31 / 255), x' = round(q · 255 / 31) (no ties can occur: 255 and 31 are odd);
- median: the 2×2 window covering rows i−1..i and columns j−1..j of each channel, edges repeated
  (scipy.ndimage.median_filter(size=2, mode="reflect"), which Xu et al.'s code uses), taking the upper
  median (the 3rd of the 4 sorted values, scipy's rank size // 2) — always one of the input pixels.

`Squeezed(model)` applies the squeezer and then the model; its backward is the identity through the
squeezer (BPDA, Athalye et al. 2018), so every white-box attack in dqhw.attacks attacks the squeezed
pipeline end to end.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEPTH_BITS = 5
MEDIAN_SIZE = 2


def reduce_depth(x: torch.Tensor, bits: int = DEPTH_BITS) -> torch.Tensor:
    """Float pixels 0..255 -> the nearest of 2^bits levels, expressed back as integer pixels 0..255."""
    levels = float(2 ** bits - 1)
    return torch.round(torch.round(x * (levels / 255.0)) * (255.0 / levels))


def median2x2(x: torch.Tensor) -> torch.Tensor:
    """2×2 median (upper of the two middle values) over rows i−1..i, cols j−1..j, edges repeated; NCHW."""
    n, c, h, w = x.shape
    padded = F.pad(x, (1, 0, 1, 0), mode="replicate")
    windows = torch.stack([padded[:, :, 0:h, 0:w], padded[:, :, 0:h, 1:w + 1],
                           padded[:, :, 1:h + 1, 0:w], padded[:, :, 1:h + 1, 1:w + 1]], dim=0)
    return windows.sort(dim=0).values[2]


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """The forward squeezer on float NCHW pixels 0..255 (no gradient)."""
    return median2x2(reduce_depth(x))


def squeeze_images(images: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> squeezed uint8 NHWC."""
    from dqhw.models import to_input

    y = squeeze(to_input(images)).permute(0, 2, 3, 1)
    return y.round().clamp(0, 255).to(torch.uint8).numpy()


class Squeezed(nn.Module):
    """squeeze -> model, with an identity backward through the squeezer (BPDA)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            s = squeeze(x)
        return self.model(x + (s - x).detach())
