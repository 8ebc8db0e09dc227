"""The build steps, finn style: each step is (model, ctx) -> model and the pipeline saves its model
as DIR/intermediate/<nn>_<step>.onnx. finn-plus' step functions are called one by one (through
dqhw.finn_compat) with a DataflowBuildConfig; dqhw's own passes are qonnx Transformations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dqhw import finn_compat
from dqhw.errors import DqhwError


@dataclass
class BuildContext:
    run: object  # dqhw.runs.Run
    board: object  # dqhw.boards.Board
    out: Path  # the (temporary) build directory
    clock_ns: float
    target_fps: int | None
    folding_file: Path | None
    mvau_wwidth_max: int = 36
    cfg: object = None  # finn DataflowBuildConfig
    exported: object = None  # dqhw.build.export.Exported
    finn_folded: object = None  # the folded finn graph (finn's MVAU_hls/Pool_hls/LabelSelect_hls)
    folding: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)

    @property
    def log_path(self) -> Path:
        return self.out / "build.log"


def _finn(step_name: str) -> Callable:
    def step(model, ctx: BuildContext):
        fn = getattr(finn_compat.steps(), step_name)
        try:
            with finn_compat.quiet(ctx.log_path):
                return fn(model, ctx.cfg)
        except DqhwError:
            raise
        except Exception as e:  # noqa: BLE001  (finn raises many exception types)
            msg = " ".join(str(e).split())[:160]
            raise DqhwError(f"finn {step_name} failed: {type(e).__name__}: {msg}") from None

    step.__doc__ = f"finn-plus' {step_name}"
    return step


# --------------------------------------------------------------------------------------------------
def step_export_qonnx(model, ctx: BuildContext):
    """Brevitas export_qonnx -> qonnx cleanup -> 1-bit activation fix -> UINT8 input + TopK."""
    from dqhw.build import export

    ctx.exported = export.export(ctx.run, work_dir=ctx.out)
    ctx.exported.model.save(str(ctx.out / "model.qonnx.onnx"))
    return export.finn_input(ctx.exported)


def step_fix_binary_acts(model, ctx: BuildContext):
    """Safety net for graphs exported without FixUnsignedBinaryActQuant (see dqhw.build.passes)."""
    from dqhw.build.passes import SplitBipolarOutScale

    return model.transform(SplitBipolarOutScale())


def step_check_hw(model, ctx: BuildContext):
    """After convert_to_hw: everything but the input layout transpose must be a hardware layer."""
    for node in model.graph.node:
        if node.domain.startswith("finn.custom_op.fpgadataflow"):
            continue
        if node.op_type == "Transpose" and node.input[0] == model.graph.input[0].name:
            continue  # NCHW -> NHWC of the input frame, done by the host (frames are sent NHWC)
        raise DqhwError(f"layer {node.name or node.op_type} ({node.op_type}) could not be mapped to a hardware "
                        "layer by finn; dqhw build supports conv/linear + BatchNorm + quantized ReLU + max pooling")
    return model


def step_folding(model, ctx: BuildContext):
    """finn's step_target_fps_parallelization (SetFolding) or finn's step_apply_folding_config with the
    --folding file (dqhw node names mapped to finn's), then dqhw's divisibility checks."""
    from dqhw.build import folding

    if ctx.folding_file is not None:
        import json

        cfg = folding.map_names(folding.load_folding(ctx.folding_file), model)
        mapped = ctx.out / "intermediate" / "folding_input.json"  # the file with finn's node names
        mapped.write_text(json.dumps(cfg, indent=2) + "\n")
        ctx.cfg.folding_config_file = mapped
        try:
            with finn_compat.quiet(ctx.log_path):
                model = finn_compat.steps().step_apply_folding_config(model, ctx.cfg)
        except (AttributeError, KeyError, AssertionError, ValueError, TypeError) as e:
            raise DqhwError(f"--folding: cannot apply ({type(e).__name__}: {' '.join(str(e).split())[:100]})") from None
    else:
        from dqhw.build.passes import AlignWindowAndMvauSimd

        model = _finn("step_target_fps_parallelization")(model, ctx)
        model = model.transform(AlignWindowAndMvauSimd())
    folding.check_folding(model)
    return model


def step_dqhw_nodes(model, ctx: BuildContext):
    """Replace finn's MVAU / Pool(MaxPool) / LabelSelect by dqhw's node types."""
    from dqhw.build.folding import write_folding_config
    from dqhw.build.replace import ReplaceWithDqhwNodes

    ctx.finn_folded = model
    with finn_compat.quiet(ctx.log_path):
        ctx.folding = write_folding_config(model, ctx.out / "folding_config.json")
    return model.transform(ReplaceWithDqhwNodes())


def step_insert_dwc_fifo(model, ctx: BuildContext):
    """finn's InsertDWC + InsertFIFO(create_shallow_fifos) + SpecializeLayers: a complete stream graph."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    part = ctx.board.part
    with finn_compat.quiet(ctx.log_path):
        model = model.transform(InsertDWC())
        model = model.transform(SpecializeLayers(part))
        model = model.transform(InsertFIFO(create_shallow_fifos=True))
        model = model.transform(SpecializeLayers(part))
        model = model.transform(GiveUniqueNodeNames())
        model = model.transform(InferShapes())
        model = model.transform(InferDataTypes())
    _name_outputs(model)
    for node in model.graph.node:
        if node.domain == "finn.custom_op.fpgadataflow.hls":
            ctx.warnings.append(f"{node.name}: finn chose an HLS implementation (e.g. a non-integer width "
                                "ratio); dqhw's RTL back end cannot build it - change the folding")
    return model


LOGITS_TENSOR = "logits"
LABEL_TENSOR = "label"


def _name_outputs(model) -> None:
    """Name the last MVAU's output (the integer logits) `logits` and the graph output `label`."""
    from dqhw.golden import logits_producer

    mvau = logits_producer(model)
    if mvau is not None and mvau.output[0] != LOGITS_TENSOR:
        model.rename_tensor(mvau.output[0], LOGITS_TENSOR)
    out = model.graph.output[0].name
    if out != LABEL_TENSOR:
        model.rename_tensor(out, LABEL_TENSOR)


STEPS: list[tuple[str, Callable]] = [
    ("export_qonnx", step_export_qonnx),
    ("qonnx_to_finn", _finn("step_qonnx_to_finn")),
    ("tidy_up", _finn("step_tidy_up")),
    ("fix_binary_acts", step_fix_binary_acts),
    ("streamline", _finn("step_streamline")),
    ("convert_to_hw", _finn("step_convert_to_hw")),
    ("check_hw", step_check_hw),
    ("minimize_bit_width_initial", _finn("step_minimize_bit_width_initial")),
    ("create_dataflow_partition", _finn("step_create_dataflow_partition")),
    ("specialize_layers", _finn("step_specialize_layers")),
    ("folding", step_folding),
    ("minimize_bit_width", _finn("step_minimize_bit_width")),
    ("generate_estimate_reports", _finn("step_generate_estimate_reports")),
    ("dqhw_nodes", step_dqhw_nodes),
    ("insert_dwc_fifo", step_insert_dwc_fifo),
]
