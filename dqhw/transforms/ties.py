"""Exact ties at thresholds: which side an input exactly on a threshold goes, as the file says
(docs/integer-contract.md, "Exact ties").

The reference semantics (qonnx's execute_onnx, qonnx/custom_op/general; Brevitas computes the same):
- MultiThreshold counts `x >= t`: a tie goes **up**;
- BipolarQuant, and a 1-bit signed Quant, give +1 for `x >= 0`: a tie goes **up**;
- a Quant with rounding_mode ROUND (or HALF_EVEN) rounds x / scale with np.round, half to even
  (Brevitas: torch.round): a tie x / scale = k + 1/2 goes to the **even** one of k and k + 1, i.e. up
  where k + 1 is even and down where k + 1 is odd. This holds for a 1-bit unsigned Quant too (0.5 -> 0).

finn's qonnx_to_finn turns every quantizer into a MultiThreshold with thresholds at (k + 1/2) * scale
and `>=` (ties up), and its streamlining computes the integer-domain thresholds in float32, so a
threshold that is exactly an integer n in real arithmetic can come out n ± a few ulps (measured up to
~60 float32 ulps where BatchNorm terms cancel), which finn's RoundAndClipThresholds (np.ceil) then
turns into n or n + 1 at random. So dqhw streamlines in float64 (`float64_initializers` before
finn's step_streamline, `float32_initializers` after the rounding: the file's float32 parameters,
combined without float32 rounding), and two passes put every tie on the file's side:

- MarkThresholdTies (around qonnx_to_finn): every MultiThreshold gets the node attribute
  `dqhw_tie_up` (one int per threshold column: 1 = an exact tie goes up, 0 = down). MultiThresholds of
  the file itself, and those from BipolarQuant (BIPOLAR outputs): all 1. Those from a Quant: half to
  even by the level the threshold leads to (UINTb levels 0.., INTb -2^(b-1).., narrow INTb
  -(2^(b-1) - 1)..).
- RoundThresholdTies (right after streamlining, before anything rounds): a MultiThreshold on an integer
  input gets integer thresholds: a float64 threshold within TIE_REL (relative) of an integer n is a
  tie at n and becomes n (ties up) or n + 1 (ties down: the accumulator n stays below); any other
  threshold becomes ceil(T) (acc >= T <=> acc >= ceil(T) for an integer acc), clipped to the input's
  range [min, max + 1] (no change in what it computes: finn's Thresholding asserts non-negative
  thresholds on an unsigned input, which a signed quantizer on pixels has). The attribute is then
  removed. finn's later RoundAndClipThresholds leaves integers as they are.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

TIE_ATTR = "dqhw_tie_up"
# a float64 threshold this close (relative to max(1, |T|)) to an integer is an exact tie there: float64
# streamlining of float32 parameters errs by ~1e-15; a threshold that is no tie but lies this close to
# one is beyond what the file's own float32 execution resolves
TIE_REL = 2.0 ** -30


def _get(node, name: str):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return None


def _set_tie(node, up: list[int]) -> None:
    _drop(node, TIE_ATTR)
    node.attribute.append(helper.make_attribute(TIE_ATTR, [int(u) for u in up]))


def _drop(node, name: str) -> None:
    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)


def half_even_ties(out_dtype: str, n_thresholds: int) -> list[int] | None:
    """dqhw_tie_up of a Quant (round half to even) converted to `n_thresholds` thresholds with output
    type `out_dtype`: threshold t leads to level lo + t + 1; a tie goes up iff that level is even.
    None when the level range is not one qonnx_to_finn makes (then the thresholds keep `>=`)."""
    try:
        dt = DataType[out_dtype]
    except KeyError:
        return None
    if not dt.is_integer() or dt.name == "BIPOLAR":
        return None
    bits = dt.bitwidth()
    if not dt.signed():
        lo = 0
    elif n_thresholds == (1 << bits) - 1:
        lo = -(1 << (bits - 1))
    elif n_thresholds == (1 << bits) - 2:
        lo = -((1 << (bits - 1)) - 1)  # narrow range
    else:
        return None
    return [int((lo + t + 1) % 2 == 0) for t in range(n_thresholds)]


class MarkThresholdTies(Transformation):
    """Set `dqhw_tie_up` on every MultiThreshold that has none: `from_quant` False (before
    qonnx_to_finn: the file's own MultiThresholds) marks all ties up; True (after it) marks those
    qonnx_to_finn made from a Quant half to even, from a BipolarQuant all up."""

    def __init__(self, from_quant: bool):
        super().__init__()
        self.from_quant = from_quant

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "MultiThreshold" or _get(node, TIE_ATTR) is not None:
                continue
            thr = model.get_initializer(node.input[1])
            if thr is None:
                continue
            n = int(np.asarray(thr).shape[-1])
            out_dtype = _get(node, "out_dtype")
            out_dtype = out_dtype.decode() if isinstance(out_dtype, bytes) else (out_dtype or "FLOAT32")
            up = half_even_ties(out_dtype, n) if self.from_quant else None
            _set_tie(node, up if up is not None else [1] * n)
        return model, False


def integer_thresholds(thr: np.ndarray, tie_up: list[int] | None) -> np.ndarray:
    """Float thresholds (C, N) on an integer input -> the integer thresholds that put an exact tie where
    `tie_up` says (default: up) and every other input where `>=` against the float puts it."""
    t = np.asarray(thr, dtype=np.float64)
    up = np.ones(t.shape[-1], dtype=np.int64) if tie_up is None else np.asarray(tie_up, dtype=np.int64)
    near = np.rint(t)
    tol = TIE_REL * np.maximum(np.abs(t), 1.0)
    tie = np.abs(t - near) <= tol
    return np.where(tie, near + (1 - up), np.ceil(t))


class RoundThresholdTies(Transformation):
    """MultiThresholds on integer inputs: integer thresholds (integer_thresholds), `dqhw_tie_up` removed.
    `self.moved` counts thresholds that differ from np.ceil of the float (ties put back on their side)."""

    def __init__(self):
        super().__init__()
        self.moved = 0

    def apply(self, model: ModelWrapper):
        for node in model.graph.node:
            if node.op_type != "MultiThreshold":
                continue
            thr = model.get_initializer(node.input[1])
            dtype = model.get_tensor_datatype(node.input[0])
            if thr is None or not dtype.is_integer():
                _drop(node, TIE_ATTR)
                continue  # a float input (finn could not absorb a scale): left to finn as before
            new = integer_thresholds(thr, _get(node, TIE_ATTR))
            self.moved += int((new != np.ceil(np.asarray(thr, dtype=np.float64))).sum())
            # the input's range: `x >= t` is always true for t <= min and never for t > max, so clipping
            # changes nothing; finn's Thresholding asserts non-negative thresholds on an unsigned input
            # (a signed quantizer on pixels: Brevitas' default Int8ActPerTensorFloat on x / 255)
            new = np.clip(new, dtype.min(), dtype.max() + 1)
            model.set_initializer(node.input[1], new.astype(np.float32))
            _drop(node, TIE_ATTR)
        return model, False



def float64_initializers(model: ModelWrapper) -> ModelWrapper:
    """Every float32 initializer as float64 (finn's streamlining then combines the file's parameters
    in float64; its transformations keep the arrays' dtype)."""
    for init in list(model.graph.initializer):
        a = model.get_initializer(init.name)
        if a is not None and a.dtype == np.float32:
            model.set_initializer(init.name, a.astype(np.float64))
    return model


def float32_initializers(model: ModelWrapper) -> ModelWrapper:
    """Back to finn's float32 container type (after RoundThresholdTies: the thresholds are integers)."""
    for init in list(model.graph.initializer):
        a = model.get_initializer(init.name)
        if a is not None and a.dtype == np.float64:
            model.set_initializer(init.name, a.astype(np.float32))
    return model
