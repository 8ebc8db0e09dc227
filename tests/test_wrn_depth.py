"""WRN depth as a parameter of the model registry: `wrn28` is the paper's WRN-28-10 (Zagoruyko &
Komodakis 2016, Table 1: 36.5M parameters on CIFAR-10)."""

from __future__ import annotations

import pytest
import torch

from dqhw.models import build_model
from dqhw.models.wrn import WideResNet
from dqhw.quant import QuantSpec


def _conv_weights(depth: int, k: int, classes: int = 10, in_ch: int = 3) -> int:
    """Weights of a WRN-depth-k's convolutions and classifier, counted from the architecture's definition
    (3x3 stem to 16, three stages of (depth - 4) / 6 blocks of two 3x3 convs, a 1x1 projection where the
    width changes, a linear classifier), independently of dqhw.models.wrn."""
    n = (depth - 4) // 6
    total, c = in_ch * 16 * 9, 16
    for w in (16 * k, 32 * k, 64 * k):
        for _ in range(n):
            total += c * w * 9 + w * w * 9 + (c * w if c != w else 0)
            c = w
    return total + c * classes


def _count(model: torch.nn.Module, kinds=None) -> int:
    if kinds is None:
        return sum(p.numel() for p in model.parameters())
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, kinds))


def test_wrn28_is_the_papers_wrn_28_10():
    model = build_model("wrn28", QuantSpec(act_bits=2, weight_bits=None), (32, 32, 3), 10)
    assert len(model.blocks) == 12  # 4 blocks per stage
    assert _count(model, (torch.nn.Conv2d, torch.nn.Linear)) == _conv_weights(28, 10)
    # the rest is BatchNorm and one convex-combination weight per block: the published 36.5M
    assert abs(_count(model) - 36.5e6) / 36.5e6 < 0.002
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("depth, blocks", [(10, 3), (16, 6), (22, 9)])
def test_wrn_depth_is_a_parameter(depth, blocks):
    model = build_model("wrn", QuantSpec(act_bits=2, weight_bits=None), (8, 8, 1), 10, width=0.25, depth=depth)
    assert len(model.blocks) == blocks
    assert _count(model, (torch.nn.Conv2d, torch.nn.Linear)) == _conv_weights(depth, 1, in_ch=1)
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 8, 8)).shape == (1, 10)


def test_wrn_depth_must_be_6n_plus_4():
    with pytest.raises(ValueError, match="6n \\+ 4"):
        WideResNet(QuantSpec(act_bits=2, weight_bits=None), 3, 10, 20, 1)
