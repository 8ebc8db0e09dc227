"""Model registry. Every model takes float NCHW pixels in 0..255 and scales them by 1/255 itself,
so what trains is exactly what the FPGA receives (uint8 pixels)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn

from dqhw.errors import DqhwError
from dqhw.quant import QuantSpec

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    def deco(fn):
        _REGISTRY[name] = fn
        return fn

    return deco


def model_names() -> list[str]:
    return sorted(_REGISTRY)


def build_model(name: str, spec: QuantSpec, in_shape: tuple[int, int, int], num_classes: int,
                width: float = 1.0, **kwargs) -> nn.Module:
    """Build a registered model for inputs of shape (H, W, C)."""
    if name not in _REGISTRY:
        raise DqhwError(f"unknown model {name!r}; choose one of {', '.join(model_names())}")
    if width <= 0:
        raise DqhwError(f"--width must be positive, got {width}")
    return _REGISTRY[name](spec=spec, in_shape=in_shape, num_classes=num_classes, width=width, **kwargs)


class PixelScale(nn.Module):
    """uint8 pixel values (as float) -> [0, 1]: the first op of every model (folded by FINN)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (1.0 / 255.0)


def pixel_input(spec: QuantSpec) -> nn.Module:
    """The models' first op: PixelScale, followed by the optional input quantizer (--input-bits)."""
    from dqhw.quant import input_quant

    q = input_quant(spec)
    return PixelScale() if q is None else nn.Sequential(PixelScale(), q)


def to_input(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 NHWC images -> float32 NCHW tensor holding 0..255 (the models' input)."""
    t = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    return t.permute(0, 3, 1, 2).float().contiguous()


def scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


from dqhw.models import cnv, tiny, vgg, wrn  # noqa: E402,F401  (register the models)
