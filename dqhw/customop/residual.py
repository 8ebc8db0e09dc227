"""dqhw node types of residual graphs (docs/integer-contract.md, "Residual add").

- DqhwAddStreams (rtl/dqhw_add.v): the integer convex-combination add `out = WA * a + WB * b` of two
  streams of the same shape (NHWC, channels innermost, PE channels per beat on both inputs and the
  output). Made by dqhw.transforms.residual.ConvexAddToInteger from the streamlined float graph's
  `Add(Mul(a, alpha), Mul(b, beta))` with alpha / beta = WA / WB; the common scale alpha / WA goes into
  the requantizing thresholds after it. Inputs unsigned or signed integers; WA, WB >= 1.
- DqhwDuplicateStreams (rtl/dqhw_stream_fork.v): finn's DuplicateStreams with two outputs, each a
  copy of every beat (replaces DuplicateStreams / DuplicateStreams_hls).
- DqhwGlobalAccPool (rtl/dqhw_global_acc_pool.v): finn's GlobalAccPool, the per-channel sum over all
  pixels of a frame (global average pooling without the division, which finn moves into the next
  layer's scale); replaces GlobalAccPool / GlobalAccPool_hls.
"""

from __future__ import annotations

import math

import numpy as np
from finn.custom_op.fpgadataflow.duplicatestreams import DuplicateStreams
from finn.custom_op.fpgadataflow.globalaccpool import GlobalAccPool
from finn.custom_op.fpgadataflow.hwcustomop import HWCustomOp
from qonnx.core.datatype import DataType

from dqhw.customop.common import DqhwNode, element_bits, store_output
from dqhw.errors import DqhwError


def add_range(wa: int, wb: int, a_dt, b_dt) -> tuple[int, int]:
    """The reachable range of WA * a + WB * b over the input types (WA, WB >= 0)."""
    lo = wa * int(a_dt.min()) + wb * int(b_dt.min())
    hi = wa * int(a_dt.max()) + wb * int(b_dt.max())
    return lo, hi


def smallest_type(lo: int, hi: int):
    """The smallest UINTb (lo >= 0) or INTb holding lo..hi."""
    if lo >= 0:
        return DataType[f"UINT{max(1, int(hi).bit_length())}"]
    bits = max(int(hi).bit_length(), int(-lo - 1).bit_length()) + 1
    return DataType[f"INT{bits}"]


class DqhwAddStreams(DqhwNode, HWCustomOp):
    """out = WA * in0 + WB * in1, elementwise, integers (finn-style HW node, backend fpgadataflow)."""

    # HWCustomOp has no shape attributes of its own: these are the node's whole description
    RTL_ATTRS = {
        "NumChannels": ("i", True, 0),
        "PE": ("i", False, 1),
        "numInputVectors": ("ints", False, [1]),
        "inputDataType": ("s", True, ""),
        "inputDataType1": ("s", True, ""),
        "outputDataType": ("s", False, ""),
        "WA": ("i", True, 1),
        "WB": ("i", True, 1),
        "inFIFODepths": ("ints", False, [2, 2]),
    }

    # shapes: both inputs and the output are (vectors..., NumChannels)
    def get_normal_input_shape(self, ind=0):
        return tuple(list(self.get_nodeattr("numInputVectors")) + [self.get_nodeattr("NumChannels")])

    def get_folded_input_shape(self, ind=0):
        ch, pe = self.get_nodeattr("NumChannels"), self.get_nodeattr("PE")
        self.check_pe_divides(ch)
        return tuple(list(self.get_nodeattr("numInputVectors")) + [ch // pe, pe])

    def get_normal_output_shape(self, ind=0):
        return self.get_normal_input_shape()

    def get_folded_output_shape(self, ind=0):
        return self.get_folded_input_shape()

    def make_shape_compatible_op(self, model):
        return super().make_const_shape_op(self.get_normal_output_shape())

    def get_input_datatype(self, ind=0):
        return DataType[self.get_nodeattr("inputDataType" if ind == 0 else "inputDataType1")]

    def _range(self) -> tuple[int, int]:
        return add_range(int(self.get_nodeattr("WA")), int(self.get_nodeattr("WB")),
                         self.get_input_datatype(0), self.get_input_datatype(1))

    def get_output_datatype(self, ind=0):
        odt = self.get_nodeattr("outputDataType")
        return DataType[odt] if odt else smallest_type(*self._range())

    def infer_node_datatype(self, model):
        node = self.onnx_node
        self.set_nodeattr("inputDataType", model.get_tensor_datatype(node.input[0]).name)
        self.set_nodeattr("inputDataType1", model.get_tensor_datatype(node.input[1]).name)
        self.set_nodeattr("outputDataType", smallest_type(*self._range()).name)
        model.set_tensor_datatype(node.output[0], self.get_output_datatype())

    def get_instream_width(self, ind=0):
        return self.get_nodeattr("PE") * element_bits(self.get_input_datatype(ind))

    def get_outstream_width(self, ind=0):
        return self.get_nodeattr("PE") * element_bits(self.get_output_datatype())

    def get_number_output_values(self):
        return int(np.prod(self.get_folded_output_shape()[:-1]))

    def get_exp_cycles(self):
        return int(np.prod(self.get_folded_output_shape()[:-1]))

    def verify_node(self):
        return []

    def execute_node(self, context, graph):
        node = self.onnx_node
        a = np.asarray(context[node.input[0]]).astype(np.int64)
        b = np.asarray(context[node.input[1]]).astype(np.int64)
        out = int(self.get_nodeattr("WA")) * a + int(self.get_nodeattr("WB")) * b
        store_output(context, node.output[0], out.astype(np.float32))

    def finalize(self, model) -> None:
        node = self.onnx_node
        name = self.display_name()
        self.check_pe_divides(self.get_nodeattr("NumChannels"))
        for i in (0, 1):
            dt = model.get_tensor_datatype(node.input[i])
            if not dt.is_integer() or dt.name == "BIPOLAR":
                raise DqhwError(f"{name}: input {i} is {dt.name}; dqhw_add adds integer streams")
        if self.get_nodeattr("WA") < 1 or self.get_nodeattr("WB") < 1:
            raise DqhwError(f"{name}: weights WA={self.get_nodeattr('WA')}, WB={self.get_nodeattr('WB')} must be >= 1")
        self.infer_node_datatype(model)

    def rtl_params(self) -> dict:
        a, b, o = self.get_input_datatype(0), self.get_input_datatype(1), self.get_output_datatype()
        return {"CHANNELS": int(self.get_nodeattr("NumChannels")), "PE": int(self.get_nodeattr("PE")),
                "A_BITS": element_bits(a), "A_SIGNED": int(a.signed()),
                "B_BITS": element_bits(b), "B_SIGNED": int(b.signed()),
                "WA": int(self.get_nodeattr("WA")), "WB": int(self.get_nodeattr("WB")),
                "OUT_BITS": element_bits(o)}

    # resources (dqhw.estimate.add): PE constant multiplies (shift-and-add) and one adder per lane
    def lut_estimation(self, fpgapart=None) -> int:
        from dqhw import estimate

        p = self.rtl_params()
        return estimate.add(p["PE"], p["A_BITS"], p["B_BITS"], p["WA"], p["WB"], p["OUT_BITS"]).lut


class DqhwDuplicateStreams(DqhwNode, DuplicateStreams):
    def execute_node(self, context, graph):
        node = self.onnx_node
        x = np.asarray(context[node.input[0]])
        for out in node.output:
            store_output(context, out, x.copy())

    def finalize(self, model) -> None:
        if self.get_nodeattr("NumOutputStreams") != 2 or len(self.onnx_node.output) != 2:
            raise DqhwError(f"{self.display_name()}: dqhw_stream_fork has two outputs; this fork has "
                            f"{len(self.onnx_node.output)} (a tensor with more than two consumers)")
        self.check_pe_divides(self.get_nodeattr("NumChannels"))

    def rtl_params(self) -> dict:
        return {"WIDTH": int(self.get_instream_width_padded(0))}

    def lut_estimation(self, fpgapart=None) -> int:
        return 4


class DqhwGlobalAccPool(DqhwNode, GlobalAccPool):
    def execute_node(self, context, graph):
        node = self.onnx_node
        x = np.asarray(context[node.input[0]]).astype(np.int64)
        ch = int(self.get_nodeattr("NumChannels"))
        out = x.reshape(x.shape[0], -1, ch).sum(axis=1)
        store_output(context, node.output[0], out.astype(np.float32))

    def pixels(self) -> int:
        vecs = list(self.get_nodeattr("numInputVectors"))
        return int(np.prod(vecs[1:])) if len(vecs) == 3 else 1

    def finalize(self, model) -> None:
        name = self.display_name()
        self.check_pe_divides(self.get_nodeattr("NumChannels"))
        idt = self.get_input_datatype()
        if not idt.is_integer() or idt.signed() or idt.name == "BIPOLAR":
            raise DqhwError(f"{name}: input {idt.name}; dqhw_global_acc_pool sums unsigned integers")
        if len(list(self.get_nodeattr("numInputVectors"))) != 3:
            raise DqhwError(f"{name}: global pooling needs an image input (N, H, W, C)")

    def rtl_params(self) -> dict:
        return {"CHANNELS": int(self.get_nodeattr("NumChannels")), "PE": int(self.get_nodeattr("PE")),
                "PIXELS": self.pixels(), "IN_BITS": element_bits(self.get_input_datatype()),
                "OUT_BITS": element_bits(self.get_output_datatype())}

    def lut_estimation(self, fpgapart=None) -> int:
        from dqhw import estimate

        p = self.rtl_params()
        return estimate.global_acc_pool(p["CHANNELS"], p["PE"], p["OUT_BITS"]).lut


# A threshold of the integer sum within this relative distance of an integer is that integer (a tie, float
# noise of streamlining: float32 parameters multiplied in float64); ConvexAddToInteger snaps it and
# integer_sum_mismatches counts it as "at or above", so both read a tie the same way.
TIE_TOLERANCE = 1e-6


def lambda_weights(alpha: float, beta: float, max_den: int = 255) -> tuple[int, int, float]:
    """(WA, WB, g) with alpha = g * WA and beta = g * WB, WA and WB small coprime integers: the
    convex-combination weights of the streamlined graph (alpha = s * lam, beta = s * (1 - lam) with
    lam = m / D) as integers and one common scale. DqhwError when no such pair within max_den exists."""
    from fractions import Fraction

    if not (alpha > 0 and beta > 0 and math.isfinite(alpha) and math.isfinite(beta)):
        raise DqhwError(f"residual add weights {alpha:g}, {beta:g}: both must be positive (lambda in (0, 1))")
    alpha, beta = float(alpha), float(beta)
    frac = Fraction(alpha / beta).limit_denominator(max_den)
    wa, wb = frac.numerator, frac.denominator
    g = alpha / wa
    if wa > max_den or abs(g * wb - beta) > 1e-5 * beta:
        raise DqhwError(f"residual add weights {alpha:.8g} : {beta:.8g} are not a ratio of integers <= {max_den} "
                        "(train with the quantized lambda of dqhw's wrn, lam = m / 15)")
    return wa, wb, g


def integer_sum_mismatches(wa: int, wb: int, g: float, beta: float, a_dt, b_dt,
                           t_sum: np.ndarray, t_int: np.ndarray) -> int:
    """How many of the thresholds t_int on the integer sum WA*a + WB*b decide some operand pair (a, b)
    differently from the float graph's test alpha*a + beta*b >= t_sum (alpha = g*WA). Every pair of the
    operand types is tried, so 0 is a proof over the whole input domain, not a sample: lambda_weights
    only finds WB within 1e-5 of beta / g. In units of g; a value within TIE_TOLERANCE of a threshold is a
    tie and goes up, as ConvexAddToInteger snaps it."""
    a = np.arange(int(a_dt.min()), int(a_dt.max()) + 1, dtype=np.int64)
    b = np.arange(int(b_dt.min()), int(b_dt.max()) + 1, dtype=np.int64)
    aa, bb = np.meshgrid(a, b, indexing="ij")
    z = (wa * aa + wb * bb).ravel()
    v = (wa * aa + (beta / g) * bb).ravel()  # the float graph's sum in units of g
    lo = int(z.min())
    size = int(z.max()) - lo + 1
    vmin = np.full(size, np.inf)
    vmax = np.full(size, -np.inf)
    np.minimum.at(vmin, z - lo, v)
    np.maximum.at(vmax, z - lo, v)
    # min of v over z >= k, max of v over z < k, for every k in [lo, hi + 1]
    min_ge = np.append(np.minimum.accumulate(vmin[::-1])[::-1], np.inf)
    max_lt = np.insert(np.maximum.accumulate(vmax), 0, -np.inf)
    t_z = np.asarray(t_sum, dtype=np.float64).ravel() / g
    k = np.clip(np.asarray(t_int, dtype=np.float64).ravel(), lo, lo + size).astype(np.int64) - lo
    up = t_z - TIE_TOLERANCE * np.maximum(1.0, np.abs(t_z))  # v >= up: the float graph says "at or above"
    wrong = (min_ge[k] < up) | (max_lt[k] >= up)
    return int(np.count_nonzero(wrong))
