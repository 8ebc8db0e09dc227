"""`vgg16`: CIFAR-style VGG-16 (the paper's black-box substitute), with padded 3x3 convs."""

import torch.nn as nn

from dqhw import quant
from dqhw.models import pixel_input, register, scaled

_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


@register("vgg16")
def vgg16(spec: quant.QuantSpec, in_shape, num_classes: int, width: float = 1.0) -> nn.Module:
    h, w, c = in_shape
    layers: list[nn.Module] = [pixel_input(spec)]
    size = h
    first = True
    for v in _CFG:
        if v == "M":
            if size >= 2:  # small inputs (digits) skip the pools they cannot afford
                layers.append(nn.MaxPool2d(2))
                size //= 2
            continue
        out = scaled(v, width)
        layers += [quant.conv(spec.layer("first" if first else "hidden"), c, out, 3, padding=1), nn.BatchNorm2d(out),
                   quant.act(spec)]
        first = False
        c = out
    layers += [nn.Flatten(), quant.linear(spec.layer("last"), c * size * size, num_classes)]
    return nn.Sequential(*layers)
