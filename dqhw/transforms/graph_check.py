"""The build's check_graph step: refuse, before any of finn's steps, what dqhw cannot build yet, in
one line that names the node, its op, its data types and why. (Without it such graphs fail later
with a downstream symptom: "layer TopK_0 could not be mapped", or an empty AssertionError from finn's
minimize_bit_width.)

Runs on the prepared QONNX graph (dqhw.flow.export.prepare_qonnx): input annotated UINT8, output
`logits`. What it refuses, and why:
- ops outside SUPPORTED_OPS (finn would leave them in software or fail);
- activation quantizers wider than 8 bits (dqhw_mvau and the thresholds take 1..8-bit activations,
  unsigned, signed INT2..INT8 and bipolar), or with a rounding_mode other than ROUND (half to even:
  finn's conversion to thresholds ignores the mode, so FLOOR or CEIL would be built as ROUND);
- adds of two computed tensors other than the residual convex combinations dqhw builds (both
  operands quantized activations of one scale, scaled by constants, the sum requantized: checked by
  the `residual` step, dqhw.transforms.residual), and average pooling other than global;
- a last layer whose bias is not a constant. (A per-class scale or bias on the last layer is built:
  the accelerator outputs the integer logits and the host takes the class, contract.host_class.)
"""

from __future__ import annotations

import numpy as np

from dqhw.errors import DqhwError

SUPPORTED_OPS = {
    "Quant", "BipolarQuant", "Trunc", "Conv", "MatMul", "Gemm", "Mul", "Add", "Sub", "Div", "Relu",
    "BatchNormalization", "MaxPool", "Flatten", "Reshape", "Transpose", "Identity", "MultiThreshold",
    "Squeeze", "Unsqueeze", "Pad", "Clip", "TopK", "GlobalAveragePool",
}
WEIGHT_OPS = ("Conv", "MatMul", "Gemm")


def _dtypes(model, node) -> str:
    parts = []
    for t in list(node.input) + list(node.output):
        if not t:
            continue
        if model.get_initializer(t) is not None:
            continue
        try:
            parts.append(f"{t}:{model.get_tensor_datatype(t).name}")
        except Exception:  # noqa: BLE001
            parts.append(f"{t}:?")
    return ", ".join(parts)


def _refuse(model, node, why: str) -> None:
    raise DqhwError(f"node {node.name or '?'} ({node.op_type}; {_dtypes(model, node)}): {why}")


def _is_const(model, tensor: str) -> bool:
    if model.get_initializer(tensor) is not None:
        return True
    producer = model.find_producer(tensor)
    # a quantizer of a constant (weights) is itself constant
    return producer is not None and producer.op_type in ("Quant", "BipolarQuant", "Trunc") and \
        model.get_initializer(producer.input[0]) is not None


def check_graph(model) -> None:
    from dqhw.transforms.passes import RESIDUAL_MESSAGE

    for node in model.graph.node:
        op = node.op_type
        if op not in SUPPORTED_OPS:
            _refuse(model, node, f"op {op} is not supported by dqhw build (supported: conv/linear layers, "
                                 "BatchNorm, quantized ReLU/identity, max pooling, global average pooling, "
                                 "residual adds, flatten/reshape)")
        if op == "Quant" and not _is_const(model, node.input[0]):
            bits = model.get_initializer(node.input[3])
            b = int(np.asarray(bits).reshape(-1)[0]) if bits is not None else None
            if b is None or b > 8:
                _refuse(model, node, f"activation quantizer of {b if b is not None else 'non-constant'} bits: dqhw "
                                     "builds 1..8-bit activations")
            raw = _attr(node, "rounding_mode", "ROUND")
            mode = (raw.decode() if isinstance(raw, bytes) else str(raw)).upper()
            if mode not in ("ROUND", "HALF_EVEN"):
                _refuse(model, node, f"activation quantizer with rounding_mode {mode}: finn's thresholds implement "
                                     "ROUND (half to even) only; export the activation with ROUND")
        if op == "Sub":
            dynamic = [i for i in node.input if i and not _is_const(model, i)]
            if len(dynamic) >= 2:
                _refuse(model, node, RESIDUAL_MESSAGE)
    _check_last_layer(model)


def _attr(node, name: str, default):
    for a in node.attribute:
        if a.name == name:
            from onnx import helper

            return helper.get_attribute_value(a)
    return default


def _check_last_layer(model) -> None:
    """There is a last weight layer, and its bias (a Gemm's) is a constant. A per-class scale or bias on
    it (per-channel weight scale, Gemm bias, per-class Mul/Add after it) is built: the accelerator then
    outputs the integer logits and the host takes the class (dqhw.transforms.passes.SplitOutputAffine,
    dqhw.contract.host_class)."""
    last = None
    for node in model.graph.node:
        if node.op_type in WEIGHT_OPS:
            last = node
    if last is None:
        raise DqhwError("the graph has no conv/linear layer (Conv, MatMul or Gemm): nothing to build")
    if last.op_type == "Gemm" and len(last.input) > 2 and last.input[2] and not _is_const(model, last.input[2]):
        _refuse(model, last, "the last layer's bias is not a constant")
