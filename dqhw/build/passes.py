"""dqhw's own graph passes, as qonnx Transformations.

- FixUnsignedBinaryActQuant (QONNX level, before qonnx_to_finn): Brevitas 0.13 exports a 1-bit
  *unsigned* activation quantizer (QuantReLU, bit_width=1) as `Relu -> BipolarQuant(scale s)`. In
  QONNX semantics BipolarQuant maps x >= 0 to +s and x < 0 to -s, so after a Relu it always yields
  +s: the exported file then disagrees with Brevitas (which computes {0, s}), and finn's
  qonnx_to_finn makes a MultiThreshold annotated BIPOLAR with out_scale = s that streamlining and
  convert_to_hw cannot handle ("out_scale=1 or bipolar output needed for conversion"). The pass
  rewrites it into what Brevitas computes: `Quant(x, s, zeropt 0, bitwidth 1, signed 0, narrow 0,
  ROUND)`, i.e. values {0, s}; qonnx_to_finn then emits a 1-threshold MultiThreshold (UINT1) and a
  Mul(s), exactly like the 2..8-bit case.
- SplitBipolarOutScale (FINN level, after qonnx_to_finn): the same repair for a graph that already
  went through qonnx_to_finn unfixed: a MultiThreshold with out_dtype BIPOLAR whose thresholds
  count {0, 1} (out_bias 0) and out_scale s != 1 becomes MultiThreshold(out_dtype UINT1) + Mul(s).
- RejectUnsupported: residual adds and other graph shapes dqhw's back end does not build.
- AlignWindowAndMvauSimd (after SetFolding): integer width ratios between window generator and MVAU.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from dqhw.errors import DqhwError


class FixUnsignedBinaryActQuant(Transformation):
    """Relu -> BipolarQuant(s)  ==>  Relu -> Quant(s, 0, 1, signed=0, narrow=0)  (values {0, s})."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        changed = False
        for i, node in enumerate(list(graph.node)):
            if node.op_type != "BipolarQuant":
                continue
            producer = model.find_producer(node.input[0])
            if producer is None or producer.op_type != "Relu":
                continue  # a real bipolar quantizer (weights, or a signed activation)
            scale = model.get_initializer(node.input[1])
            if scale is None:
                continue
            zp = model.make_new_valueinfo_name()
            bw = model.make_new_valueinfo_name()
            model.set_initializer(zp, np.asarray(0.0, dtype=np.float32))
            model.set_initializer(bw, np.asarray(1.0, dtype=np.float32))
            quant = helper.make_node(
                "Quant", [node.input[0], node.input[1], zp, bw], list(node.output),
                domain="qonnx.custom_op.general", name=(node.name or f"BipolarQuant_{i}") + "_as_uint1",
                signed=0, narrow=0, rounding_mode="ROUND",
            )
            idx = list(graph.node).index(node)
            graph.node.remove(node)
            graph.node.insert(idx, quant)
            changed = True
        return model, changed


class SplitBipolarOutScale(Transformation):
    """MultiThreshold(out_dtype BIPOLAR, out_scale s, out_bias 0) -> MultiThreshold(UINT1) + Mul(s)."""

    def apply(self, model: ModelWrapper):
        from qonnx.custom_op.registry import getCustomOp

        graph = model.graph
        changed = False
        for node in list(graph.node):
            if node.op_type != "MultiThreshold":
                continue
            inst = getCustomOp(node)
            if inst.get_nodeattr("out_dtype") != "BIPOLAR":
                continue
            scale = float(inst.get_nodeattr("out_scale"))
            bias = float(inst.get_nodeattr("out_bias"))
            thresholds = model.get_initializer(node.input[1])
            if bias != 0.0 or scale == 1.0 or thresholds is None or thresholds.shape[-1] != 1:
                continue  # a real bipolar activation ({-1, +1}) or not the 1-bit ReLU pattern
            out = node.output[0]
            mid = model.make_new_valueinfo_name()
            node.output[0] = mid
            inst.set_nodeattr("out_dtype", "UINT1")
            inst.set_nodeattr("out_scale", 1.0)
            s_name = model.make_new_valueinfo_name()
            model.set_initializer(s_name, np.asarray(scale, dtype=np.float32))
            mul = helper.make_node("Mul", [mid, s_name], [out], name=(node.name or "MultiThreshold") + "_scale")
            graph.node.insert(list(graph.node).index(node) + 1, mul)
            shape = model.get_tensor_shape(out)
            graph.value_info.append(helper.make_tensor_value_info(mid, TensorProto.FLOAT, shape))
            model.set_tensor_datatype(mid, DataType["UINT1"])
            model.set_tensor_datatype(out, DataType["FLOAT32"])
            changed = True
        return model, changed


RESIDUAL_MESSAGE = "residual adds are not supported by dqhw build yet"


def check_supported_qonnx(model: ModelWrapper) -> None:
    """Raise a one-line DqhwError for graph shapes that dqhw build does not handle."""
    init = {i.name for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ("Add", "Sum", "Sub"):
            dynamic = [i for i in node.input if i and i not in init and model.get_initializer(i) is None]
            if len(dynamic) >= 2:
                raise DqhwError(RESIDUAL_MESSAGE)
        if node.op_type in ("GlobalAveragePool", "AveragePool", "ReduceMean"):
            raise DqhwError(f"average pooling ({node.op_type}) is not supported by dqhw build yet")


class AlignWindowAndMvauSimd(Transformation):
    """Keep the stream between a (non-depthwise) sliding-window generator and its MVAU at an integer
    width ratio. finn's SetFolding picks the MVAU's SIMD among the divisors of MW = K*K*C and the
    SWG's SIMD among the divisors of C independently; when neither divides the other (e.g. SWG 16,
    MVAU 18) InsertDWC puts in a non-integer width converter, whose RTL (finn-rtllib vpc) runs at
    about half rate and became the real bottleneck (cnv: 12,544 measured vs 9,216 estimated cycles).
    The MVAU's SIMD becomes the smallest divisor of MW that divides C or is a multiple of C and keeps
    the layer within the graph's bottleneck (the estimate never gets worse, and no LUTs go into
    speed nobody can use); the SWG's SIMD becomes min(that, C)."""

    def apply(self, model: ModelWrapper):
        from qonnx.custom_op.registry import getCustomOp

        bottleneck = max(int(getCustomOp(n).get_exp_cycles()) for n in model.graph.node
                         if hasattr(getCustomOp(n), "get_exp_cycles"))
        for swg_node in model.graph.node:
            if not swg_node.op_type.startswith("ConvolutionInputGenerator"):
                continue
            swg = getCustomOp(swg_node)
            if swg.get_nodeattr("depthwise"):
                continue
            consumer = model.find_consumer(swg_node.output[0])
            if consumer is None or not consumer.op_type.startswith("MVAU"):
                continue
            mvau = getCustomOp(consumer)
            c = int(swg.get_nodeattr("IFMChannels"))
            s_swg, s_mvau = int(swg.get_nodeattr("SIMD")), int(mvau.get_nodeattr("SIMD"))
            mw = int(mvau.get_nodeattr("MW"))
            if s_mvau % s_swg == 0 or s_swg % s_mvau == 0:
                continue
            ok = [s for s in range(1, mw + 1) if mw % s == 0 and (c % s == 0 or s % c == 0)]

            def cycles(simd: int, mvau=mvau) -> int:
                mvau.set_nodeattr("SIMD", simd)
                return int(mvau.get_exp_cycles())

            # the cheapest aligned SIMD that keeps the layer off the critical path; else the next one up
            fits = [s for s in ok if cycles(s) <= bottleneck]
            new = min(fits) if fits else min((s for s in ok if s >= s_mvau), default=max(ok))
            mvau.set_nodeattr("SIMD", new)
            swg.set_nodeattr("SIMD", min(new, c))
        return model, False
