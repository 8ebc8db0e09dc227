"""Build reports: DIR/report/summary.json + summary.md next to finn's estimate JSONs.

Per layer of the final dataflow graph: type, folding, data types, estimated cycles per frame and
resources; the bottleneck; estimated FPS at the clock; LUT/BRAM/DSP totals against the board.
Resources: dqhw's own estimates for dqhw nodes (LUT-based MVAU: FINN-R's LUT model with exact widths,
no DSP; ROMs in BRAM18 by aspect ratio), finn's estimates for finn's RTL nodes. finn's own
estimate_*.json files describe finn's folded graph before dqhw's nodes replaced MVAU/Pool/LabelSelect
(they assume finn's HLS layers).
"""

from __future__ import annotations

import math

from dqhw.io import write_json, write_text


def _dt(model, tensor: str) -> str:
    try:
        return model.get_tensor_datatype(tensor).name
    except Exception:  # noqa: BLE001
        return "?"


def _figure(fn, *args) -> int | None:
    try:
        return int(fn(*args))
    except Exception:  # noqa: BLE001  (finn's estimators raise many types; the report says "unknown")
        return None


def total(values) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else int(sum(values))


def layer_rows(model, fpgapart: str) -> list[dict]:
    from qonnx.custom_op.registry import getCustomOp

    rows = []
    for node in model.graph.node:
        inst = getCustomOp(node)
        attrs = inst.get_nodeattr_types()
        row = {"name": node.name, "type": node.op_type}
        if "finn_name" in attrs and inst.get_nodeattr("finn_name"):
            row["finn_name"] = inst.get_nodeattr("finn_name")
        for key in ("PE", "SIMD", "MW", "MH", "Channels", "IFMChannels", "NumChannels", "Labels", "depth",
                    "parallel_window", "depthwise"):
            if key in attrs:
                try:
                    row[key] = int(inst.get_nodeattr(key))
                except (TypeError, ValueError):
                    pass
        row["in_dtype"] = _dt(model, node.input[0])
        row["out_dtype"] = _dt(model, node.output[0])
        if node.op_type == "DqhwMVAU":
            row["weight_dtype"] = inst.get_nodeattr("weightDataType")
            row["acc_dtype"] = inst.get_nodeattr("accDataType")
            row["rtl_params"] = inst.rtl_params()
        elif hasattr(inst, "rtl_params"):
            row["rtl_params"] = inst.rtl_params()
        row["in_shape"] = [int(d) for d in model.get_tensor_shape(node.input[0])]
        row["out_shape"] = [int(d) for d in model.get_tensor_shape(node.output[0])]
        # a figure that cannot be computed is None ("unknown" in the report), never a silent 0
        row["cycles"] = _figure(inst.get_exp_cycles)
        if node.op_type.startswith("StreamingFIFO"):
            # dqhw_fifo (dqhw.estimate), not finn's FIFO model: finn estimated 3-4 k-entry FIFOs at 0 BRAM
            from dqhw.estimate import fifo

            r = fifo(int(inst.get_nodeattr("depth")), int(inst.get_instream_width_padded()),
                     str(inst.get_nodeattr("ram_style")))
            row["resources"] = {"LUT": r.lut, "BRAM18": r.bram18, "DSP": r.dsp}
        elif node.op_type.startswith("StreamingDataWidthConverter"):
            from dqhw.estimate import dwc  # calibrated on synthesis; finn's model is 10-100x low here

            r = dwc(int(inst.get_instream_width()), int(inst.get_outstream_width()))
            row["resources"] = {"LUT": r.lut, "BRAM18": r.bram18, "DSP": r.dsp}
        else:
            row["resources"] = {"LUT": _figure(inst.lut_estimation, fpgapart),
                                "BRAM18": _figure(inst.bram_estimation, fpgapart),
                                "DSP": _figure(inst.dsp_estimation, fpgapart)}
        row["estimate_source"] = "dqhw" if node.domain.startswith("dqhw") else "finn"
        rows.append(row)
    return rows


def summarize(ctx, model, verification: dict) -> dict:
    board = ctx.board
    rows = layer_rows(model, board.finn_part)
    unknown_cycles = [r["name"] for r in rows if r["cycles"] is None]
    if unknown_cycles:
        ctx.record.warnings.append(f"cycles per frame unknown for {', '.join(unknown_cycles)}: the throughput "
                                   "figures below are unknown")
    known = [r for r in rows if r["cycles"] is not None]
    bottleneck = max(known, key=lambda r: r["cycles"]) if known and not unknown_cycles else None
    max_cycles = bottleneck["cycles"] if bottleneck else None
    clock_hz = 1e9 / ctx.clock_ns
    totals = {k: total(r["resources"][k] for r in rows) for k in ("LUT", "BRAM18", "DSP")}
    avail = {"LUT": board.model_lut, "BRAM18": board.bram18, "DSP": board.dsp}
    util = {k: (round(100.0 * totals[k] / avail[k], 2) if totals[k] is not None else None) for k in totals}
    for k in totals:
        if totals[k] is None:
            missing = [r["name"] for r in rows if r["resources"][k] is None]
            ctx.record.warnings.append(f"estimated {k} unknown: no estimate for {', '.join(missing[:4])}"
                                       + (f" and {len(missing) - 4} more" if len(missing) > 4 else ""))
        elif totals[k] > avail[k]:
            ctx.record.warnings.append(f"estimated {k} {totals[k]} exceeds the {board.name}'s {avail[k]}: lower "
                                       "--target-fps, give a less parallel --folding or use fewer bits")
    fits = None if any(v is None for v in totals.values()) else all(totals[k] <= avail[k] for k in totals)
    path_cycles = None if unknown_cycles else int(sum(r["cycles"] for r in rows))
    return {
        "source": str(ctx.source.path),
        "source_kind": ctx.source.kind,
        "num_classes": ctx.record.num_classes,
        "board": board.name,
        "part": board.part,
        "clock_ns": ctx.clock_ns,
        "clock_mhz": round(1000.0 / ctx.clock_ns, 3),
        "layers": rows,
        "bottleneck": ({"name": bottleneck["name"], "type": bottleneck["type"], "cycles": max_cycles}
                       if bottleneck else None),
        "cycles_per_frame": max_cycles,
        "estimated_fps": round(clock_hz / max_cycles, 2) if max_cycles else None,
        # finn's estimate: the sum of the layers' cycles along the (linear) pipeline
        "critical_path_cycles": path_cycles,
        "estimated_latency_ns": round(path_cycles * ctx.clock_ns, 1) if path_cycles is not None else None,
        "resources": {
            "estimated": totals,
            "available": avail,
            "utilization_percent": util,
            "fits": fits,
            "note": "LUT counts are estimates (dqhw MVAU: FINN-R LUT model, no DSP); FIFOs/DWCs from finn"
                    + ("" if board.family == "xc7" else
                       f"; in xc7 LUT6 units: the {board.name}'s {board.lut:,} {board.lut_unit} = {board.model_lut:,} "
                       f"at {board.lut_per_model_lut:g} {board.lut_unit} per LUT6, its {board.bram18} "
                       f"{board.bram_unit} = BRAM18 (18 Kb, the same aspect ratios), its {board.dsp} "
                       f"{board.dsp_type} = DSP"),
        },
        "folding": ctx.record.folding,
        "verification": verification,
        "synthesis": ctx.record.synthesis,  # dqhw.synth.build.report_summary (step synthesize)
        "place_route": ctx.record.place_route,  # dqhw.synth.ecp5 (step place_route, ECP5 boards)
        "warnings": ctx.record.warnings,
    }


def outputs_info(ctx, model) -> dict:
    from dqhw.golden import GoldenModel

    g = GoldenModel(model)
    return {
        "dataflow": "dataflow.onnx",
        "qonnx": "model.qonnx.onnx",
        "frames": "frames/clean.npz",
        "folding_config": "folding_config.json",
        "summary": "report/summary.json",
        "input_tensor": g.input_name,
        "input_shape": [int(d) for d in model.get_tensor_shape(g.input_name)],
        "input_layout": "NHWC uint8 pixels (the host transposes NCHW -> NHWC, see intermediate/dataflow_parent.onnx)",
        "output_tensor": g.output_name,
        "logits_tensor": g.logits_tensor,
        "logits_scale": ctx.record.output_scale,
        "logits_bias": ctx.record.output_bias,
        "logits_note": "float logits = integer accumulators (logits_tensor) * logits_scale + logits_bias",
        # "accelerator": LabelSelect in the RTL (m_axis); "host": per-class scale/bias (lists), no class
        # output, the host takes class = argmax(acc * logits_scale + logits_bias) (dqhw.contract.host_class)
        "class_on": ctx.record.class_on,
    }


def _fmt(v) -> str:
    return "" if v is None else str(v)


def _num(v) -> str:
    """A figure that should be there: "unknown" when it could not be computed."""
    return "unknown" if v is None else str(v)


def markdown(summary: dict) -> str:
    lines = [f"# dqhw build: {summary['source']}", "",
             f"Board {summary['board']} ({summary['part']}), clock {summary['clock_ns']} ns "
             f"({summary['clock_mhz']} MHz).", ""]
    if summary["verification"].get("original_file"):
        lines += ["**This hardware computes a rewritten graph, not the graph as written** (see Verification).", ""]
    b = summary["bottleneck"]
    if b:
        lines.append(f"Bottleneck **{b['name']}** ({b['type']}): {b['cycles']} cycles/frame -> "
                     f"**{summary['estimated_fps']} FPS** estimated.")
    r = summary["resources"]
    lines += ["", "| resource | estimated | available | % |", "|---|---:|---:|---:|"]
    for k in ("LUT", "BRAM18", "DSP"):
        lines.append(f"| {k} | {_num(r['estimated'][k])} | {r['available'][k]} | "
                     f"{_num(r['utilization_percent'][k])} |")
    fits = {True: "yes", False: "**no**", None: "unknown"}[r["fits"]]
    lines += ["", f"Fits the board: {fits} ({r['note']}).", "",
              "| layer | type | PE | SIMD | in | out | weights | acc | cycles | LUT | BRAM18 |",
              "|---|---|---:|---:|---|---|---|---|---:|---:|---:|"]
    for row in summary["layers"]:
        lines.append(f"| {row['name']} | {row['type']} | {_fmt(row.get('PE'))} | {_fmt(row.get('SIMD'))} | "
                     f"{row['in_dtype']} | {row['out_dtype']} | {_fmt(row.get('weight_dtype'))} | "
                     f"{_fmt(row.get('acc_dtype'))} | {_num(row['cycles'])} | {_num(row['resources']['LUT'])} | "
                     f"{_num(row['resources']['BRAM18'])} |")
    lines += synthesis_markdown(summary.get("synthesis"))
    lines += place_route_markdown(summary.get("place_route"))
    lines += verification_markdown(summary["verification"])
    if summary.get("rtl_proof"):
        p = summary["rtl_proof"]
        per_set = ", ".join(f"{r['set']} {r['frames']}" for r in p["sets"])
        lines += ["", f"RTL proof (Verilator, the sealed RTL): {p['frames']} frames ({per_set}), every logit and class "
                      f"compared with the golden model: **{p['mismatches']} mismatches**; "
                      f"{_num(p['cycles_per_frame'])} cycles/frame."]
    if summary["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in summary["warnings"]]
    if math.isfinite(summary.get("build_seconds", 0.0)):
        lines += ["", f"Build time: {summary.get('build_seconds')} s."]
    return "\n".join(lines) + "\n"


def synthesis_markdown(syn: dict | None) -> list[str]:
    """The estimated-vs-synthesized table (dqhw.synth.build.report_summary)."""
    if not syn:
        return []
    lines = ["", "## Synthesis (Yosys, xc7)", ""]
    if syn.get("status") != "ok":
        return lines + [f"Not run: {syn.get('reason')}."]
    t = syn["totals"]
    lines += [f"{syn['tool']}, `{syn['command']}`, {syn['method_note']}; {syn['seconds']} s. LUT = LUTs as logic + "
              "LUTs as memory; levels = LUT/CARRY4/MUXF/LUTRAM cells on the worst path inside a layer (Vivado's "
              "LOGIC_LEVELS). Yosys is not Vivado: published comparisons put its LUT counts above Vivado's.", "",
              "| layer | type | LUT est | LUT synth | synth/est | LUTRAM | FF | BRAM18 est | BRAM18 synth | "
              "DSP synth | CARRY4 | levels |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in syn["layers"]:
        # the logits fork and the top's own logic are not graph nodes: no estimate ("-")
        est_lut, est_bram = ((_num(r["est_LUT"]), _num(r["est_BRAM18"])) if r.get("in_graph", True) else ("-", "-"))
        if r["status"] != "ok":
            lines.append(f"| {r['name']} | {r['type']} | {est_lut} | unknown | | | | {est_bram} | unknown | unknown "
                         f"| | unknown ({r['reason']}) |")
            continue
        lines.append(f"| {r['name']} | {r['type']} | {est_lut} | {r['LUT']} | {_fmt(r['ratio_LUT'])} | "
                     f"{r['LUTRAM']} | {r['FF']} | {est_bram} | {r['BRAM18']} | {r['DSP']} | "
                     f"{r['CARRY4']} | {r['levels']} |")
    est = syn["estimated"]
    lines.append(f"| **total** | | {_num(est.get('LUT'))} | {_num(t['LUT'])} | {_fmt(syn.get('ratio_LUT'))} "
                 f"| {_num(t['LUTRAM'])} | {_num(t['FF'])} | {_num(est.get('BRAM18'))} | "
                 f"{_num(t['BRAM18'])} | {_num(t['DSP'])} | {_num(t['CARRY4'])} | {_num(t['levels'])} |")
    if syn.get("worst_path"):
        lines += ["", f"Worst path ({t['worst_stage']}, {t['levels']} levels): "
                  + " -> ".join(p.split(" <- ")[-1].removeprefix("-> ") for p in syn["worst_path"]) + "."]
    return lines


def place_route_markdown(pr: dict | None) -> list[str]:
    """Utilization from placement and the routed timing (dqhw.synth.ecp5)."""
    if not pr:
        return []
    lines = ["", "## Place and route (Yosys synth_ecp5, nextpnr-ecp5, ecppack)", ""]
    if pr.get("status") != "ok":
        return lines + [f"Not run: {pr.get('reason')}."]
    bf = pr["board_files"]
    lines += [f"{pr['part']} ({pr['package']}, speed {pr['speed']}); clock: {bf['clock_source']}; "
              f"`{pr['commands']['nextpnr']}`" + (" (cached)" if pr["cached"] else "") + ".", "",
              "| resource | used | available | % |", "|---|---:|---:|---:|"]
    for k, u in pr["utilization"].items():
        lines.append(f"| {k} | {u['used']} | {u['available']} | {_fmt(u['percent'])} |")
    lines += ["", "| clock | achieved MHz | target MHz | met | critical path |", "|---|---:|---:|---|---|"]
    for c in pr["timing"]["clocks"]:
        cp = c.get("critical_path") or {}
        path = (f"{cp['delay_ns']} ns, {cp['logic_cells']} logic cells, {cp.get('stage') or '-'} -> "
                f"{cp.get('to_stage') or '-'}: {cp['from']} -> {cp['to']}") if cp else "-"
        lines.append(f"| {c['clock']} | {c['achieved_mhz']} | {c['target_mhz']:g} | "
                     f"{'yes' if c['met'] else '**no**'} | {path} |")
    t = pr["tool_seconds"]
    lines += ["", f"Bitstream {pr['bitstream']} ({pr['bitstream_bytes']:,} bytes); Yosys {t['yosys']} s, nextpnr "
                  f"{t['nextpnr']} s, ecppack {t['ecppack']} s" + (" (when first made)" if pr["cached"] else "") + "."]
    return lines


def _judged(r: dict | None) -> str:
    if r is None:
        return "-"
    return (f"{r['logit_mismatch_frames']} / {r['class_disagreements']} ({r['class_disagreements_at_ties']}) "
            f"in {r['frames']}")


def _acc(a: dict | None) -> str:
    if not a:
        return ""
    return " / ".join(f"{a[k]:.4f}" for k in ("golden", "brevitas") if k in a)


def verification_markdown(v: dict) -> list[str]:
    lines = ["", "## Verification", "",
             "| oracle | independent of dqhw's code | frames | result |", "|---|---|---:|---|"]
    for o in v["oracles"]:
        result = "pass" if o["passed"] else "**FAIL** (" + ", ".join(o["failing_sets"]) + ")"
        lines.append(f"| {o['what']} | {'yes' if o['independent'] else '**no** (self-consistency)'} | "
                     f"{o['frames']} | {result} |")
    lines += original_file_markdown(v.get("original_file"))
    host = v.get("class_on") == "host"
    lines += ["", "Float oracles: (logits - output bias) / output scale must equal the integer logits; a class may "
                  "differ only at an exact " + ("tie of acc * scale + bias (the host takes the class, lowest index)."
                                                if host else "integer tie (the hardware takes the lowest index)."), "",
              "| set | frames | Brevitas: logit-mismatch frames / class disagreements (at ties) | qonnx (same) | "
              "finn graph | dqhw self-check | accuracy golden / Brevitas |",
              "|---|---:|---|---|---|---|---|"]
    for s in v["sets"]:
        lines.append(f"| {s['set']} | {s['frames']} | {_judged(s.get('brevitas'))} | {_judged(s.get('qonnx'))} | "
                     f"{s['finn_graph']['label_mismatches'] + s['finn_graph']['logits_mismatches']} mismatches in "
                     f"{s['finn_graph']['frames']} | {'exact' if s['dqhw_graph']['exact'] else 'DIFFERS'} in "
                     f"{s['dqhw_graph']['frames']} | {_acc(s.get('accuracy'))} |")
    return lines


def original_file_markdown(of: dict | None) -> list[str]:
    """A rewritten graph (--accept-rewrites, or a dqhw run): what the hardware computes, and how far that
    is from the graph as written."""
    if not of:
        return []
    return ["", f"**The hardware computes the rewritten graph, not the graph as written**: {of['rewrite']}. "
                "RTL = the golden model (the RTL proof) = the rewritten graph (the qonnx oracle above; for a dqhw "
                f"run also the trained model, the Brevitas oracle). **RTL vs the original file: "
                f"{of['differing_frames']} of {of['frames']} frames differ** ({of['class_disagreements']} in the "
                "class; qonnx execute_onnx of the file as written vs the golden model, reported, not asserted)."]


def write(ctx, summary: dict) -> None:
    rep = ctx.out / "report"
    rep.mkdir(exist_ok=True)
    write_json(rep / "summary.json", summary)
    write_text(rep / "summary.md", markdown(summary))
