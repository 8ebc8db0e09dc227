"""ECP5 builds' measured figures as one small JSON (results/ecp5/): per build, what placement used
(LUT4 = nextpnr's TRELLIS_COMB sites, FF, EBR, MULT18), the Fmax per clock against its target, the
critical path's stages, FPS at the build's clock, each tool's time, and the placed LUT4 over the
resource model's estimate (the evidence for dqhw.boards.ECP5_LUT4_PER_LUT6).

    .venv/bin/python bench/bench_ecp5.py BUILD [BUILD ...] --json results/ecp5/NAME.json [--note TEXT]

BUILD: a finished `dqhw build --board ulx3s-85f|orangecrab-25f` directory (read only).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def figures(build: Path) -> dict:
    s = json.loads((build / "report" / "summary.json").read_text())
    info = json.loads((build / "build.json").read_text())
    pr = s.get("place_route") or {}
    if pr.get("status") != "ok":
        raise SystemExit(f"{build}: no place_route result (an ECP5 build with place_route run?)")
    est = s["resources"]["estimated"]
    util = {k: pr["utilization"][k]["used"] for k in ("LUT4", "FF", "EBR", "MULT18", "RAMW")
            if k in pr["utilization"]}
    rtl = info.get("rtl", {})
    clocks = [{"clock": c["clock"], "target_mhz": c["target_mhz"], "fmax_mhz": c["achieved_mhz"], "met": c["met"],
               "critical_path": {k: (c.get("critical_path") or {}).get(k) for k in ("delay_ns", "logic_cells",
                                                                                    "stage", "to_stage")}}
              for c in pr["timing"]["clocks"]]
    return {
        "build": str(build), "source": info["source"], "board": pr["board"], "part": pr["part"],
        "clock_mhz": pr["board_files"]["clock_mhz"], "clock_source": pr["board_files"]["clock_source"],
        "folding": info.get("folding_source"), "cycles_per_frame": rtl.get("cycles_per_frame_measured"),
        "fps_at_clock": round(pr["board_files"]["clock_mhz"] * 1e6 / rtl["cycles_per_frame_measured"], 1)
        if rtl.get("cycles_per_frame_measured") else None,
        "rtl_proof_mismatches": (rtl.get("proof") or {}).get("mismatches"),
        "placed": util, "available": {k: pr["utilization"][k]["available"] for k in util},
        "synth_ecp5_cells": pr["synth_cells"], "timing_met": pr["timing"]["met"], "clocks": clocks,
        "estimated_xc7": {"LUT6": est["LUT"], "BRAM18": est["BRAM18"], "DSP": est["DSP"]},
        "placed_lut4_per_estimated_lut6": round(util["LUT4"] / est["LUT"], 3) if est.get("LUT") else None,
        "tool_seconds": pr["tool_seconds"], "place_route_cached": pr["cached"],
        "build_seconds": info.get("seconds"), "tools": pr["tools"],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("builds", nargs="+", type=Path)
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--note", default=None, help="what was measured and on what machine")
    args = p.parse_args(argv)
    rows = [figures(b) for b in args.builds]
    for r in rows:
        c = r["clocks"][0] if r["clocks"] else {}
        print(f"{r['board']} {r['source'].get('path', '') if isinstance(r['source'], dict) else r['source']}: "
              f"LUT4 {r['placed']['LUT4']}, FF {r['placed']['FF']}, EBR {r['placed']['EBR']}, "
              f"Fmax {c.get('fmax_mhz')} MHz at {c.get('target_mhz')} MHz, {r['fps_at_clock']} FPS; "
              f"LUT4/est. LUT6 {r['placed_lut4_per_estimated_lut6']}; tools {r['tool_seconds']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    out = {"note": args.note, "builds": rows}
    tmp = args.json.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
