"""Residual graphs (the WRN family): the build step `residual`, after finn's streamlining.

finn's step_streamline leaves a residual network's forks and adds in float: the trunk's scale Mul
sits in front of the fork (so the conv behind it gets a float input), and each convex-combination add
is `Add(Mul(Transpose(a), alpha), Mul(Transpose(b), beta))` on the NCHW side of two integer NHWC
activations, followed by its requantizing MultiThreshold. This step makes the graph integer again:

1. finn's MoveLinearPastFork and MoveTransposePastFork, then finn's streamlining once more: the scale
   Muls move into each branch and are absorbed there (into thresholds, or into alpha / beta).
2. Global average pooling: finn's InferGlobalAccPoolLayer (GlobalAccPool: the per-channel sum, plus a
   scalar Mul(1 / pixels)), then streamlining once more, which moves that Mul past the classifier into
   the output scale (split off the integer logits by SplitOutputAffine).
3. ConvexAddToInteger: each add becomes `DqhwAddStreams(a, b)` on the NHWC integer tensors with
   integer weights WA : WB = alpha : beta (dqhw.customop.residual.lambda_weights), so alpha * a +
   beta * b = g * (WA * a + WB * b) with one common scale g; the requantizing MultiThreshold gets the
   thresholds T / g on the integer sum (exact: for dqhw's wrn the thresholds lie at half-odd multiples
   of D = 15 there, never on an integer; see docs/integer-contract.md "Residual add").
   After it, the NHWC -> NCHW transpose behind each new requantizer is moved past the fork and
   cancelled against its consumers' NCHW -> NHWC transposes (finn's MoveTransposePastFork,
   AbsorbConsecutiveTransposes).
A graph without an add of two computed tensors and without global average pooling is returned as it is.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

from dqhw.errors import DqhwError

NCHW_TO_NHWC = [0, 2, 3, 1]
NHWC_TO_NCHW = [0, 3, 1, 2]


def _perm(node) -> list[int] | None:
    for a in node.attribute:
        if a.name == "perm":
            return list(a.ints)
    return None


def _dynamic_add(model, node) -> bool:
    return node.op_type == "Add" and sum(model.get_initializer(i) is None for i in node.input) == 2


def is_residual(model) -> bool:
    """The graph has an add of two computed tensors or a global average pooling."""
    return any(_dynamic_add(model, n) or n.op_type == "GlobalAveragePool" for n in model.graph.node)


def _scalar(model, tensor) -> float | None:
    c = model.get_initializer(tensor)
    if c is None or np.size(c) != 1:
        return None
    return float(np.asarray(c).reshape(-1)[0])


def _operands(model, add, where: str) -> list:
    """(Mul, Transpose, integer NHWC source, scale) of each operand of a residual add."""
    operands = []
    for tensor in add.input:
        mul = model.find_producer(tensor)
        if mul is None or mul.op_type != "Mul":
            raise DqhwError(f"{where}: an operand is not scaled by a constant (Mul) after streamlining; "
                            "dqhw builds convex combinations lam * a + (1 - lam) * b of quantized activations")
        k = 1 if model.get_initializer(mul.input[1]) is not None else 0
        c = _scalar(model, mul.input[k])
        if c is None:
            raise DqhwError(f"{where}: operand scale of {mul.name} is not one constant")
        tr = model.find_producer(mul.input[1 - k])
        if tr is None or tr.op_type != "Transpose" or _perm(tr) != NHWC_TO_NCHW:
            raise DqhwError(f"{where}: an operand does not come from an NHWC activation (layout not supported)")
        src = tr.input[0]
        dt = model.get_tensor_datatype(src)
        if not dt.is_integer():
            raise DqhwError(f"{where}: operand {src} is {dt.name}, not an integer activation: quantize both "
                            "branches of the add with the same activation quantizer")
        operands.append((mul, tr, src, c))
    return operands


class ConvexAddToInteger(Transformation):
    """Add(Mul(Transpose(a), alpha), Mul(Transpose(b), beta)) -> MultiThreshold(T)  ==>
    DqhwAddStreams(a, b; WA, WB) -> MultiThreshold(T / g, NHWC) -> Transpose (see the module docstring)."""

    def apply(self, model: ModelWrapper):
        from dqhw.customop.residual import TIE_TOLERANCE, integer_sum_mismatches, lambda_weights

        graph = model.graph
        for add in list(graph.node):
            if not _dynamic_add(model, add):
                continue
            where = f"residual add {add.name}"
            operands = _operands(model, add, where)
            consumers = model.find_consumers(add.output[0]) or []
            if len(consumers) != 1 or consumers[0].op_type != "MultiThreshold":
                raise DqhwError(f"{where}: the sum must be requantized by one activation quantizer (MultiThreshold "
                                "after streamlining); dqhw does not carry an unquantized sum")
            mt = consumers[0]
            (_, _, a, alpha), (_, _, b, beta) = operands
            wa, wb, g = lambda_weights(alpha, beta)
            shape_a, shape_b = model.get_tensor_shape(a), model.get_tensor_shape(b)
            if shape_a != shape_b or len(shape_a) != 4:
                raise DqhwError(f"{where}: operands of shapes {shape_a} and {shape_b}; dqhw adds equal NHWC shapes")
            n, h, w, ch = (int(v) for v in shape_a)
            z = model.make_new_valueinfo_name()
            add_node = helper.make_node(
                "DqhwAddStreams", [a, b], [z], domain="dqhw.customop", backend="fpgadataflow",
                name=f"DqhwAddStreams_{add.name}", NumChannels=ch, PE=1, numInputVectors=[n, h, w],
                inputDataType=model.get_tensor_datatype(a).name, inputDataType1=model.get_tensor_datatype(b).name,
                WA=wa, WB=wb)
            thr = np.asarray(model.get_initializer(mt.input[1]), dtype=np.float64) / g
            near = np.rint(thr)
            # the sum is an integer: z >= T  <=>  z >= ceil(T); a threshold within float noise of an
            # integer is that integer
            thr = np.where(np.abs(thr - near) < TIE_TOLERANCE * np.maximum(1.0, np.abs(thr)), near, np.ceil(thr))
            t_sum = np.asarray(model.get_initializer(mt.input[1]), dtype=np.float64)
            wrong = integer_sum_mismatches(wa, wb, g, beta, model.get_tensor_datatype(a),
                                           model.get_tensor_datatype(b), t_sum, thr)
            if wrong:
                raise DqhwError(f"{where}: weights {alpha:.8g} : {beta:.8g} are only near {wa} : {wb}; {wrong} "
                                "thresholds of the sum would decide some inputs differently from the file; quantize "
                                "both branches with one shared quantizer (or dqhw's wrn, lam = m / 15)")
            t_name = model.make_new_valueinfo_name()
            model.set_initializer(t_name, thr.astype(np.float32))
            y = model.make_new_valueinfo_name()
            attrs = {a.name: helper.get_attribute_value(a) for a in mt.attribute}
            attrs["data_layout"] = "NHWC"
            for k in ("out_dtype", "data_layout"):
                if isinstance(attrs.get(k), bytes):
                    attrs[k] = attrs[k].decode()
            mt_new = helper.make_node("MultiThreshold", [z, t_name], [y], domain=mt.domain, name=mt.name + "_nhwc",
                                      **attrs)
            back = helper.make_node("Transpose", [y], [mt.output[0]], perm=NHWC_TO_NCHW, name=mt.name + "_to_nchw")
            idx = list(graph.node).index(add)
            for node in (back, mt_new, add_node):
                graph.node.insert(idx, node)
            graph.node.remove(add)
            graph.node.remove(mt)
            for mul, tr, _, _ in operands:
                graph.node.remove(mul)
                if not model.find_consumers(tr.output[0]):
                    graph.node.remove(tr)
            model.set_tensor_shape(z, [n, h, w, ch])
            model.set_tensor_shape(y, [n, h, w, ch])
            from dqhw.customop.residual import add_range, smallest_type

            model.set_tensor_datatype(z, smallest_type(*add_range(wa, wb, model.get_tensor_datatype(a),
                                                                   model.get_tensor_datatype(b))))
            model.set_tensor_datatype(y, model.get_tensor_datatype(mt.output[0]))
            return model, True  # one add per pass (qonnx applies the pass until nothing changes)
        return model, False


def streamline_residual(model, cfg, log_path):
    """Step `residual` (see the module docstring)."""
    if not is_residual(model):
        return model
    from finn.transformation.fpgadataflow.convert_to_hw.global_acc_pool import InferGlobalAccPoolLayer
    from finn.transformation.streamline.absorb import AbsorbConsecutiveTransposes
    from finn.transformation.streamline.reorder import MoveLinearPastFork, MoveTransposePastFork
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    from dqhw import finn_compat

    steps = finn_compat.steps()
    with finn_compat.quiet(log_path):
        model = model.transform(MoveLinearPastFork())
        model = model.transform(MoveTransposePastFork())
        model = steps.step_streamline(model, cfg)
        if any(n.op_type == "GlobalAveragePool" for n in model.graph.node):
            model = model.transform(InferGlobalAccPoolLayer())
            model = steps.step_streamline(model, cfg)
        model = model.transform(ConvexAddToInteger())
        # the NHWC -> NCHW transpose behind each requantizer meets the NCHW -> NHWC ones of its consumers
        model = model.transform(MoveTransposePastFork())
        model = model.transform(AbsorbConsecutiveTransposes())
        model = model.transform(InferShapes()).transform(InferDataTypes()).transform(GiveUniqueNodeNames())
    left = [n for n in model.graph.node if n.op_type == "GlobalAveragePool"]
    if left:
        raise DqhwError(f"node {left[0].name} (GlobalAveragePool): its input is not an integer activation after "
                        "streamlining; dqhw builds global average pooling of quantized activations")
    return model


def check_integer_adds(model) -> None:
    """After the step: no float Add of two computed tensors is left."""
    for n in model.graph.node:
        if _dynamic_add(model, n):
            raise DqhwError(f"residual add {n.name} is left in float after streamlining")


