import pytest
import torch

from dqhw.errors import DqhwError
from dqhw.quant import QuantSpec, act, parse_bits


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("kind,top", [("relu6", 6.0), ("relu1", 1.0)])
def test_activation_has_exactly_2_pow_b_levels_on_fixed_range(bits, kind, top):
    q = act(QuantSpec(act_bits=bits, act=kind))
    x = torch.linspace(-2 * top, 3 * top, 200001)
    levels = torch.unique(q(x))
    assert levels.numel() == 2**bits
    assert float(levels.min()) == 0.0
    assert float(levels.max()) == pytest.approx(top)
    step = top / (2**bits - 1)
    assert torch.allclose(levels, torch.arange(2**bits, dtype=torch.float32) * step, atol=1e-5)


@pytest.mark.parametrize("bits", [1, 2, 5])
def test_activation_gradient_is_straight_through_inside_the_range(bits):
    q = act(QuantSpec(act_bits=bits))
    x = torch.linspace(0.05, 5.95, 1000, requires_grad=True)
    q(x).sum().backward()
    assert torch.all(x.grad == 1.0)
    x2 = torch.linspace(-3.0, -0.05, 100, requires_grad=True)
    q(x2).sum().backward()
    assert torch.all(x2.grad == 0.0)  # below the ReLU: no gradient


def test_full_precision_activation_is_clipped_relu():
    q = act(QuantSpec(act_bits=None))
    x = torch.tensor([-1.0, 0.5, 3.3, 7.0])
    assert torch.equal(q(x), torch.tensor([0.0, 0.5, 3.3, 6.0]))


@pytest.mark.parametrize("value", ["0", "9", "-1", "x", "2.5"])
def test_bad_bits_raise(value):
    with pytest.raises(DqhwError, match="--bits"):
        parse_bits(value, "--bits", 1, 8)


def test_fp_bits():
    assert parse_bits("fp") is None and parse_bits("3") == 3
