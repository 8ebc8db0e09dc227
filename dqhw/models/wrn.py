"""`wrn`, `wrn10`, `wrn28`: Wide ResNet (depth-k, e.g. 16-4, 10-1, the paper's 28-10) with Parseval's convex-combination
aggregation, in a form whose residual add is exact in integers (so `dqhw build` turns it into RTL).

Each residual block returns Q(lam * shortcut + (1 - lam) * F(x)): a learnable lam kept in [0, 1]
(`project_()` after every optimizer step), so the sum of two 1-Lipschitz paths stays 1-Lipschitz.
For the hardware the block is written so that the add is an integer operation:

- both operands are quantized activations with the *same* scale s (the fixed-range ReLU quantizer of
  dqhw.quant has the constant scale act_max / (2^b - 1) everywhere): F(x) ends in BN + quantized
  ReLU, the shortcut is the block input (itself such an activation) or, where the width or the
  resolution changes, a 1x1 projection conv + BN + quantized ReLU;
- lam is quantized to m / D with D = LAMBDA_DENOMINATOR (odd) and 1 <= m <= D - 1 (straight-through
  gradient), so lam * s * a + (1 - lam) * s * c = (s / D) * (m * a + (D - m) * c): one integer
  z = m * a + (D - m) * c;
- the sum is requantized by the same quantizer (scale s): round(z / D). D odd means z / D is never
  exactly half-way between two integers, so no rounding tie can occur (Brevitas rounds half to even,
  thresholds count >=; with ties they could disagree).
Every BatchNorm follows a conv (so a negative slope is a negated weight row); global average pooling
takes the last block's quantized output. The integer contract of this add is in
docs/integer-contract.md ("Residual add").
"""

import torch
import torch.nn as nn

from dqhw import quant
from dqhw.models import pixel_input, register, scaled

LAMBDA_DENOMINATOR = 15  # lam in {1/15, ..., 14/15}


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


class ConvexAdd(nn.Module):
    """lam_q * shortcut + (1 - lam_q) * residual, lam_q = m / D (m integer in 1..D-1)."""

    def __init__(self, init: float = 0.5, denominator: int = LAMBDA_DENOMINATOR):
        super().__init__()
        self.lam = nn.Parameter(torch.tensor(float(init)))
        self.denominator = int(denominator)

    def quantized_lambda(self) -> torch.Tensor:
        d = self.denominator
        lam = torch.clamp(self.lam, 1.0 / d, 1.0 - 1.0 / d)
        return _RoundSTE.apply(lam * d) / d

    def forward(self, shortcut: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        lam = self.quantized_lambda()
        return lam * shortcut + (1.0 - lam) * residual

    @torch.no_grad()
    def project_(self) -> None:
        self.lam.clamp_(0.0, 1.0)


class WideBlock(nn.Module):
    def __init__(self, spec, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = quant.conv(spec.layer(), c_in, c_out, 3, stride=stride, padding=1)
        self.bn1, self.act1 = nn.BatchNorm2d(c_out), quant.act(spec)
        self.conv2 = quant.conv(spec.layer(), c_out, c_out, 3, padding=1)
        self.bn2, self.act2 = nn.BatchNorm2d(c_out), quant.act(spec)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(quant.conv(spec.layer(), c_in, c_out, 1, stride=stride),
                                          nn.BatchNorm2d(c_out), quant.act(spec))
        self.add = ConvexAdd()
        self.requant = quant.act(spec)  # the same fixed scale as both operands: round(z / D)

    def forward(self, x):
        sc = x if self.shortcut is None else self.shortcut(x)
        out = self.act2(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))))
        return self.requant(self.add(sc, out))


class WideResNet(nn.Module):
    def __init__(self, spec, in_ch: int, num_classes: int, depth: int, k: float):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError("WRN depth must be 6n + 4 (e.g. 10, 16, 28)")
        n = (depth - 4) // 6
        widths = [scaled(16, 1.0), scaled(16 * k, 1.0), scaled(32 * k, 1.0), scaled(64 * k, 1.0)]
        self.scale = pixel_input(spec)
        self.stem = quant.conv(spec.layer("first"), in_ch, widths[0], 3, padding=1)
        self.bn0, self.act0 = nn.BatchNorm2d(widths[0]), quant.act(spec)
        blocks, c = [], widths[0]
        for stage, w in enumerate(widths[1:]):
            for i in range(n):
                blocks.append(WideBlock(spec, c, w, 2 if (stage > 0 and i == 0) else 1))
                c = w
        self.blocks = nn.Sequential(*blocks)
        # every block ends in a quantized activation (the requantized sum), which the pooling takes
        # as it is: no BatchNorm without a conv in front (a negative slope there could not be moved
        # into a weight row; finn leaves it as a per-channel sign Mul no hardware layer takes)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = quant.linear(spec.layer("last"), c, num_classes)

    def forward(self, x):
        x = self.blocks(self.act0(self.bn0(self.stem(self.scale(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


@register("wrn")
def wrn(spec: quant.QuantSpec, in_shape, num_classes: int, width: float = 1.0, depth: int = 16,
        widen: int = 4) -> nn.Module:
    """WRN-depth-widen; `width` scales the widen factor (wrn --width 0.25 with widen 4 -> k = 1)."""
    return WideResNet(spec, in_shape[2], num_classes, depth, widen * width)


@register("wrn28")
def wrn28(spec: quant.QuantSpec, in_shape, num_classes: int, width: float = 1.0) -> nn.Module:
    """The paper's WRN-28-10 (four blocks per stage, widen 10; --width scales the widen factor)."""
    return wrn(spec, in_shape, num_classes, width, depth=28, widen=10)


@register("wrn10")
def wrn10(spec: quant.QuantSpec, in_shape, num_classes: int, width: float = 1.0) -> nn.Module:
    """The reduced WRN-10 (one block per stage; --width 0.25 -> WRN-10-1): small enough for a pynq-z2."""
    return WideResNet(spec, in_shape[2], num_classes, 10, 4 * width)


def project_parseval(model: nn.Module) -> None:
    """Keep every convex-combination weight in [0, 1] (call after each optimizer step)."""
    for m in model.modules():
        if isinstance(m, ConvexAdd):
            m.project_()
