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
- ReduceMeanAsGlobalAveragePool (QONNX level, in prepare_qonnx): torch's dynamo export (the default of
  Brevitas' export_qonnx) writes AdaptiveAvgPool2d(1) as `ReduceMean(axes H, W, keepdims 1)`, which
  finn does not know; it is GlobalAveragePool by definition (the mean over H and W), so the build graph
  takes that op (keepdims 0: followed by a Flatten). The qonnx oracle still runs the file as written.
- SplitOutputAffine (after streamlining): the output scale/bias split off the integer logits (kept for
  the host and the oracles), TopK appended (-> LabelSelect) when the affine keeps the argmax; else the
  accelerator outputs the integer logits and the host takes the class (contract.host_class).
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


class ReduceMeanAsGlobalAveragePool(Transformation):
    """ReduceMean over exactly the two spatial axes of an NCHW tensor -> GlobalAveragePool (+ Flatten
    when keepdims is 0). Any other ReduceMean is left alone (check_graph refuses it, naming it)."""

    def apply(self, model: ModelWrapper):
        graph = model.graph
        for node in list(graph.node):
            if node.op_type != "ReduceMean" or not _spatial_mean(model, node):
                continue
            keep = _attr(node, "keepdims", 1)
            idx = list(graph.node).index(node)
            out = node.output[0]
            mid = out if keep else model.make_new_valueinfo_name()
            new = [helper.make_node("GlobalAveragePool", [node.input[0]], [mid], name=node.name + "_as_gap")]
            if not keep:
                new.append(helper.make_node("Flatten", [mid], [out], axis=1, name=node.name + "_flatten"))
            graph.node.remove(node)
            for k, n in enumerate(new):
                graph.node.insert(idx + k, n)
            return model, True  # qonnx re-applies until nothing changes
        return model, False


def _attr(node, name: str, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _spatial_mean(model: ModelWrapper, node) -> bool:
    """Whether `node` (ReduceMean) averages a 4-D tensor over axes 2 and 3 and nothing else."""
    shape = model.get_tensor_shape(node.input[0])
    if shape is None or len(shape) != 4:
        return False
    axes = _attr(node, "axes", None)
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = model.get_initializer(node.input[1])
    if axes is None:
        return False  # no axes: the mean over every axis
    return sorted(int(a) % 4 for a in np.asarray(axes).reshape(-1)) == [2, 3]


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


class SplitOutputAffine(Transformation):
    """After streamlining: the graph ends in an integer MatMul followed by constant Mul/Add nodes (the
    output scale and bias). They are removed from the graph and recorded in `self.scale` and
    `self.bias` (float64, one per class: float logits = integer logits * scale + bias). When the
    affine keeps the argmax (one positive scale, one bias for every class) TopK(k=1) -> `label` is
    appended on the integer logits, which finn turns into LabelSelect (`self.class_on` "accelerator").
    Otherwise (per-class scale or bias, or a non-positive scale) the graph ends in the integer logits,
    and the host computes the class (dqhw.contract.host_class; `self.class_on` "host")."""

    def __init__(self):
        super().__init__()
        self.scale: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self.class_on: str | None = None

    def apply(self, model: ModelWrapper):
        if self.scale is not None:
            return model, False  # already split (qonnx re-applies a transformation that reports a change)
        out = model.graph.output[0].name
        producer = model.find_producer(out)
        if producer is not None and producer.op_type == "TopK":
            return model, False  # already split (qonnx re-applies a transformation that reports a change)
        tail, tensor = [], out
        while True:
            node = model.find_producer(tensor)
            if node is None or node.op_type not in ("Mul", "Add"):
                break
            consts = [model.get_initializer(i) for i in node.input]
            if sum(c is not None for c in consts) != 1:
                break
            dyn = next(i for i, c in zip(node.input, consts) if c is None)
            tail.append((node, dyn, next(c for c in consts if c is not None)))
            tensor = dyn
        n_cls = int(np.prod(model.get_tensor_shape(out)))
        scale, bias = np.ones(n_cls), np.zeros(n_cls)
        for node, _, c in reversed(tail):  # applied in graph order
            c = np.broadcast_to(np.asarray(c, dtype=np.float64).reshape(-1), (n_cls,)) if np.size(c) in (1, n_cls) \
                else None
            if c is None:
                raise DqhwError(f"{node.name} ({node.op_type}) after the last layer has a constant that is neither "
                                "per-tensor nor per-class; dqhw cannot split it off the logits")
            if node.op_type == "Mul":
                scale, bias = scale * c, bias * c
            else:
                bias = bias + c
        producer = model.find_producer(tensor)
        dt = model.get_tensor_datatype(tensor)
        if producer is None or not dt.is_integer():
            where = f"{producer.name} ({producer.op_type})" if producer is not None else "the graph input"
            raise DqhwError(f"after streamlining, the logits come from {where} as {dt.name}, not integers: the last "
                            "layer must be a quantized linear/conv layer whose float scale and bias finn can move to "
                            "its output")
        if not np.all(np.isfinite(scale)) or not np.all(np.isfinite(bias)):
            raise DqhwError("the last layer's output scale/bias is not finite")
        on_accelerator = bool(np.all(scale == scale[0]) and scale[0] > 0 and np.all(bias == bias[0]))
        for node, _, _ in tail:
            model.graph.node.remove(node)
        if tensor != out:
            model.graph.value_info.append(model.graph.output[0])
            old = model.graph.output[0]
            model.graph.output.remove(old)
            model.graph.output.append(helper.make_tensor_value_info(tensor, TensorProto.FLOAT,
                                                                    model.get_tensor_shape(tensor)))
        self.scale, self.bias = scale, bias
        self.class_on = "accelerator" if on_accelerator else "host"
        if not on_accelerator:
            for vi in [v for v in model.graph.value_info if v.name == tensor]:
                model.graph.value_info.remove(vi)  # now a graph output (one ValueInfoProto per tensor)
            return model, True  # the accelerator outputs the integer logits only; the host takes the class
        k = model.make_new_valueinfo_name()
        model.set_initializer(k, np.asarray([1], dtype=np.int64))
        vals, label = model.make_new_valueinfo_name(), "label"
        model.graph.node.append(helper.make_node("TopK", [tensor, k], [vals, label], axis=-1, name="TopK_label"))
        model.graph.value_info.append(helper.make_tensor_value_info(vals, TensorProto.FLOAT, [1, 1]))
        model.graph.output.remove(model.graph.output[0])
        model.graph.output.append(helper.make_tensor_value_info(label, TensorProto.INT64, [1, 1]))
        model.set_tensor_datatype(label, DataType["UINT32"])
        return model, True


RESIDUAL_MESSAGE = ("a subtraction of two computed tensors is not supported by dqhw build (residual adds are: "
                    "lam * a + (1 - lam) * b of two quantized activations, requantized); write the model with such an "
                    "add, or compute the difference on the host")
