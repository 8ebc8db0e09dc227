"""The fast golden model: a batched numpy integer executor of a folded dataflow graph.

Runs whatever the graph holds - dqhw's nodes (DqhwMVAU, DqhwMaxPool, DqhwLabelSelect), finn's
generic or specialized MVAU / Pool(MaxPool) / LabelSelect / ConvolutionInputGenerator / FMPadding /
Thresholding / StreamingDataWidthConverter / StreamingFIFO - on a whole batch of uint8 NHWC frames at
once, with dqhw.contract's arithmetic (matvec, multithreshold, label_select). It is bit-for-bit equal
to finn's execute_onnx on the same graph (checked by every `dqhw build`) and much faster.

Every tensor is kept in finn's normal NHWC layout (frames first): a conv MVAU's output is
(N, OH, OW, MH), a sliding-window output (N, OH, OW, KH*KW*C) with the window position outer and
channels inner, a FC output (N, MH).

    g = GoldenModel.from_build("builds/a2")
    r = g.run(images_uint8_nhwc, keep_intermediates=True)
    r.labels (N,), r.logits (N, classes) int64 accumulators, r.tensors {tensor name: array},
    r.layers {node name: its output array}

Matrix products: integer inputs and weights with |acc| bounded by sum|w| * max|x| are multiplied by
BLAS in float32 (bound < 2^24) or float64 (bound < 2^53), where every partial sum is an exactly
representable integer, so the result equals the int64 product; beyond 2^53 it falls back to
contract.matvec in int64.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dqhw import contract
from dqhw.errors import DqhwError

DATAFLOW = "dataflow.onnx"
BUILD_JSON = "build.json"


@dataclass
class GoldenResult:
    labels: np.ndarray  # (N,) int64
    logits: np.ndarray  # (N, classes) int64: the last layer's integer accumulators
    tensors: dict[str, np.ndarray] = field(default_factory=dict)  # tensor name -> (N, ...) NHWC
    layers: dict[str, np.ndarray] = field(default_factory=dict)  # node name -> its output


def _int_dtype(dt) -> np.dtype:
    """Smallest numpy integer dtype holding a qonnx DataType."""
    lo, hi = int(dt.min()), int(dt.max())
    for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32):
        info = np.iinfo(t)
        if info.min <= lo and hi <= info.max:
            return np.dtype(t)
    return np.dtype(np.int64)


def exact_matmul(x: np.ndarray, w: np.ndarray, in_max_abs: int, as_float: bool = False) -> np.ndarray:
    """x (..., MW) integers with |x| <= in_max_abs, w (MW, MH) integers -> exact x @ w, as int64 (or,
    with as_float, as the float32/float64 array BLAS computed, every element an exact integer)."""
    bound = int(np.abs(w).sum(axis=0).max(initial=0)) * int(in_max_abs)
    for limit, ftype in ((1 << 24, np.float32), (1 << 53, np.float64)):
        if bound < limit:
            acc = x.astype(ftype) @ w.astype(ftype)
            return acc if as_float else acc.astype(np.int64)
    return contract.matvec(w.T, x)


def im2col(x: np.ndarray, kernel, stride, dilation) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, KH*KW*C), window position outer, channel inner (finn's Im2Col)."""
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    n, h, w, c = x.shape
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    s = x.strides
    win = np.lib.stride_tricks.as_strided(
        x, shape=(n, oh, ow, kh, kw, c), strides=(s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]),
        writeable=False)
    return win.reshape(n, oh, ow, kh * kw * c)


PASS_THROUGH = ("StreamingFIFO", "StreamingDataWidthConverter")


def has_label_select(model) -> bool:
    return any(n.op_type.startswith(("DqhwLabelSelect", "LabelSelect")) for n in model.graph.node)


def logits_producer(model):
    """The node whose output holds the logits: the producer of the LabelSelect's input (a graph
    without LabelSelect, whose class the host takes: of the graph output), looking through FIFOs and
    width converters (the last MVAU)."""
    tensor = next((n.input[0] for n in model.graph.node if n.op_type.startswith(("DqhwLabelSelect", "LabelSelect"))),
                  None)
    label_select = tensor is not None
    if not label_select:
        tensor = model.graph.output[0].name
    prod = model.find_producer(tensor)
    while prod is not None and prod.op_type.startswith(PASS_THROUGH):
        prod = model.find_producer(prod.input[0])
    if not label_select and (prod is None or not prod.op_type.startswith(("DqhwMVAU", "MVAU"))):
        return None
    return prod


def _needs_all_inputs(name: str, n: int):
    def fn(x):
        raise DqhwError(f"golden: {name} takes {n} input streams; run the graph with GoldenModel.run")
    return fn


def _stream_order(model) -> list:
    """The graph's nodes, each after the producers of its inputs (graph order where it already is)."""
    nodes = list(model.graph.node)
    ready = {model.graph.input[0].name} | {t.name for t in model.graph.initializer}
    order, left = [], nodes
    while left:
        rest = []
        for n in left:
            if all(not i or i in ready for i in n.input):
                order.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(left):
            raise DqhwError(f"golden: the graph has a cycle or an unconnected input at {rest[0].name}")
        left = rest
    return order


class GoldenModel:
    """Batched integer executor of a dataflow graph (ModelWrapper or path). A graph without
    LabelSelect ends in the integer logits and the host takes the class: labels are then
    contract.host_class of the logits with `class_affine` (scale, bias per class; None: plain argmax,
    ties to the lowest index)."""

    def __init__(self, model, logits_tensor: str | None = None, class_affine=None):
        from dqhw import finn_compat

        finn_compat.prepare()
        from qonnx.core.modelwrapper import ModelWrapper

        import dqhw.customop  # registers the dqhw domain

        if not isinstance(model, ModelWrapper):
            model = dqhw.customop.load_dataflow(model)
        self.model = model
        g = model.graph
        if len(g.input) != 1 or len(g.output) != 1:
            raise DqhwError("the golden model expects a dataflow graph with one input and one output")
        self.input_name = g.input[0].name
        self.output_name = g.output[0].name
        self.input_shape = tuple(int(d) for d in model.get_tensor_shape(self.input_name)[1:])
        # graph_steps: (node name, its stream inputs, its outputs, fn: list of input arrays -> list of
        # output arrays), in an order where every input is computed first (residual graphs: forks, adds);
        # steps: the same nodes as (name, first input, first output, fn: array -> array), the form a
        # chain is stepped through by hand (a fork's fn returns its input; an add's needs both inputs)
        self.graph_steps: list[tuple[str, tuple[str, ...], tuple[str, ...], Callable]] = []
        self.steps: list[tuple[str, str, str, Callable[[np.ndarray], np.ndarray]]] = []
        for node in _stream_order(model):
            inputs = tuple(i for i in node.input if i and model.get_initializer(i) is None)
            shapes = [tuple(int(d) for d in model.get_tensor_shape(o)[1:]) for o in node.output]
            fn = self._compile(node)
            if node.op_type.startswith(("DqhwDuplicateStreams", "DuplicateStreams")):
                self.graph_steps.append((node.name, inputs, tuple(node.output),
                                         lambda xs, shapes=shapes: [xs[0].reshape(len(xs[0]), *s) for s in shapes]))
                single = self._shaped(lambda x: x, shapes[0])
            elif len(inputs) == 1:
                single = self._shaped(fn, shapes[0])
                self.graph_steps.append((node.name, inputs, (node.output[0],), lambda xs, f=single: [f(xs[0])]))
            else:
                self.graph_steps.append((node.name, inputs, (node.output[0],),
                                         lambda xs, f=fn, s=shapes[0]: [f(*xs).reshape(len(xs[0]), *s)]))
                single = _needs_all_inputs(node.name, len(inputs))
            self.steps.append((node.name, node.input[0], node.output[0], single))
        self.has_label_select = has_label_select(model)
        self.logits_tensor = logits_tensor or self._find_logits()
        if not self.has_label_select and self.logits_tensor is None:
            self.logits_tensor = self.output_name
        self.class_affine = None if class_affine is None else (
            np.asarray(class_affine[0], dtype=np.float64), np.asarray(class_affine[1], dtype=np.float64))

    def class_of(self, logits: np.ndarray) -> np.ndarray:
        """The class of integer logits (N, C) as the host takes it (graphs without LabelSelect)."""
        scale, bias = self.class_affine if self.class_affine is not None else (1.0, 0.0)
        logits = np.asarray(logits)
        if len(logits) == 0:
            return np.zeros(0, dtype=np.int64)
        return contract.host_class(logits.reshape(len(logits), -1), scale, bias)

    @classmethod
    def from_build(cls, build_dir: str | Path) -> GoldenModel:
        build_dir = Path(build_dir)
        path = build_dir / DATAFLOW
        if not path.is_file():
            raise DqhwError(f"{build_dir}: no {DATAFLOW} (run dqhw build first)")
        logits = affine = None
        if (build_dir / BUILD_JSON).is_file():
            try:
                out = json.loads((build_dir / BUILD_JSON).read_text())["outputs"]
                logits = out.get("logits_tensor")
                if out.get("class_on") == "host":
                    affine = (out["logits_scale"], out["logits_bias"])
            except (ValueError, KeyError, TypeError, AttributeError):
                logits = affine = None
        return cls(path, logits, affine)

    def _find_logits(self) -> str | None:
        node = logits_producer(self.model)
        return None if node is None else node.output[0]

    # ----------------------------------------------------------------------------------------------
    def _compile(self, node) -> Callable[[np.ndarray], np.ndarray]:
        from qonnx.custom_op.registry import getCustomOp

        m = self.model
        op = node.op_type
        base = op[:-4] if op.endswith(("_rtl", "_hls")) else op
        inst = getCustomOp(node)
        out_dt = _int_dtype(m.get_tensor_datatype(node.output[0]))
        a = inst.get_nodeattr

        if base in ("DqhwMVAU", "MVAU"):
            w = np.rint(m.get_initializer(node.input[1])).astype(np.int64)
            idt = m.get_tensor_datatype(node.input[0])
            mw, mh = int(a("MW")), int(a("MH"))
            # XNOR-popcount (finn's binaryXnorMode: bits {0, 1} on both sides), or BIPOLAR x BIPOLAR
            # without it (finn executes that as the popcount of the bits (v + 1) / 2 as well)
            xnor = bool(a("binaryXnorMode"))
            bipolar_pair = (not xnor and a("inputDataType") == "BIPOLAR" and a("weightDataType") == "BIPOLAR")
            if xnor:
                w = 2 * w - 1  # bits -> bipolar
            in_max = 1 if (xnor or bipolar_pair) else max(abs(int(idt.min())), abs(int(idt.max())))
            noact = bool(a("noActivation"))
            thr = None if noact else np.asarray(m.get_initializer(node.input[2]))
            if thr is not None:
                # integer accumulators: acc >= T  <=>  acc >= ceil(T)
                thr = np.broadcast_to(np.ceil(thr).astype(np.int64), (mh, thr.shape[-1]))
            bipolar_out = a("outputDataType") == "BIPOLAR"
            act_val = int(a("ActVal"))

            def mvau(x, w=w, in_max=in_max, mw=mw, thr=thr, xnor=xnor, bipolar_pair=bipolar_pair):
                x = x.reshape(-1, mw)
                if xnor:
                    x = 2 * x.astype(np.int8) - 1  # bits -> bipolar
                if xnor or bipolar_pair:
                    # popcount = (bipolar dot product + MW) / 2: exact integers, in int64
                    acc = contract.popcount_from_bipolar_dot(exact_matmul(x, w, 1), mw)
                    if thr is None:
                        return acc
                    cnt = contract.multithreshold(acc, thr)
                    return contract.activation_output(cnt, act_val, bipolar_out)
                if thr is None:
                    return exact_matmul(x, w, in_max)
                acc = exact_matmul(x, w, in_max, as_float=True)
                if acc.dtype.kind == "f":
                    # exact integers in float; thresholds are integers within the accumulator range
                    # (clipped), so comparing in the same float type is exact and twice as fast
                    lim = 1 << (24 if acc.dtype == np.float32 else 53)  # |acc| < lim
                    cnt = contract.multithreshold(acc, np.clip(thr, -lim, lim).astype(acc.dtype))
                else:
                    cnt = contract.multithreshold(acc, thr)
                return contract.activation_output(cnt, act_val, bipolar_out)  # (vectors, MH); _shaped reshapes

            return self._typed(mvau, out_dt)
        if base in ("DqhwMaxPool", "Pool"):
            if a("Function") != "MaxPool":
                raise DqhwError(f"golden: {node.name}: pooling function {a('Function')} is not supported")
            k = int(np.prod(a("KernelSize")))
            ch = int(a("Channels"))
            return self._typed(lambda x: x.reshape(*x.shape[:-1], k, ch).max(axis=-2), out_dt)
        if base in ("DqhwLabelSelect", "LabelSelect"):
            labels, k = int(a("Labels")), int(a("K"))
            return lambda x: contract.label_select(x.reshape(-1, labels), k).astype(np.int64)
        if base == "ConvolutionInputGenerator":
            kernel, stride, dil = a("ConvKernelDim"), a("Stride"), a("Dilation")
            return lambda x: im2col(x, kernel, stride, dil)
        if base == "FMPadding":
            p = a("Padding")
            return lambda x: np.pad(x, ((0, 0), (p[0], p[2]), (p[1], p[3]), (0, 0)))
        if base == "Thresholding":
            thr = np.asarray(m.get_initializer(node.input[1]))
            ch = int(a("NumChannels"))
            thr = np.broadcast_to(np.ceil(thr).astype(np.int64), (ch, thr.shape[-1]))  # integer inputs
            act_val = int(a("ActVal"))
            bipolar_out = a("outputDataType") == "BIPOLAR"

            def thresholding(x, thr=thr):
                return contract.activation_output(contract.multithreshold(x, thr), act_val, bipolar_out)

            return self._typed(thresholding, out_dt)
        if base in ("DqhwAddStreams",):
            wa, wb = int(a("WA")), int(a("WB"))
            return self._typed(lambda x, y: wa * x.astype(np.int64) + wb * y.astype(np.int64), out_dt)
        if base in ("DqhwGlobalAccPool", "GlobalAccPool"):
            ch = int(a("NumChannels"))
            return self._typed(lambda x: x.reshape(len(x), -1, ch).astype(np.int64).sum(axis=1), out_dt)
        if base in ("DqhwDuplicateStreams", "DuplicateStreams"):
            return lambda x: x  # (the step copies it to every output)
        if base in ("StreamingDataWidthConverter", "StreamingFIFO", "Reshape"):
            return lambda x: x  # element order unchanged (Reshape: _shaped gives the new shape)
        raise DqhwError(f"golden: node type {op} ({node.name}) is not supported")

    @staticmethod
    def _shaped(fn, shape):
        """Outputs in the graph's normal shape (frames first), as execute_onnx gives them."""
        return lambda x: fn(x).reshape(len(x), *shape)

    @staticmethod
    def _typed(fn, dtype):
        return lambda *x: fn(*x).astype(dtype, copy=False)

    # ----------------------------------------------------------------------------------------------
    def run(self, images: np.ndarray, keep_intermediates: bool = False, batch_size: int = 128) -> GoldenResult:
        """Run uint8 NHWC frames (N, H, W, C) through the graph."""
        x = np.asarray(images)
        if x.ndim == len(self.input_shape):
            x = x[None]
        from dqhw.frames import as_stream_shape

        if x.ndim < 2 or as_stream_shape(x, self.input_shape) is None:
            raise DqhwError(f"golden: frames of shape {tuple(x.shape[1:])}, the graph takes {self.input_shape}")
        x = as_stream_shape(x, self.input_shape)
        if x.dtype != np.uint8:
            if x.min(initial=0) < 0 or x.max(initial=0) > 255 or not np.array_equal(x, np.rint(x)):
                raise DqhwError("golden: frames must hold uint8 pixel values 0..255")
            x = x.astype(np.uint8)
        parts: list[dict[str, np.ndarray]] = []
        for start in range(0, max(len(x), 1), batch_size):
            parts.append(self._run_batch(x[start:start + batch_size], keep_intermediates))
        if len(parts) == 1:
            tensors = parts[0]
        else:
            tensors = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        logits = (tensors[self.logits_tensor].reshape(len(x), -1).astype(np.int64)
                  if self.logits_tensor in tensors else np.zeros((len(x), 0), np.int64))
        if self.has_label_select:
            labels = tensors[self.output_name].reshape(len(x), -1)[:, 0].astype(np.int64)
        else:
            labels = self.class_of(logits)
        if not keep_intermediates:
            tensors = {}
            layers = {}
        else:
            layers = {name: tensors[outs[0]] for name, _, outs, _ in self.graph_steps}
        return GoldenResult(labels, logits, tensors, layers)

    def _run_batch(self, x: np.ndarray, keep: bool) -> dict[str, np.ndarray]:
        ctx: dict[str, np.ndarray] = {self.input_name: x}
        keep_always = {self.output_name, self.logits_tensor}
        consumers: dict[str, int] = {}
        for _, inputs, _, _ in self.graph_steps:
            for inp in inputs:
                consumers[inp] = consumers.get(inp, 0) + 1
        for _, inputs, outputs, fn in self.graph_steps:
            for out, value in zip(outputs, fn([ctx[i] for i in inputs])):
                ctx[out] = value
            if not keep:
                for inp in inputs:
                    consumers[inp] -= 1
                    if consumers[inp] == 0 and inp not in keep_always:
                        del ctx[inp]
        return ctx
