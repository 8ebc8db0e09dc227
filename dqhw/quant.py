"""Brevitas layer factories: the one place that decides how dqhw quantizes.

Activations (the paper's quantizer): ReLU6 (or ReLU1) clipped to a *fixed* range [0, max] and split
into 2^b - 1 uniform steps, unsigned, b = 1..5 (up to 8 accepted), straight-through gradient. The
range is a constant, not learned: Brevitas' QuantReLU(max_val=6) learns its scale by default, which
is not the paper's quantizer.

Weights: signed, narrow range (-(2^(b-1)-1) .. 2^(b-1)-1), one scale per tensor taken from the
99th percentile of |W| (so the DQ regularizer's row-orthogonal weights are represented without
collapsing to zero). wbits = 1 means bipolar {-s, +s}. `fp` keeps float weights (software baselines).

Opt-in levers (the defaults above are the paper-faithful setting):
- `weight_scaling="per-channel"`: one scale per output channel (same 99th-percentile / mean statistic
  per row) for every layer followed by BatchNorm; the classifier stays per-tensor so its raw integer
  accumulators remain one common multiple of a single scale (argmax on them is exact).
- `first_last_bits=b`: the weights of the first conv and of the classifier get b bits.
- `act_range="learned"`: the ReLU's clipping range is a trained parameter (Brevitas parameter scaling
  initialised at 6 or 1), still unsigned, still 2^b - 1 uniform steps from 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch.nn as nn
from brevitas.core.quant import BinaryQuant
from brevitas.inject.enum import ScalingImplType, StatsOp
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from brevitas.quant import Int8WeightPerTensorFloat, Uint8ActPerTensorFloat, Uint8ActPerTensorFloatMaxInit

from dqhw.errors import DqhwError

ACT_RANGES = {"relu6": 6.0, "relu1": 1.0}
MAX_BITS = 8
WEIGHT_SCALINGS = ("per-tensor", "per-channel")
ACT_RANGE_KINDS = ("fixed", "learned")


@dataclass(frozen=True)
class QuantSpec:
    """What to quantize: activation bits (None = float), weight bits (None = float), ReLU range."""

    act_bits: int | None = 2
    weight_bits: int | None = 2
    act: str = "relu6"
    input_bits: int | None = None  # bit-depth reduction of the input pixels inside the network
    weight_scaling: str = "per-tensor"  # or "per-channel" (layers followed by BatchNorm)
    first_last_bits: int | None = None  # weight bits of the first conv and the classifier (None: weight_bits)
    act_range: str = "fixed"  # or "learned"
    per_channel: bool = False  # set by layer(): this layer may use per-channel scales

    @property
    def act_max(self) -> float:
        return ACT_RANGES[self.act]

    def layer(self, where: str = "hidden") -> QuantSpec:
        """The spec of one conv/linear layer: `first` (the first conv), `hidden`, or `last` (the
        classifier, which has no BatchNorm after it and keeps one scale per tensor)."""
        bits = self.weight_bits
        if where in ("first", "last") and self.first_last_bits is not None and bits is not None:
            bits = self.first_last_bits
        return replace(self, weight_bits=bits,
                       per_channel=self.weight_scaling == "per-channel" and where != "last")


def parse_bits(value: str | int | None, what: str = "--bits", lo: int = 1, hi: int = MAX_BITS) -> int | None:
    """'fp' -> None; an integer string in [lo, hi] -> int; anything else -> DqhwError."""
    if value is None or (isinstance(value, str) and value.lower() in ("fp", "float", "32")):
        return None
    try:
        bits = int(value)
    except (TypeError, ValueError):
        raise DqhwError(f"{what} must be an integer {lo}..{hi} or 'fp', got {value!r}") from None
    if not lo <= bits <= hi:
        raise DqhwError(f"{what} must be an integer {lo}..{hi} or 'fp', got {bits}")
    return bits


class FixedRangeUintAct(Uint8ActPerTensorFloat):
    """Unsigned activation quantizer with a constant range [0, max_val] (max_val set per layer)."""

    scaling_impl_type = ScalingImplType.CONST


class NarrowIntWeight(Int8WeightPerTensorFloat):
    """Signed narrow-range weights, one scale per tensor from the 99th percentile of |W| (the absolute
    maximum lets one outlier round every other 2-bit weight to zero; training then diverges)."""

    narrow_range = True
    scaling_stats_op = StatsOp.PERCENTILE
    high_percentile_q = 99.0


class NarrowIntWeightPerChannel(NarrowIntWeight):
    """NarrowIntWeight with one 99th-percentile scale per output channel."""

    scaling_per_output_channel = True


class BipolarWeight(Int8WeightPerTensorFloat):
    """1-bit weights: {-s, +s}, with the per-tensor scale taken from the mean |W| at each step.
    (Brevitas' SignedBinaryWeightPerTensorConst with stats scaling fails in backward: in-place op.)"""

    tensor_quant = BinaryQuant
    bit_width = 1
    signed = True
    narrow_range = False
    scaling_stats_op = StatsOp.AVE


class BipolarWeightPerChannel(BipolarWeight):
    """1-bit weights {-s_o, +s_o} with s_o the mean |W| of output channel o."""

    scaling_per_output_channel = True


class LearnedRangeUintAct(Uint8ActPerTensorFloatMaxInit):
    """Unsigned activation quantizer whose range [0, max] is a trained parameter (initialised at
    max_val; Brevitas' parameter scaling with a straight-through gradient)."""


def act(spec: QuantSpec) -> nn.Module:
    """The activation after every conv/linear block: quantized ReLU6/ReLU1, or a float clipped ReLU."""
    if spec.act not in ACT_RANGES:
        raise DqhwError(f"--act must be one of {', '.join(ACT_RANGES)}, got {spec.act!r}")
    if spec.act_bits is None:
        return nn.Hardtanh(0.0, spec.act_max)
    if spec.act_range not in ACT_RANGE_KINDS:
        raise DqhwError(f"--act-range must be one of {', '.join(ACT_RANGE_KINDS)}, got {spec.act_range!r}")
    if spec.act_range == "learned":
        return QuantReLU(act_quant=LearnedRangeUintAct, bit_width=spec.act_bits, max_val=spec.act_max,
                         return_quant_tensor=False)
    return QuantReLU(
        act_quant=FixedRangeUintAct,
        bit_width=spec.act_bits,
        scaling_const=spec.act_max,
        max_val=spec.act_max,
        return_quant_tensor=False,
    )


def input_quant(spec: QuantSpec) -> nn.Module | None:
    """Optional bit-depth reduction of the input (pixels already scaled to [0, 1]): an unsigned
    `input_bits`-bit quantizer with the constant range [0, 1] (feature squeezing inside the network).
    In hardware it becomes a standalone thresholding layer in front of the first conv."""
    if spec.input_bits is None:
        return None
    return QuantIdentity(act_quant=FixedRangeUintAct, bit_width=spec.input_bits, scaling_const=1.0, max_val=1.0,
                         return_quant_tensor=False)


def _weight_kwargs(spec: QuantSpec) -> dict:
    if spec.weight_bits is None:
        return {"weight_quant": None}
    if spec.weight_scaling not in WEIGHT_SCALINGS:
        raise DqhwError(f"--weight-scaling must be one of {', '.join(WEIGHT_SCALINGS)}, got {spec.weight_scaling!r}")
    if spec.weight_bits == 1:
        return {"weight_quant": BipolarWeightPerChannel if spec.per_channel else BipolarWeight}
    return {"weight_quant": NarrowIntWeightPerChannel if spec.per_channel else NarrowIntWeight,
            "weight_bit_width": spec.weight_bits}


def conv(spec: QuantSpec, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, padding: int = 0) -> nn.Module:
    """A bias-free quantized conv (BatchNorm follows it and carries the bias). Pass `spec.layer(...)`
    so that the first-layer bits and per-channel scaling apply."""
    return QuantConv2d(
        c_in, c_out, kernel, stride=stride, padding=padding, bias=False, return_quant_tensor=False,
        **_weight_kwargs(spec),
    )


def linear(spec: QuantSpec, n_in: int, n_out: int) -> nn.Module:
    """A bias-free quantized linear layer (the classifier ends in raw integer accumulators)."""
    return QuantLinear(n_in, n_out, bias=False, return_quant_tensor=False, **_weight_kwargs(spec))


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every conv/linear layer (quantized or not), in definition order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def effective_weight(layer: nn.Module):
    """The weight the layer really applies: the quantized value for Brevitas layers."""
    if hasattr(layer, "quant_weight") and getattr(layer, "weight_quant", None) is not None:
        try:
            qw = layer.quant_weight()
            return qw.value if hasattr(qw, "value") else qw
        except Exception:  # a float layer wrapped by Brevitas without a quantizer
            pass
    return layer.weight


def quantizer_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Trained parameters that belong to quantizers (the learned activation ranges): they get no
    weight decay, which would otherwise shrink every range towards zero."""
    return [p for n, p in model.named_parameters() if "_quant" in n]
