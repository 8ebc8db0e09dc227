"""Step 1: a trained run -> QONNX (Brevitas export_qonnx), checked with qonnx's own tools.

The exported graph takes float NCHW pixel values 0..255 (annotated UINT8, what the FPGA receives) and
has two outputs: `logits` (the last layer's float output) and `label` (TopK k=1, which finn turns
into LabelSelect). The finn flow gets the same graph with only `label` as output (finn builds one
output stream); the integer logits stay reachable as the last MVAU's output tensor in the dataflow
graph (build.json: outputs.logits_tensor) and in the golden model. float logits = integer
accumulators * `final_scale` (from the quantizers of the run).
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dqhw import finn_compat
from dqhw.errors import DqhwError
from dqhw.runs import Run

LOGITS = "logits"
LABEL = "label"


@dataclass
class Exported:
    model: object  # ModelWrapper: QONNX with outputs [logits, label]
    final_scale: float
    input_name: str
    raw: object = None  # ModelWrapper: the file Brevitas wrote (shapes annotated, otherwise untransformed)
    raw_note: str | None = None  # set when `raw` had to be repaired to mean what the trained model computes


def check_run(run: Run) -> None:
    """One-line errors for runs dqhw build cannot turn into hardware."""
    cfg = run.config
    spec = cfg.quant_spec()
    if spec.act_bits is None or spec.weight_bits is None:
        which = "--bits fp" if spec.act_bits is None else "--wbits fp"
        raise DqhwError(f"{run.path}: a float run ({which}) cannot be built; train with integer --bits and --wbits")
    if cfg.model == "wrn":
        from dqhw.build.passes import RESIDUAL_MESSAGE

        raise DqhwError(RESIDUAL_MESSAGE)


def final_scale(run: Run) -> float:
    """float logits = integer accumulators of the last layer * this scale (act scale * weight scale)."""
    from dqhw.quant import weight_layers

    spec = run.config.quant_spec()
    last = weight_layers(run.model)[-1][1]
    w_scale = float(last.quant_weight().scale.detach().reshape(-1)[0])
    return w_scale * spec.act_max / ((1 << spec.act_bits) - 1)


def export(run: Run, work_dir: str | Path | None = None) -> Exported:
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
        raw, raw_note = _raw_for_oracle(ModelWrapper(copy.deepcopy(m.model)))
        m = _prepare(m)
    return Exported(m, final_scale(run), m.graph.input[0].name, raw, raw_note)


def _raw_for_oracle(raw):
    """The exported file as the qonnx oracle runs it: shapes annotated and nothing else, except one
    repair. Brevitas writes a 1-bit *unsigned* activation quantizer (values {0, s}) as BipolarQuant
    ({-s, +s}), so the raw file does not compute what the trained model computes; that node alone is
    rewritten (FixUnsignedBinaryActQuant) and the report says so."""
    from qonnx.transformation.infer_shapes import InferShapes

    from dqhw.build.passes import FixUnsignedBinaryActQuant

    raw = raw.transform(InferShapes())
    before = sum(n.op_type == "BipolarQuant" for n in raw.graph.node)
    raw = raw.transform(FixUnsignedBinaryActQuant())
    fixed = before - sum(n.op_type == "BipolarQuant" for n in raw.graph.node)
    note = (f"{fixed} Relu -> BipolarQuant node(s) of the export read as unsigned 1-bit (Brevitas exports "
            "1-bit unsigned activations as bipolar)") if fixed else None
    return raw, note


def _prepare(m):
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.util.cleanup import cleanup_model

    from dqhw.build.passes import FixUnsignedBinaryActQuant, check_supported_qonnx

    m = cleanup_model(m)
    check_supported_qonnx(m)
    m = m.transform(FixUnsignedBinaryActQuant())
    m = cleanup_model(m)
    if len(m.graph.input) != 1 or len(m.graph.output) != 1:
        raise DqhwError("the exported model must have one input and one output")
    m.set_tensor_datatype(m.graph.input[0].name, DataType["UINT8"])
    # name the logits and append TopK(k=1) -> label
    old = m.graph.output[0].name
    m.rename_tensor(old, LOGITS)
    k = "label_k"
    m.set_initializer(k, np.asarray([1], dtype=np.int64))
    m.graph.node.append(helper.make_node("TopK", [LOGITS, k], ["label_value", LABEL], axis=-1, name="TopK_label"))
    m.graph.value_info.append(helper.make_tensor_value_info("label_value", TensorProto.FLOAT, [1, 1]))
    m.graph.output.append(helper.make_tensor_value_info(LABEL, TensorProto.INT64, [1, 1]))
    # no cleanup_model here: it would rename the tensors; shapes and data types are enough
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    m = m.transform(InferShapes())
    return m.transform(InferDataTypes())


def finn_input(exported: Exported):
    """The copy the finn flow starts from: only the `label` output."""
    from qonnx.core.modelwrapper import ModelWrapper

    m = ModelWrapper(copy.deepcopy(exported.model.model))
    for out in list(m.graph.output):
        if out.name != LABEL:
            m.graph.output.remove(out)
            m.graph.value_info.append(out)
    return m


def qonnx_execute(model, images_nhwc: np.ndarray) -> np.ndarray:
    """qonnx's execute_onnx of a QONNX graph with one input (float NCHW pixels 0..255), frame by frame:
    the float values of its first output, (N, classes)."""
    from qonnx.core.onnx_exec import execute_onnx

    x = np.asarray(images_nhwc).transpose(0, 3, 1, 2).astype(np.float32)
    name = model.graph.input[0].name
    out_name = model.graph.output[0].name
    logits = []
    with finn_compat.quiet():
        for i in range(len(x)):
            out = execute_onnx(model, {name: x[i:i + 1]})
            logits.append(np.asarray(out[out_name], dtype=np.float64).reshape(-1))
    return np.asarray(logits).reshape(len(x), -1)
