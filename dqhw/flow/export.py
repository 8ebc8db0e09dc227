"""The graph a build starts from: Brevitas' QONNX export of a dqhw run, and the preparation every
source (run or file) goes through before finn's steps.

`prepare_qonnx` (step load_graph): qonnx `cleanup_model`, the 1-bit activation fix (FixUnsignedBinaryActQuant), the
input convention (`pixel * input_scale + input_offset` as Mul/Add in front of the graph; the new
input is annotated UINT8: raw pixels NCHW, what the FPGA receives) and the output renamed `logits`.
The argmax (TopK -> finn's LabelSelect) is appended after streamlining, once the output affine has
been split off (dqhw.transforms.passes.SplitOutputAffine): float logits = integer logits * scale + bias.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np

from dqhw import finn_compat
from dqhw.errors import DqhwError
from dqhw.runs import Run

LOGITS = "logits"
LABEL = "label"


def check_run(run: Run) -> None:
    """One-line errors for runs dqhw build cannot turn into hardware."""
    cfg = run.config
    spec = cfg.quant_spec()
    if spec.act_bits is None or spec.weight_bits is None:
        which = "--bits fp" if spec.act_bits is None else "--wbits fp"
        raise DqhwError(f"{run.path}: a float run ({which}) cannot be built; train with integer --bits and --wbits")
    if cfg.model.startswith("wrn") and spec.act_range != "fixed":
        raise DqhwError(f"{run.path}: a wrn run with --act-range {spec.act_range} cannot be built: the residual add "
                        "needs both operands on one activation scale (train with the fixed range)")


def final_scale(run: Run) -> float:
    """float logits = integer accumulators of the last layer * this scale (act scale * weight scale)."""
    from dqhw.quant import weight_layers

    spec = run.config.quant_spec()
    last = weight_layers(run.model)[-1][1]
    w_scale = float(last.quant_weight().scale.detach().reshape(-1)[0])
    return w_scale * spec.act_max / ((1 << spec.act_bits) - 1)


def export_run(run: Run, work_dir: str | Path | None = None):
    """Brevitas export_qonnx of the run's model; returns rewrite_graph of it: (the export as written and
    as rewritten, both shapes annotated, the rewrite note or None, the rewritten nodes)."""
    import torch

    finn_compat.prepare()
    check_run(run)
    h, w, c = run.in_shape
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp, finn_compat.quiet():
        import logging

        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        logging.getLogger("torch._dynamo").setLevel(logging.ERROR)
        from brevitas.export import export_qonnx
        from qonnx.core.modelwrapper import ModelWrapper

        path = Path(tmp) / "export.onnx"
        model = copy.deepcopy(run.model).eval()
        # torch's TorchScript exporter (dynamo=False) is ~5x faster here than the dynamo exporter
        # (torch.export); the latter is the fallback
        errors = []
        for dynamo in (False, True):
            try:
                with torch.no_grad():
                    export_qonnx(model, input_t=torch.zeros(1, c, h, w), export_path=str(path), dynamo=dynamo)
                break
            except Exception as e:  # noqa: BLE001  (the exporters fail in many ways on odd layers)
                errors.append(f"{type(e).__name__}: {' '.join(str(e).split())[:100]}")
        else:
            raise DqhwError(f"{run.path}: Brevitas QONNX export failed ({errors[-1]})")
        m = ModelWrapper(str(path))  # loads external data while the folder exists
        return rewrite_graph(ModelWrapper(copy.deepcopy(m.model)))


def annotate(raw):
    """Shapes annotated and nothing else (initializers that older exporters also list as graph inputs
    are constants, not inputs): the graph as qonnx executes the file."""
    from qonnx.transformation.general import RemoveStaticGraphInputs
    from qonnx.transformation.infer_shapes import InferShapes

    with finn_compat.quiet():
        return raw.transform(RemoveStaticGraphInputs()).transform(InferShapes())


def meaning_rewrites(raw) -> list[str]:
    """The nodes dqhw would rewrite in a way that changes what the graph computes: a BipolarQuant of a
    Relu output (qonnx: +s for every input, since x >= 0; Brevitas' 1-bit QuantReLU, which exports
    that way, computes {0, s}; FixUnsignedBinaryActQuant reads it as the latter)."""
    names = []
    for i, node in enumerate(raw.graph.node):
        producer = raw.find_producer(node.input[0]) if node.op_type == "BipolarQuant" else None
        if producer is not None and producer.op_type == "Relu" and raw.get_initializer(node.input[1]) is not None:
            names.append(node.name or f"BipolarQuant_{i}")
    return names


REWRITE_WHAT = ("Relu -> BipolarQuant read as an unsigned 1-bit quantizer, values {0, s} (Brevitas' 1-bit "
                "QuantReLU exports that way; qonnx runs the node as +s for every input)")


def rewrite_graph(raw):
    """(the graph as given, the graph dqhw builds, a note or None, the rewritten node names), both
    annotated. The only rewrite: FixUnsignedBinaryActQuant (see meaning_rewrites); it changes what
    the graph computes, so a model-file build refuses it unless --accept-rewrites (dqhw.flow.source)."""
    from dqhw.transforms.passes import FixUnsignedBinaryActQuant

    original = annotate(raw)
    names = meaning_rewrites(original)
    if not names:
        return original, original, None, []
    rewritten = _copy(original).transform(FixUnsignedBinaryActQuant())
    note = f"{len(names)} {REWRITE_WHAT} ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''})"
    return original, rewritten, note, names


def _copy(model):
    from qonnx.core.modelwrapper import ModelWrapper

    return ModelWrapper(copy.deepcopy(model.model))


def repair_for_oracle(raw):
    """(the graph dqhw builds from `raw`, annotated; the rewrite note or None): rewrite_graph's."""
    _, rewritten, note, _ = rewrite_graph(raw)
    return rewritten, note




def prepare_qonnx(raw, input_scale: float = 1.0, input_offset: float = 0.0):
    """The QONNX graph finn's steps start from (see the module docstring). `raw` is not changed."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    from dqhw.transforms.graph_check import FILE_NAME_TAG
    from dqhw.transforms.passes import FixUnsignedBinaryActQuant, ReduceMeanAsGlobalAveragePool

    m = ModelWrapper(copy.deepcopy(raw.model))
    for node in m.graph.node:  # the cleanup renames nodes; refusals name the file's node too
        if node.name and not node.doc_string:
            node.doc_string = FILE_NAME_TAG + node.name
    with finn_compat.quiet():
        m = cleanup_model(m)
    m = m.transform(FixUnsignedBinaryActQuant()).transform(ReduceMeanAsGlobalAveragePool())
    old_in = m.graph.input[0]
    name = old_in.name
    shape = m.get_tensor_shape(name)
    if input_scale != 1.0 or input_offset != 0.0:  # pixel * scale + offset in front of the graph
        pix = "pixels"
        nodes, cur = [], pix
        if input_scale != 1.0:
            m.set_initializer("input_scale", np.asarray(input_scale, dtype=np.float32))
            nxt = name if input_offset == 0.0 else "pixels_scaled"
            nodes.append(helper.make_node("Mul", [cur, "input_scale"], [nxt], name="InputScale"))
            cur = nxt
        if input_offset != 0.0:
            m.set_initializer("input_offset", np.asarray(input_offset, dtype=np.float32))
            nodes.append(helper.make_node("Add", [cur, "input_offset"], [name], name="InputOffset"))
        for i, n in enumerate(nodes):
            m.graph.node.insert(i, n)
        m.graph.input.remove(old_in)
        m.graph.input.insert(0, helper.make_tensor_value_info(pix, TensorProto.FLOAT, shape))
        m.graph.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    m.set_tensor_datatype(m.graph.input[0].name, DataType["UINT8"])
    m.rename_tensor(m.graph.output[0].name, LOGITS)
    with finn_compat.quiet():
        m = m.transform(InferShapes())
        return m.transform(InferDataTypes())


def qonnx_execute(model, x: np.ndarray) -> np.ndarray:
    """qonnx's execute_onnx of a graph with one input, frame by frame on `x` (float32 NCHW, what the
    graph takes: see GraphSource.graph_input): the float values of its first output, (N, outputs)."""
    from qonnx.core.onnx_exec import execute_onnx

    name = model.graph.input[0].name
    out_name = model.graph.output[0].name
    logits = []
    with finn_compat.quiet():
        for i in range(len(x)):
            out = execute_onnx(model, {name: x[i:i + 1]})
            logits.append(np.asarray(out[out_name], dtype=np.float64).reshape(-1))
    return np.asarray(logits).reshape(len(x), -1)
