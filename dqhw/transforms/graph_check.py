"""The build's check_graph step: refuse, before any of finn's steps, what dqhw cannot build yet, in
one line that names the node, its op, its data types and why. (Without it such graphs fail later
with a downstream symptom: "layer TopK_0 could not be mapped", or an empty AssertionError from finn's
minimize_bit_width.)

Runs on the prepared QONNX graph (dqhw.flow.export.prepare_qonnx): input annotated UINT8, output
`logits`; a refusal names the node as renamed by qonnx's cleanup and as the file names it, and says
how to make the graph buildable (docs/qonnx.md, refusal table). What it refuses, and why:
- ops outside SUPPORTED_OPS (finn would leave them in software or fail);
- activation quantizers wider than 8 bits (dqhw_mvau and the thresholds take 1..8-bit activations,
  unsigned, signed INT2..INT8 and bipolar), or with a rounding_mode other than ROUND (half to even:
  finn's conversion to thresholds ignores the mode, so FLOOR or CEIL would be built as ROUND);
- adds of two computed tensors other than the residual convex combinations dqhw builds (both
  operands quantized activations of one scale, scaled by constants, the sum requantized: checked by
  the `residual` step, dqhw.transforms.residual), and average pooling other than global;
- grouped and depthwise convs (finn maps them to its VVAU, which dqhw has no RTL for);
- a ReLU whose output goes on unquantized (finn leaves it, and what follows it, in float);
- an activation quantizer with one scale per channel feeding a layer (the scales cannot move onto
  integer weights);
- an add of two quantized activations whose scales are no ratio of integers <= 255 (dqhw adds integers
  with integer weights), or whose sum is not requantized;
- bipolar activations into weights that are not bipolar (dqhw_mvau's XNOR mode needs both);
- global average pooling whose integer sum (the pooled values over H*W) exceeds 8 bits;
- zero padding of a conv that reads the graph input through an offset (the padded value is no uint8
  pixel: e.g. 0 under the [-1, 1] convention is pixel 127.5);
- a last layer whose bias is not a constant. (A per-class scale or bias on the last layer is built:
  the accelerator outputs the integer logits and the host takes the class, contract.host_class.)
"""

from __future__ import annotations

import numpy as np

from dqhw.errors import DqhwError

# prepare_qonnx (dqhw.flow.export) keeps each node's name in the file in its doc_string, so a refusal
# names the node the user wrote
FILE_NAME_TAG = "dqhw file node: "


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
    raise DqhwError(f"node {node.name or '?'}{_file_name(node)} ({node.op_type}; {_dtypes(model, node)}): {why}")


def _file_name(node) -> str:
    """The node's name in the user's file, where the cleanup renamed it (prepare_qonnx keeps it in
    doc_string as FILE_NAME_TAG + name)."""
    doc = node.doc_string or ""
    if doc.startswith(FILE_NAME_TAG) and doc[len(FILE_NAME_TAG):] != node.name:
        return f" (in the file: {doc[len(FILE_NAME_TAG):]})"
    return ""


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
                                 "residual adds, flatten/reshape); replace it with one of those, or run it on "
                                 "the host before or after the accelerator (docs/qonnx.md)")
        if op == "Quant" and not _is_const(model, node.input[0]):
            bits = model.get_initializer(node.input[3])
            b = int(np.asarray(bits).reshape(-1)[0]) if bits is not None else None
            if b is None or b > 8:
                _refuse(model, node, f"activation quantizer of {b if b is not None else 'non-constant'} bits: dqhw "
                                     "builds 1..8-bit activations; quantize it to 8 bits or fewer")
            _check_per_channel_scale(model, node)
            raw = _attr(node, "rounding_mode", "ROUND")
            mode = (raw.decode() if isinstance(raw, bytes) else str(raw)).upper()
            if mode not in ("ROUND", "HALF_EVEN"):
                _refuse(model, node, f"activation quantizer with rounding_mode {mode}: finn's thresholds implement "
                                     "ROUND (half to even) only; export the activation with ROUND")
        if op == "Sub":
            dynamic = [i for i in node.input if i and not _is_const(model, i)]
            if len(dynamic) >= 2:
                _refuse(model, node, RESIDUAL_MESSAGE)
        if op == "Conv" and int(_attr(node, "group", 1)) != 1:
            _refuse(model, node, f"grouped/depthwise conv (group={_attr(node, 'group', 1)}): dqhw builds dense convs "
                                 "only (finn's VVAU has no dqhw RTL); use groups=1, e.g. a dense conv in place of "
                                 "the depthwise + pointwise pair")
        if op == "Relu":
            _check_relu_quantized(model, node)
        if op == "Add":
            _check_add_scales(model, node)
        if op == "Conv":
            _check_input_padding(model, node)
        if op in WEIGHT_OPS:
            _check_bipolar_input(model, node)
        if op == "GlobalAveragePool":
            _check_pool_sum_width(model, node)
    _check_last_layer(model)


QUANTIZERS = ("Quant", "BipolarQuant", "MultiThreshold")


def _check_relu_quantized(model, node) -> None:
    """A ReLU is built as (part of) the quantizer that reads it; one whose output goes elsewhere stays
    float in finn (reported later as the next layer that could not be mapped)."""
    consumers = model.find_consumers(node.output[0]) or []
    if node.output[0] in [o.name for o in model.graph.output]:
        consumers = consumers + [None]
    bad = [c for c in consumers if c is None or c.op_type not in QUANTIZERS]
    if bad:
        nxt = "the graph output" if bad[0] is None else f"{bad[0].name} ({bad[0].op_type})"
        _refuse(model, node, f"unquantized ReLU: its output goes to {nxt} as floats; dqhw builds a ReLU only "
                             "as part of an activation quantizer: use a quantized ReLU (Brevitas QuantReLU) or a "
                             "quantizer right after it")


def _quantizer_scale(model, tensor: str):
    """The scale of the activation quantizer that `tensor` comes from, times the constants of the
    Mul/Div nodes between them (a residual branch's weight); None when it comes from anything else."""
    factor = 1.0
    for _ in range(8):
        node = model.find_producer(tensor)
        if node is None:
            return None
        if node.op_type == "Quant":
            s = model.get_initializer(node.input[1])
            return None if s is None else np.asarray(s, dtype=np.float64) * factor
        if node.op_type not in ("Mul", "Div"):
            return None
        consts = [model.get_initializer(i) for i in node.input]
        if sum(c is None for c in consts) != 1 or consts[1] is None or np.size(consts[1]) != 1:
            return None
        c = float(np.asarray(consts[1]).reshape(-1)[0])
        factor = factor * c if node.op_type == "Mul" else factor / c
        tensor = node.input[0]
    return None


def _check_add_scales(model, node) -> None:
    """dqhw's residual add sums the operands' integers with integer weights WA : WB (a ratio of integers
    <= 255: dqhw.customop.residual.lambda_weights): two quantizers whose scales (times the branch
    weights) are no such ratio are refused here, with the way to make the graph buildable."""
    from dqhw.customop.residual import lambda_weights

    dyn = [i for i in node.input if i and not _is_const(model, i)]
    if len(dyn) != 2:
        return
    _check_sum_requantized(model, node)
    a, b = (_quantizer_scale(model, t) for t in dyn)
    if a is None or b is None:
        return  # not two quantizers: the residual step judges it
    if a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=0):
        return
    if a.size == 1 and b.size == 1:
        try:
            lambda_weights(float(a.reshape(-1)[0]), float(b.reshape(-1)[0]))
            return
        except DqhwError:
            pass
    fmt = (lambda s: f"{float(s.reshape(-1)[0]):.6g}" if s.size == 1 else f"per-channel ({s.size})")  # noqa: E731
    _refuse(model, node, f"residual add of two activations quantized with different scales ({fmt(a)} and "
                         f"{fmt(b)}, no ratio of integers <= 255): dqhw adds integers on one scale; quantize both "
                         "operands with one shared quantizer (Brevitas: the same QuantIdentity/QuantReLU "
                         "instance for both branches) and requantize the sum")


PASS_THROUGH = ("Flatten", "Reshape", "Transpose", "MaxPool", "Pad", "Identity", "Squeeze", "Unsqueeze")


def _is_bipolar_quant(model, node) -> bool:
    """BipolarQuant, or a 1-bit signed Quant (qonnx reads it as bipolar)."""
    if node is None:
        return False
    if node.op_type == "BipolarQuant":
        return True
    if node.op_type != "Quant" or not int(_attr(node, "signed", 1)):
        return False
    bits = model.get_initializer(node.input[3])
    return bits is not None and float(np.asarray(bits).reshape(-1)[0]) == 1.0


def _check_bipolar_input(model, node) -> None:
    """Bipolar activations are built only into bipolar weights (XNOR-popcount, W1A1): dqhw_mvau has no
    mode for {-1, +1} inputs times multi-bit weights (W2A1)."""
    tensor = node.input[0]
    prod = model.find_producer(tensor)
    while prod is not None and prod.op_type in PASS_THROUGH:
        prod = model.find_producer(prod.input[0])
    if not _is_bipolar_quant(model, prod) or _is_const(model, prod.input[0]):
        return
    wprod = model.find_producer(node.input[1])
    if _is_bipolar_quant(model, wprod):
        return
    _refuse(model, node, f"bipolar activations from {prod.name} ({prod.op_type}) into weights that are not "
                         "bipolar: dqhw builds bipolar inputs only as XNOR-popcount with bipolar (1-bit) weights; "
                         "quantize this layer's weights to 1 bit (bipolar) or its input activation to 2+ bits")


def _check_sum_requantized(model, node) -> None:
    """dqhw carries a residual sum only into an activation quantizer (directly or after a ReLU)."""
    consumers = model.find_consumers(node.output[0]) or []
    ok = bool(consumers) and all(
        c.op_type in QUANTIZERS or (c.op_type == "Relu" and all(
            d.op_type in QUANTIZERS for d in (model.find_consumers(c.output[0]) or [None]) if d is not None)
            and model.find_consumers(c.output[0]))
        for c in consumers)
    if not ok:
        _refuse(model, node, "residual add whose sum is not requantized: dqhw carries the sum of two activations "
                             "only into an activation quantizer; put one on the sum (Brevitas QuantReLU or "
                             "QuantIdentity)")


def _check_per_channel_scale(model, node) -> None:
    """An activation quantizer with one scale per channel whose values reach a conv/linear layer: the
    scales cannot move past the layer onto integer weights (finn leaves the layer in float)."""
    scale = model.get_initializer(node.input[1])
    if scale is None or np.size(scale) <= 1:
        return  # (equal values in a per-channel shape too: finn's streamlining moves only scalar scales)
    todo = list(model.find_consumers(node.output[0]) or [])
    while todo:
        c = todo.pop()
        if c.op_type in WEIGHT_OPS:
            _refuse(model, node, f"activation quantizer with one scale per channel ({np.size(scale)} scales) feeding "
                                 f"{c.name} ({c.op_type}): the scales cannot move onto that layer's integer weights; "
                                 "use a per-tensor scale for this quantizer (Brevitas' default "
                                 "scaling_per_output_channel=False)")
        if c.op_type in PASS_THROUGH:
            todo += list(model.find_consumers(c.output[0]) or [])


def _check_pool_sum_width(model, node) -> None:
    """GlobalAveragePool is built as the sum of its input (1/(H*W) moved into the output scale), and the
    sum enters the next dqhw_mvau, which takes up to 8 bits: an unsigned b-bit input over H*W pixels
    must stay below 256."""
    prod = model.find_producer(node.input[0])
    while prod is not None and prod.op_type in PASS_THROUGH + ("Relu",):
        prod = model.find_producer(prod.input[0])
    shape = model.get_tensor_shape(node.input[0])
    if prod is None or prod.op_type != "Quant" or int(_attr(prod, "signed", 1)) or shape is None or len(shape) != 4:
        return
    bits = model.get_initializer(prod.input[3])
    if bits is None:
        return
    top = (2 ** int(np.asarray(bits).reshape(-1)[0]) - 1) * int(shape[2]) * int(shape[3])
    if top > 255:
        _refuse(model, node, f"global average pooling of {shape[2]}x{shape[3]} unsigned "
                             f"{int(np.asarray(bits).reshape(-1)[0])}-bit values: dqhw builds it as their sum "
                             f"(up to {top}), which the next layer takes as at most 8 bits; quantize the pooled "
                             "activation to fewer bits or pool a smaller map (e.g. a max pooling first)")


def _check_input_padding(model, node) -> None:
    """Zero padding of a conv that reads the graph input through constant Mul/Add/Sub/Div: with a
    non-zero offset on that path the pad value is no uint8 pixel, and finn cannot stream it."""
    pads = _attr(node, "pads", None)
    if not pads or not any(int(p) for p in pads):
        return
    tensor, offset = node.input[0], False
    inputs = {i.name for i in model.graph.input}
    while tensor not in inputs:
        prod = model.find_producer(tensor)
        if prod is None or prod.op_type not in ("Mul", "Div", "Add", "Sub"):
            return  # a quantizer or a layer in between: padding its integers is built
        dyn = [i for i in prod.input if model.get_initializer(i) is None]
        if len(dyn) != 1:
            return
        if prod.op_type in ("Add", "Sub"):
            c = [model.get_initializer(i) for i in prod.input if model.get_initializer(i) is not None][0]
            offset = offset or bool(np.any(np.asarray(c) != 0))
        tensor = dyn[0]
    if offset:
        _refuse(model, node, "zero padding of the graph input under an input offset (--input-offset, or an "
                             "Add in the graph): the padded 0 is no uint8 pixel; put an input quantizer "
                             "(Brevitas QuantIdentity, signed 8 bits for [-1, 1] inputs) in front of this conv, "
                             "or pad in the model with a value a pixel has")


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
        raise DqhwError("the graph has no conv/linear layer (Conv, MatMul or Gemm): nothing to build; dqhw builds "
                        "networks of quantized conv/linear layers")
    if last.op_type == "Gemm" and len(last.input) > 2 and last.input[2] and not _is_const(model, last.input[2]):
        _refuse(model, last, "the last layer's bias is not a constant; export the bias as a constant "
                             "(a float or quantized bias of the layer)")
