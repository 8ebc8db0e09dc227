"""The build steps, finn style: each step is (model, cfg) -> model and the pipeline saves its model
as DIR/intermediate/<nn>_<step>.onnx. finn-plus' step functions are called one by one (through
dqhw.finn_compat) with a DataflowBuildConfig; dqhw's own passes are qonnx Transformations.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from dqhw import finn_compat
from dqhw.errors import DqhwError
from dqhw.flow.state import BuildConfig


def finn_step(step_name: str) -> Callable:
    def step(model, cfg: BuildConfig):
        fn = getattr(finn_compat.steps(), step_name)
        try:
            with finn_compat.quiet(cfg.log_path):
                return fn(model, cfg.finn)
        except DqhwError:
            raise
        except Exception as e:  # noqa: BLE001  (finn raises many exception types)
            msg = " ".join(str(e).split())[:160]
            raise DqhwError(f"finn {step_name} failed: {type(e).__name__}: {msg}") from None

    step.__doc__ = f"finn-plus' {step_name}"
    return step


# --------------------------------------------------------------------------------------------------
def step_load_graph(model, cfg: BuildConfig):
    """The source's graph (Brevitas export of a run, or the given file) prepared for finn
    (dqhw.flow.export.prepare_qonnx): cleanup, 1-bit fix, input convention, UINT8 input, `logits`."""
    from dqhw.flow.export import prepare_qonnx

    src = cfg.source
    qonnx = prepare_qonnx(src.raw, src.input_scale, src.input_offset)
    qonnx.save(str(cfg.out / "model.qonnx.onnx"))
    cfg.record.num_classes = int(qonnx.get_tensor_shape("logits")[-1])
    from qonnx.core.modelwrapper import ModelWrapper

    return ModelWrapper(copy.deepcopy(qonnx.model))


def step_check_graph(model, cfg: BuildConfig):
    """Refuse, in one line naming the node, its op, data types and why, what dqhw cannot build yet."""
    from dqhw.transforms.graph_check import check_graph

    check_graph(model)
    return model


def step_qonnx_to_finn(model, cfg: BuildConfig):
    """finn-plus' step_qonnx_to_finn, every MultiThreshold marked with the side an exact tie goes to in
    the file (the file's own and BipolarQuant's: up; a Quant's: half to even; dqhw.transforms.ties)."""
    from dqhw.transforms.ties import MarkThresholdTies

    model = model.transform(MarkThresholdTies(from_quant=False))
    model = finn_step("step_qonnx_to_finn")(model, cfg)
    return model.transform(MarkThresholdTies(from_quant=True))


def step_streamline(model, cfg: BuildConfig):
    """finn-plus' step_streamline on float64 parameters, then integer thresholds with every exact tie on
    the file's side, then float32 again (dqhw.transforms.ties: in float32 a tie can come out ulps off)."""
    from dqhw.transforms.ties import RoundThresholdTies, float32_initializers, float64_initializers

    model = finn_step("step_streamline")(float64_initializers(model), cfg)
    return float32_initializers(model.transform(RoundThresholdTies()))


def step_split_output_affine(model, cfg: BuildConfig):
    """The output scale/bias off the integer logits (kept for the host and the oracles); TopK appended
    when one positive scale and one bias serve every class, else the host takes the class from the
    integer logits (contract.host_class)."""
    from dqhw.transforms.passes import SplitOutputAffine

    split = SplitOutputAffine()
    model = model.transform(split)
    rec = cfg.record
    rec.class_on = split.class_on
    if split.class_on == "host":
        rec.output_scale = [float(v) for v in split.scale]
        rec.output_bias = [float(v) for v in split.bias]
    else:
        rec.output_scale, rec.output_bias = float(split.scale[0]), float(split.bias[0])
    return model


def step_residual(model, cfg: BuildConfig):
    """Residual graphs (forks, convex-combination adds, global average pooling) made integer after
    finn's streamlining (dqhw.transforms.residual); other graphs pass unchanged."""
    from dqhw.transforms.residual import streamline_residual

    try:
        return streamline_residual(model, cfg.finn, cfg.log_path)
    except DqhwError:
        raise
    except Exception as e:  # noqa: BLE001  (finn raises many exception types)
        msg = " ".join(str(e).split())[:160]
        raise DqhwError(f"residual streamlining failed: {type(e).__name__}: {msg}") from None


def step_fix_binary_acts(model, cfg: BuildConfig):
    """Safety net for graphs exported without FixUnsignedBinaryActQuant (see dqhw.transforms.passes)."""
    from dqhw.transforms.passes import SplitBipolarOutScale

    return model.transform(SplitBipolarOutScale())


FINN_HW_DOMAIN = "finn.custom_op.fpgadataflow"


def _adds_to_domain(model, domain: str) -> None:
    """Move dqhw's residual adds (DqhwAddStreams) into `domain`: finn's partition and estimate reports
    only look at nodes of finn's hardware domains, so the adds visit them (registered there with qonnx's
    add_op_to_domain) and return to dqhw's domain afterwards."""
    adds = [n for n in model.graph.node if n.op_type == "DqhwAddStreams"]
    if adds and domain != "dqhw.customop":
        from qonnx.custom_op.registry import add_op_to_domain

        from dqhw.customop.residual import DqhwAddStreams

        add_op_to_domain(domain, DqhwAddStreams)
    for n in adds:
        n.domain = domain


def step_estimate_reports(model, cfg: BuildConfig):
    """finn-plus' step_generate_estimate_reports (dqhw's residual adds counted as RTL layers)."""
    _adds_to_domain(model, FINN_HW_DOMAIN + ".rtl")
    try:
        model = finn_step("step_generate_estimate_reports")(model, cfg)
    finally:
        _adds_to_domain(model, "dqhw.customop")
    return model


def step_create_dataflow_partition(model, cfg: BuildConfig):
    """finn's partition; then the host side (the parent graph) must hand the accelerator frames in an
    order dqhw's uint8 NHWC frames have: after an NCHW->NHWC transpose, or unchanged when the input has
    one channel (both orders coincide)."""
    from qonnx.core.modelwrapper import ModelWrapper

    # finn's partition takes only nodes of its own hardware domain: dqhw's residual adds pass through it
    # in that domain (registered there with qonnx's add_op_to_domain) and return to dqhw's afterwards
    _adds_to_domain(model, FINN_HW_DOMAIN)
    model = finn_step("step_create_dataflow_partition")(model, cfg)
    _adds_to_domain(model, "dqhw.customop")
    parent_path = cfg.out / "intermediate_models" / "dataflow_parent.onnx"
    if parent_path.is_file():
        parent = ModelWrapper(str(parent_path))
        host = [n for n in parent.graph.node if n.op_type != "StreamingDataflowPartition"]
        shape = parent.get_tensor_shape(parent.graph.input[0].name)
        nhwc = any(n.op_type == "Transpose" and list(n.attribute[0].ints) == [0, 2, 3, 1] for n in host)
        if not nhwc and len(shape) == 4 and shape[1] != 1:
            raise DqhwError(f"the accelerator would take its {shape[1]}-channel input in NCHW order (finn put no "
                            "NCHW->NHWC transpose in front of it); dqhw sends NHWC frames")
        other = [n.op_type for n in host if n.op_type != "Transpose"]
        if other:
            raise DqhwError(f"finn left {', '.join(other)} on the host side of the accelerator's input; dqhw sends "
                            "the frames to the accelerator as they are")
    return model


def step_check_hw(model, cfg: BuildConfig):
    """After convert_to_hw: everything but the input layout transpose must be a hardware layer."""
    for node in model.graph.node:
        if node.domain.startswith("finn.custom_op.fpgadataflow") or node.domain == "dqhw.customop":
            continue
        if node.op_type == "Transpose" and node.input[0] == model.graph.input[0].name:
            continue  # NCHW -> NHWC of the input frame, done by the host (frames are sent NHWC)
        raise DqhwError(f"layer {node.name or node.op_type} ({node.op_type}) could not be mapped to a hardware "
                        "layer by finn; dqhw build supports conv/linear + BatchNorm + quantized ReLU + max pooling")
    return model


def step_folding(model, cfg: BuildConfig):
    """dqhw's folding search (dqhw.folding.search: the fastest balanced design within the budget,
    or the cheapest one reaching --target-fps) or finn's step_apply_folding_config with the --folding
    file (dqhw node names mapped to finn's), then dqhw's divisibility checks."""
    from dqhw.folding import config as folding

    if cfg.folding_file is not None:
        import json

        given = folding.map_names(folding.load_folding(cfg.folding_file), model)
        mapped = cfg.out / "intermediate" / "folding_input.json"  # the file with finn's node names
        mapped.write_text(json.dumps(given, indent=2) + "\n")
        cfg.finn.folding_config_file = mapped
        try:
            with finn_compat.quiet(cfg.log_path):
                model = finn_compat.steps().step_apply_folding_config(model, cfg.finn)
        except (AttributeError, KeyError, AssertionError, ValueError, TypeError) as e:
            raise DqhwError(f"--folding: cannot apply ({type(e).__name__}: {' '.join(str(e).split())[:100]})") from None
    else:
        from dqhw.folding import search as fs

        target = fs.fps_to_cycles(cfg.target_fps, cfg.clock_ns) if cfg.target_fps else None
        _, plan = fs.search(model, cfg.board, cfg.budget, cfg.clock_ns, target, reserve=_glue_reserve(cfg))
        if plan is None:
            raise DqhwError("folding: no PE/SIMD choice keeps every stream at an integer width ratio")
        what = f"--target-fps {cfg.target_fps}" if cfg.target_fps else "the slowest folding"
        if not plan.fits:
            msg = (f"{what} does not fit the {cfg.board.name} within {cfg.budget.describe()}: "
                   f"{fs.describe(plan, cfg.board, cfg.clock_ns)}")
            if not cfg.opts.allow_overfull:
                hint = "lower --target-fps, " if cfg.target_fps else ""
                raise DqhwError(f"{msg}; {hint}use fewer bits, or pass --allow-overfull")
            cfg.record.warnings.append(f"--allow-overfull: {msg}")
        model = fs.apply_plan(model, plan)
    folding.check_folding(model)
    return model


def _glue_reserve(cfg: BuildConfig):
    from dqhw.estimate import Resources

    r = cfg.record.glue_reserve
    return None if r is None else Resources(**r)


MAX_REFOLDS = 3  # the pipeline runs folding..check_fit at most 1 + MAX_REFOLDS times


def step_check_fit(model, cfg: BuildConfig):
    """The whole design (FIFOs at their sized depths, width converters) against the board's budget:
    a design that does not fit stops the build here, in one line, unless --allow-overfull. When the
    folding was searched, it is searched again first (cfg.record.refold says why; the pipeline loops
    back to the folding step) with the FIFOs' and converters' measured cost kept free."""
    from dqhw.flow import report

    rec = cfg.record
    rows = report.layer_rows(model, cfg.board.finn_part)
    totals = {k: report.total(r["resources"][k] for r in rows) for k in ("LUT", "BRAM18", "DSP")}
    limits = cfg.budget.limits(cfg.board).as_dict()
    over = [f"{k} {totals[k]:,} > {limits[k]:,}" for k in totals if totals[k] is not None and totals[k] > limits[k]]
    unknown = [k for k in totals if totals[k] is None]
    if unknown:
        rec.warnings.append(f"fit check: estimated {', '.join(unknown)} unknown")
    if not over:
        return model
    msg = (f"the design does not fit the {cfg.board.name} within {cfg.budget.describe()}: estimated "
           f"{', '.join(over)} (FIFOs at their sized depths included)")
    searched = cfg.folding_file is None
    if searched and not cfg.opts.allow_overfull and rec.refolds < MAX_REFOLDS:
        glue = _grow_reserve(cfg, rows, totals, limits)
        rec.refolds += 1
        rec.warnings.append(f"folded again: {msg}; FIFOs and width converters took {glue.lut:,} LUT, "
                            f"{glue.bram18} BRAM18")
        rec.refold = f"estimated {', '.join(over)} with the sized FIFOs"
        return model
    if not cfg.opts.allow_overfull:
        raise DqhwError(f"{msg}; lower --target-fps / give a less parallel --folding, or pass --allow-overfull")
    rec.warnings.append(f"--allow-overfull: {msg}")
    return model


def _grow_reserve(cfg: BuildConfig, rows: list[dict], totals: dict, limits: dict):
    """Set the reserve the next folding search keeps free; returns what FIFOs and converters took."""
    import dataclasses

    from dqhw.estimate import Resources
    from dqhw.folding.search import default_reserve

    glue = Resources()
    for r in rows:
        if r["type"].startswith(("StreamingFIFO", "StreamingDataWidthConverter")):
            res = r["resources"]
            glue = glue + Resources(lut=res["LUT"] or 0, bram18=res["BRAM18"] or 0, dsp=res["DSP"] or 0)
    # the search kept `prev` free; the next search keeps at least what the FIFOs and converters
    # took here in every resource, and where the design is over, `prev` + the overflow (+25 % and
    # 1 % of the board): only as much slower as the overflow demands, without trading the
    # overflow into the other resource
    prev = _glue_reserve(cfg) or default_reserve(cfg.board)

    def grown(key: str, attr: str) -> int:
        overflow = totals[key] - limits[key]
        extra = int(1.25 * overflow) + int(0.01 * getattr(cfg.board, attr)) + 1 if overflow > 0 else 0
        return max(getattr(prev, attr) + extra, int(1.1 * getattr(glue, attr)) + 1)

    cfg.record.glue_reserve = dataclasses.asdict(Resources(lut=grown("LUT", "lut"), bram18=grown("BRAM18", "bram18")))
    return glue


def step_dqhw_nodes(model, cfg: BuildConfig):
    """Replace finn's MVAU / Pool(MaxPool) / LabelSelect by dqhw's node types."""
    from dqhw.folding.config import write_folding_config
    from dqhw.transforms.replace import ReplaceWithDqhwNodes

    cfg.record.finn_folded = FINN_FOLDED
    model.save(str(cfg.out / FINN_FOLDED))  # an oracle of verify: finn's own layers, folded
    with finn_compat.quiet(cfg.log_path):
        cfg.record.folding = write_folding_config(model, cfg.out / "folding_config.json")
    return model.transform(ReplaceWithDqhwNodes())


FINN_FOLDED = "intermediate/finn_folded.onnx"


def step_insert_dwc_fifo(model, cfg: BuildConfig):
    """finn's InsertDWC + InsertFIFO(create_shallow_fifos) + SpecializeLayers: a complete stream graph."""
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    part = cfg.board.finn_part
    with finn_compat.quiet(cfg.log_path):
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
            cfg.record.warnings.append(f"{node.name}: finn chose an HLS implementation (e.g. a non-integer width "
                                "ratio); dqhw's RTL back end cannot build it - change the folding")
    return model


LOGITS_TENSOR = "logits"
LABEL_TENSOR = "label"


def _name_outputs(model) -> None:
    """Name the last MVAU's output (the integer logits) `logits` and the graph output `label` (a graph
    without LabelSelect: the graph output carries the logits; it is `logits` when the MVAU's output
    is the graph output)."""
    from dqhw.golden import has_label_select, logits_producer

    mvau = logits_producer(model)
    if mvau is not None and mvau.output[0] != LOGITS_TENSOR:
        model.rename_tensor(mvau.output[0], LOGITS_TENSOR)
    out = model.graph.output[0].name
    if has_label_select(model) and out != LABEL_TENSOR:
        model.rename_tensor(out, LABEL_TENSOR)


def step_verify(model, cfg: BuildConfig):
    """The golden model against every oracle (dqhw.verification); a failure stops the build here."""
    from dqhw import verification as verify

    cfg.record.verification = verify.verify_build(cfg, model)
    verify.raise_on_mismatch(cfg.record.verification)  # no RTL from a golden model that an oracle contradicts
    return model
