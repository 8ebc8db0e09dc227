"""`python -m dqhw.synth BUILD [--per-stage] [--timeout S]`: synthesize an existing build's RTL with Yosys
(the build's `synthesize` step, docs/build.md "Synthesis"), write BUILD/report/synth.json and print
estimated vs synthesized per layer. BUILD/report/summary.* are left as they are."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dqhw.errors import DqhwError


def table(build: Path, data: dict) -> str:
    """Per layer: estimated (report/summary.json) vs synthesized LUT, BRAM18, levels, and the ratio."""
    from dqhw.synth.build import report_summary

    est = {}
    summary = build / "report" / "summary.json"
    if summary.is_file():
        est = {r["name"]: r["resources"] for r in json.loads(summary.read_text())["layers"]}
        done = {r.get("node", r["stage"]) for r in data["stages"]}
        est = {n: v for n, v in est.items() if n in done}  # a partial run (bench --only): its layers only
    s = report_summary(data, est)

    def f(v):
        return "unknown" if v is None else str(v)

    lines = [f"{'layer':36} {'type':32} {'LUT est':>8} {'LUT syn':>8} {'syn/est':>8} {'LUTRAM':>7} {'FF':>7} "
             f"{'BRAM est':>8} {'BRAM syn':>8} {'DSP':>4} {'levels':>6}"]
    for r in s["layers"]:
        ok = r["status"] == "ok"
        if not r["in_graph"]:  # the logits fork and the top's own logic: no estimate
            r["est_LUT"] = r["est_BRAM18"] = "-"
        ratio = "" if r.get("ratio_LUT") is None else r["ratio_LUT"]
        lines.append(f"{r['name'][:36]:36} {r['type'][:32]:32} {f(r['est_LUT']):>8} {f(r.get('LUT')):>8} "
                     f"{ratio:>8} {f(r.get('LUTRAM')):>7} {f(r.get('FF')):>7} "
                     f"{f(r['est_BRAM18']):>8} {f(r.get('BRAM18')):>8} {f(r.get('DSP')):>4} {f(r.get('levels')):>6}"
                     + ("" if ok else f"  ({r['reason']})"))
    t = s["totals"]
    lines.append(f"{'total':36} {'':32} {f(s['estimated']['LUT']):>8} {f(t['LUT']):>8} {f(s['ratio_LUT']):>8} "
                 f"{f(t['LUTRAM']):>7} {f(t['FF']):>7} {f(s['estimated']['BRAM18']):>8} {f(t['BRAM18']):>8} "
                 f"{f(t['DSP']):>4} {f(t['levels']):>6}")
    lines.append(f"{data['tool']}, {data['method_note']}; {data['seconds']} s"
                 + (" (cached)" if data.get("cached") else ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    from dqhw.synth.build import stage_node_names, synthesize_rtl, write_synth_json

    p = argparse.ArgumentParser(prog="python -m dqhw.synth", description=__doc__.splitlines()[0])
    p.add_argument("build", type=Path, help="a dqhw build directory (with rtl/ and dataflow.onnx)")
    p.add_argument("--per-stage", action="store_true", help="one Yosys run per stage (slower; time per layer)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per Yosys run (default 1800)")
    args = p.parse_args(argv)
    try:
        import onnx

        rtl = args.build / "rtl"
        if not (rtl / "design.json").is_file():
            raise DqhwError(f"{args.build}: no rtl/design.json (a build with RTL is needed)")
        model = onnx.load(str(args.build / "dataflow.onnx"), load_external_data=False)
        data = synthesize_rtl(rtl, node_names=stage_node_names(rtl, model), timeout=args.timeout,
                              per_stage=args.per_stage,
                              progress=lambda m: print(m, file=sys.stderr, flush=True))
        write_synth_json(args.build / "report", data)
    except DqhwError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    print(table(args.build, data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
