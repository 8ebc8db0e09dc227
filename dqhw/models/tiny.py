"""`tiny`: a small conv net for 8x8 digits, fast enough for CI, and FINN-friendly (1x1 before FC)."""

import torch.nn as nn

from dqhw import quant
from dqhw.models import pixel_input, register, scaled


@register("tiny")
def tiny(spec: quant.QuantSpec, in_shape, num_classes: int, width: float = 1.0) -> nn.Module:
    h, w, c = in_shape
    c1, c2, c3 = scaled(16, width), scaled(32, width), scaled(64, width)
    layers = [
        pixel_input(spec),
        quant.conv(spec.layer("first"), c, c1, 3, padding=1), nn.BatchNorm2d(c1), quant.act(spec),
        quant.conv(spec.layer(), c1, c2, 3, padding=1), nn.BatchNorm2d(c2), quant.act(spec),
        nn.MaxPool2d(2),
        quant.conv(spec.layer(), c2, c3, 3, padding=0), nn.BatchNorm2d(c3), quant.act(spec),
    ]
    # spatial size after the blocks: h -> h/2 -> h/2 - 2; pool the rest down to 1x1
    rest = (h // 2) - 2
    if rest > 1:
        layers.append(nn.MaxPool2d(rest))
    layers += [nn.Flatten(), quant.linear(spec.layer("last"), c3, num_classes)]
    return nn.Sequential(*layers)
