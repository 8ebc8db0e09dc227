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
        try:
            row["cycles"] = int(inst.get_exp_cycles())
        except Exception:  # noqa: BLE001
            row["cycles"] = 0
        res = {"LUT": 0, "BRAM18": 0, "DSP": 0}
        try:
            res = {"LUT": int(inst.lut_estimation(fpgapart)), "BRAM18": int(inst.bram_estimation(fpgapart)),
                   "DSP": int(inst.dsp_estimation(fpgapart))}
        except Exception:  # noqa: BLE001  (some finn nodes have no estimate)
            pass
        row["resources"] = res
        row["estimate_source"] = "dqhw" if node.domain.startswith("dqhw") else "finn"
        rows.append(row)
    return rows


def summarize(ctx, model, verification: dict) -> dict:
    board = ctx.board
    rows = layer_rows(model, board.part)
    cycles = [r["cycles"] for r in rows]
    bottleneck = max(rows, key=lambda r: r["cycles"]) if rows else None
    max_cycles = max(cycles) if cycles else 0
    clock_hz = 1e9 / ctx.clock_ns
    totals = {k: sum(r["resources"][k] for r in rows) for k in ("LUT", "BRAM18", "DSP")}
    avail = {"LUT": board.lut, "BRAM18": board.bram18, "DSP": board.dsp}
    util = {k: round(100.0 * totals[k] / avail[k], 2) for k in totals}
    for k in totals:
        if totals[k] > avail[k]:
            ctx.warnings.append(f"estimated {k} {totals[k]} exceeds the {board.name}'s {avail[k]}: lower --target-fps, "
                                "give a less parallel --folding or use fewer bits")
    return {
        "run": str(ctx.run.path),
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
        "critical_path_cycles": int(sum(cycles)),
        "estimated_latency_ns": round(sum(cycles) * ctx.clock_ns, 1),
        "resources": {
            "estimated": totals,
            "available": avail,
            "utilization_percent": util,
            "fits": all(totals[k] <= avail[k] for k in totals),
            "note": "LUT counts are estimates (dqhw MVAU: FINN-R LUT model, no DSP); FIFOs/DWCs from finn",
        },
        "folding": ctx.folding,
        "verification": verification,
        "warnings": ctx.warnings,
    }


def outputs_info(ctx, model) -> dict:
    from dqhw.golden import GoldenModel

    g = GoldenModel(model)
    return {
        "dataflow": "dataflow.onnx",
        "qonnx": "model.qonnx.onnx",
        "folding_config": "folding_config.json",
        "summary": "report/summary.json",
        "input_tensor": g.input_name,
        "input_shape": [int(d) for d in model.get_tensor_shape(g.input_name)],
        "input_layout": "NHWC uint8 pixels (the host transposes NCHW -> NHWC, see intermediate/dataflow_parent.onnx)",
        "output_tensor": g.output_name,
        "logits_tensor": g.logits_tensor,
        "logits_scale": ctx.exported.final_scale,
        "logits_note": "float logits = integer accumulators (logits_tensor) * logits_scale",
    }


def _fmt(v) -> str:
    return "" if v is None else str(v)


def markdown(summary: dict) -> str:
    lines = [f"# dqhw build: {summary['run']}", "",
             f"Board {summary['board']} ({summary['part']}), clock {summary['clock_ns']} ns "
             f"({summary['clock_mhz']} MHz).", ""]
    b = summary["bottleneck"]
    if b:
        lines.append(f"Bottleneck **{b['name']}** ({b['type']}): {b['cycles']} cycles/frame -> "
                     f"**{summary['estimated_fps']} FPS** estimated.")
    r = summary["resources"]
    lines += ["", "| resource | estimated | available | % |", "|---|---:|---:|---:|"]
    for k in ("LUT", "BRAM18", "DSP"):
        lines.append(f"| {k} | {r['estimated'][k]} | {r['available'][k]} | {r['utilization_percent'][k]} |")
    lines += ["", f"Fits the board: {'yes' if r['fits'] else '**no**'} ({r['note']}).", "",
              "| layer | type | PE | SIMD | in | out | weights | acc | cycles | LUT | BRAM18 |",
              "|---|---|---:|---:|---|---|---|---|---:|---:|---:|"]
    for row in summary["layers"]:
        lines.append(f"| {row['name']} | {row['type']} | {_fmt(row.get('PE'))} | {_fmt(row.get('SIMD'))} | "
                     f"{row['in_dtype']} | {row['out_dtype']} | {_fmt(row.get('weight_dtype'))} | "
                     f"{_fmt(row.get('acc_dtype'))} | {row['cycles']} | {row['resources']['LUT']} | "
                     f"{row['resources']['BRAM18']} |")
    v = summary["verification"]
    lines += ["", "## Verification", "",
              f"golden == execute_onnx (dqhw graph and finn graph, every compared frame): "
              f"**{'yes' if v['golden_equals_execute_onnx'] else 'NO'}**; Brevitas argmax disagreements: "
              f"{v['brevitas_argmax_disagreements']} of {v['brevitas_frames']} frames "
              f"({v['brevitas_argmax_disagreements_at_ties']} of them at integer ties, where the hardware takes "
              "the lowest index).", "",
              "| set | frames | Brevitas argmax disagree | max abs logit diff (acc units) | execute_onnx frames | "
              "exact | finn graph exact | accuracy golden / Brevitas |",
              "|---|---:|---:|---:|---:|---|---|---|"]
    for s in v["sets"]:
        gb, ge, fg = s["golden_vs_brevitas"], s["golden_vs_execute_onnx"], s["finn_graph_vs_golden"]
        acc = s.get("accuracy")
        acc_s = f"{acc['golden']:.4f} / {acc['brevitas']:.4f}" if acc else ""
        lines.append(f"| {s['set']} | {s['frames']} | {gb['argmax_disagreements']} | {gb['logits_max_abs_diff']:.3g} | "
                     f"{ge['frames']} | {ge['exact']} | {fg['exact']} | {acc_s} |")
    q = v["sets"][0].get("qonnx_vs_brevitas")
    if q:
        lines += ["", f"QONNX (qonnx execute) vs Brevitas on {q['frames']} clean frames: "
                      f"{q['argmax_disagreements']} argmax disagreements, "
                      f"max |logit diff| {q['logits_max_abs_diff']:.3g}."]
    if summary["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in summary["warnings"]]
    if math.isfinite(summary.get("build_seconds", 0.0)):
        lines += ["", f"Build time: {summary.get('build_seconds')} s."]
    return "\n".join(lines) + "\n"


def write(ctx, summary: dict) -> None:
    rep = ctx.out / "report"
    rep.mkdir(exist_ok=True)
    write_json(rep / "summary.json", summary)
    write_text(rep / "summary.md", markdown(summary))
