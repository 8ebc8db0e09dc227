"""`cnv`: FINN's CNV topology (3x3 valid convs 64,64,pool,128,128,pool,256,256; FC 512,512,10)."""

import torch.nn as nn

from dqhw import quant
from dqhw.models import pixel_input, register, scaled


@register("cnv")
def cnv(spec: quant.QuantSpec, in_shape, num_classes: int, width: float = 1.0) -> nn.Module:
    h, w, c = in_shape
    chans = [scaled(x, width) for x in (64, 64, 128, 128, 256, 256)]
    layers: list[nn.Module] = [pixel_input(spec)]
    size = h
    for i, out in enumerate(chans):
        layers += [quant.conv(spec.layer("first" if i == 0 else "hidden"), c, out, 3), nn.BatchNorm2d(out),
                   quant.act(spec)]
        size -= 2
        c = out
        if i in (1, 3):
            layers.append(nn.MaxPool2d(2))
            size //= 2
    if size < 1:
        raise ValueError(f"cnv needs inputs of at least 32x32, got {h}x{w}")
    layers.append(nn.Flatten())
    n = c * size * size
    for hidden in (scaled(512, width), scaled(512, width)):
        layers += [quant.linear(spec.layer(), n, hidden), nn.BatchNorm1d(hidden), quant.act(spec)]
        n = hidden
    layers.append(quant.linear(spec.layer("last"), n, num_classes))
    return nn.Sequential(*layers)
