"""`wrn`: Wide ResNet (depth-k, e.g. 28-10 or 16-4) with Parseval's convex-combination aggregation.

Each residual block returns lam * shortcut + (1 - lam) * F(x) with a learnable lam kept in [0, 1]
(`project_()` after every optimizer step), so the sum of two 1-Lipschitz paths stays 1-Lipschitz.
Residual adds are software-only for now: `dqhw build` rejects this model with a clear message.
"""

import torch
import torch.nn as nn

from dqhw import quant
from dqhw.models import pixel_input, register, scaled


class ConvexAdd(nn.Module):
    def __init__(self, init: float = 0.5):
        super().__init__()
        self.lam = nn.Parameter(torch.tensor(float(init)))

    def forward(self, shortcut: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.lam * shortcut + (1.0 - self.lam) * residual

    @torch.no_grad()
    def project_(self) -> None:
        self.lam.clamp_(0.0, 1.0)


class WideBlock(nn.Module):
    def __init__(self, spec, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1, self.act1 = nn.BatchNorm2d(c_in), quant.act(spec)
        self.conv1 = quant.conv(spec.layer(), c_in, c_out, 3, stride=stride, padding=1)
        self.bn2, self.act2 = nn.BatchNorm2d(c_out), quant.act(spec)
        self.conv2 = quant.conv(spec.layer(), c_out, c_out, 3, padding=1)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = quant.conv(spec.layer(), c_in, c_out, 1, stride=stride)
        self.add = ConvexAdd()

    def forward(self, x):
        o = self.act1(self.bn1(x))
        sc = x if self.shortcut is None else self.shortcut(o)
        out = self.conv2(self.act2(self.bn2(self.conv1(o))))
        return self.add(sc, out)


class WideResNet(nn.Module):
    def __init__(self, spec, in_ch: int, num_classes: int, depth: int, k: float):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError("WRN depth must be 6n + 4 (e.g. 16, 28)")
        n = (depth - 4) // 6
        widths = [scaled(16, 1.0), scaled(16 * k, 1.0), scaled(32 * k, 1.0), scaled(64 * k, 1.0)]
        self.scale = pixel_input(spec)
        self.stem = quant.conv(spec.layer("first"), in_ch, widths[0], 3, padding=1)
        blocks, c = [], widths[0]
        for stage, w in enumerate(widths[1:]):
            for i in range(n):
                blocks.append(WideBlock(spec, c, w, 2 if (stage > 0 and i == 0) else 1))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.bn, self.act = nn.BatchNorm2d(c), quant.act(spec)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = quant.linear(spec.layer("last"), c, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(self.scale(x)))
        return self.fc(torch.flatten(self.pool(self.act(self.bn(x))), 1))


@register("wrn")
def wrn(spec: quant.QuantSpec, in_shape, num_classes: int, width: float = 1.0, depth: int = 16,
        widen: int = 4) -> nn.Module:
    """WRN-depth-widen; `width` scales the widen factor (wrn --width 0.25 with widen 4 -> k = 1)."""
    return WideResNet(spec, in_shape[2], num_classes, depth, widen * width)


def project_parseval(model: nn.Module) -> None:
    """Keep every convex-combination weight in [0, 1] (call after each optimizer step)."""
    for m in model.modules():
        if isinstance(m, ConvexAdd):
            m.project_()
