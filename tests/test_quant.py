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


# ---------------------------------------------------------------- opt-in levers (defaults unchanged)

def _layers(spec, model="cnv", in_shape=(32, 32, 3), width=0.25):
    from dqhw.models import build_model
    from dqhw.quant import weight_layers

    return [m for _, m in weight_layers(build_model(model, spec, in_shape, 10, width=width))]


@pytest.mark.parametrize("wbits", [2, 1])
def test_per_channel_weight_scales_have_one_scale_per_output_channel(wbits):
    layers = _layers(QuantSpec(act_bits=2, weight_bits=wbits, weight_scaling="per-channel"))
    for m in layers[:-1]:  # every layer followed by BatchNorm
        scale = m.quant_weight().scale
        assert tuple(scale.shape) == (m.weight.shape[0],) + (1,) * (m.weight.dim() - 1)
        assert torch.unique(scale).numel() > 1  # really one value per channel
    assert layers[-1].quant_weight().scale.numel() == 1  # the classifier stays per-tensor
    # the default: one scale per tensor everywhere
    for m in _layers(QuantSpec(act_bits=2, weight_bits=wbits)):
        assert m.quant_weight().scale.numel() == 1


def test_first_last_bits_apply_to_the_first_conv_and_the_classifier_only():
    for model, shape in (("cnv", (32, 32, 3)), ("tiny", (8, 8, 1)), ("vgg16", (32, 32, 3))):
        bits = [int(m.quant_weight().bit_width) for m in
                _layers(QuantSpec(act_bits=2, weight_bits=2, first_last_bits=8), model, shape)]
        assert bits[0] == 8 and bits[-1] == 8 and set(bits[1:-1]) == {2}, (model, bits)
        ints = _layers(QuantSpec(act_bits=2, weight_bits=2, first_last_bits=8), model, shape)[0].quant_weight().int()
        assert int(ints.abs().max()) <= 127 and torch.unique(ints).numel() > 4  # 8-bit narrow range in use
    assert {int(m.quant_weight().bit_width) for m in _layers(QuantSpec(act_bits=2, weight_bits=2))} == {2}


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_learned_range_is_unsigned_uniform_and_its_range_gets_a_gradient(bits):
    q = act(QuantSpec(act_bits=bits, act_range="learned"))
    params = list(q.parameters())
    assert len(params) == 1 and params[0].item() == pytest.approx(6.0)  # initialised at the ReLU6 range
    x = torch.linspace(-3.0, 9.0, 20001)
    levels = torch.unique(q(x).detach())
    assert levels.numel() == 2**bits and float(levels.min()) == 0.0
    assert torch.allclose(levels, torch.arange(2**bits) * (6.0 / (2**bits - 1)), atol=1e-5)
    q(x).sum().backward()
    assert params[0].grad is not None and float(params[0].grad) != 0.0
    with torch.no_grad():
        params[0].fill_(3.0)
    assert q(x).max().item() == pytest.approx(3.0)  # the range follows the parameter
    assert list(act(QuantSpec(act_bits=bits)).parameters()) == []  # the default range is a constant
