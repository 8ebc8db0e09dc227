"""`dqhw build (RUN | MODEL.onnx) --board pynq-z2`: the graph (a dqhw run, Brevitas-exported, or any
QONNX/FINN-ONNX file) -> finn-plus steps -> dqhw nodes -> folded dataflow graph, verification against
independent oracles, RTL, FIFO sizing, the RTL proof, board package (see dqhw.flow and docs/build.md).
ECP5 boards (ulx3s-85f, orangecrab-25f): place and route with the open flow and a bitstream instead of
the Vivado package (dqhw.synth.ecp5)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    from dqhw.boards import BOARDS

    p.add_argument("model", metavar="RUN|MODEL.onnx",
                   help="a run directory (dqhw train --out RUN) or a QONNX / FINN-ONNX file (docs/qonnx.md)")
    p.add_argument("--board", default="pynq-z2",
                   help="target board: " + ", ".join(f"{b.name} ({b.part}, {b.clock_mhz:g} MHz)" for b in
                                                     sorted(BOARDS.values(), key=lambda b: b.name))
                   + " (default pynq-z2)")
    fold = p.add_mutually_exclusive_group()
    fold.add_argument("--target-fps", type=int, default=None,
                      help="the cheapest balanced folding reaching this frame rate (default: the fastest design "
                           "that fits the board's budget)")
    fold.add_argument("--folding", default=None, help="finn-format folding JSON (e.g. a build's folding_config.json)")
    clock = p.add_mutually_exclusive_group()
    clock.add_argument("--clock-ns", type=float, default=None, help="clock period in ns (default: the board's)")
    clock.add_argument("--clock-mhz", type=float, default=None,
                       help="clock frequency in MHz (instead of --clock-ns); on an ECP5 board the place_route step "
                            "checks the routed design against it (a PLL from the oscillator when they differ)")
    p.add_argument("--out", default=None, help="build directory (default builds/<run>-<board>)")
    p.add_argument("--verify-frames", type=int, default=64, help="clean test frames to verify on (default 64)")
    p.add_argument("--exec-frames", type=int, default=8,
                   help="frames per set also run through execute_onnx (slow; default 8)")
    p.add_argument("--frames", default=None, metavar="FRAMES.npz",
                   help="model file only: clean frames to verify and prove on (npz: `images` uint8 NHWC, `labels` "
                        "optional; default: seeded random frames)")
    p.add_argument("--input-scale", type=float, default=1.0,
                   help="model file only: the graph's input = uint8 pixel * SCALE + OFFSET (default 1: raw pixels "
                        "0..255; e.g. 0.00392156862745098 for inputs in [0, 1])")
    p.add_argument("--input-offset", type=float, default=0.0, help="model file only: see --input-scale (default 0)")
    p.add_argument("--accept-rewrites", action="store_true",
                   help="model file only: build a graph rewrite that changes what the file computes (Brevitas' "
                        "1-bit QuantReLU exported as Relu -> BipolarQuant, read as {0, s}); the build then reports "
                        "how many frames the hardware differs from the file on (default: refuse, docs/qonnx.md)")
    p.add_argument("--prove-frames", type=int, default=16,
                   help="clean frames the build simulates through its finished RTL and compares with the golden "
                        "model, plus up to 8 of each adversarial set (at least 16; default 16)")
    p.add_argument("--no-rtl", action="store_true",
                   help="stop after the folded dataflow graph (no Verilog, FIFO sizing or board package)")
    p.add_argument("--lut-budget", type=float, default=85.0, metavar="PCT",
                   help="the design must fit in this share of the board's LUTs (default 85)")
    p.add_argument("--bram-budget", type=float, default=90.0, metavar="PCT",
                   help="... of its BRAM18s (default 90)")
    p.add_argument("--dsp-budget", type=float, default=90.0, metavar="PCT", help="... of its DSPs (default 90)")
    p.add_argument("--allow-overfull", action="store_true",
                   help="build a design that exceeds the budget anyway (a warning instead of an error)")
    synth = p.add_mutually_exclusive_group()
    synth.add_argument("--synth", dest="synth", action="store_true", default=None,
                       help="synthesize the proven RTL with Yosys for xc7 (per layer LUT/FF/BRAM/levels in the "
                            "report; default: only when the estimated design is small, docs/build.md)")
    synth.add_argument("--no-synth", dest="synth", action="store_false", help="never synthesize")
    p.add_argument("--no-place-route", action="store_true",
                   help="ECP5 boards: stop after the RTL proof (no synth_ecp5, nextpnr-ecp5, ecppack or bitstream)")
    p.add_argument("--allow-timing-fail", action="store_true",
                   help="ECP5 boards: keep a routed design that misses its clock (a warning instead of an error)")
    p.add_argument("--start-step", default=None, metavar="STEP",
                   help="restart the build in --out at this step, from the models and records its earlier steps "
                        "saved under intermediate/ (docs/build.md, Steps)")
    p.add_argument("--stop-step", default=None, metavar="STEP",
                   help="stop after this step; the build folder keeps its intermediates for --start-step")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def run(args: argparse.Namespace) -> int:
    from dqhw.errors import DqhwError
    from dqhw.flow.pipeline import BuildOptions, build

    if args.clock_mhz is not None and not args.clock_mhz > 0:
        raise DqhwError(f"--clock-mhz must be > 0, got {args.clock_mhz}")
    clock_ns = 1000.0 / args.clock_mhz if args.clock_mhz is not None else args.clock_ns
    opts = BuildOptions(model=args.model, board=args.board, clock_ns=clock_ns, target_fps=args.target_fps,
                        folding=args.folding, out=args.out, verify_frames=args.verify_frames,
                        exec_frames=args.exec_frames, lut_budget=args.lut_budget,
                        bram_budget=args.bram_budget, dsp_budget=args.dsp_budget, allow_overfull=args.allow_overfull,
                        rtl=not args.no_rtl, prove_frames=args.prove_frames, frames=args.frames,
                        input_scale=args.input_scale, input_offset=args.input_offset, synth=args.synth,
                        place_route=not args.no_place_route, allow_timing_fail=args.allow_timing_fail,
                        accept_rewrites=args.accept_rewrites, start_step=args.start_step,
                        stop_step=args.stop_step)

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    out = build(opts, progress=progress)
    import json

    if args.stop_step:
        print(f"build {out}: stopped after {args.stop_step}; continue with --start-step STEP --out {out}")
        return 0

    s = json.loads((out / "report" / "summary.json").read_text())
    v = s["verification"]
    b = s["bottleneck"] or {"name": "unknown"}
    rewritten = v.get("original_file")
    oracles = ", ".join(f"{o['oracle']}{' (rewritten graph)' if rewritten and o['oracle'] == 'qonnx' else ''} "
                        f"{o['frames']} frames {'pass' if o['passed'] else 'FAIL'}"
                        for o in v["oracles"] if o["independent"])
    print(f"build {out}: {b['name']} bottleneck {s['cycles_per_frame']} cycles/frame, "
          f"{s['estimated_fps']} FPS @ {s['clock_mhz']} MHz; LUT {s['resources']['estimated']['LUT']}"
          f"/{s['resources']['available']['LUT']}, BRAM18 {s['resources']['estimated']['BRAM18']}"
          f"/{s['resources']['available']['BRAM18']}; golden vs oracles: {oracles} ({s['build_seconds']} s)")
    if rewritten:
        print(f"rewritten {out}: the hardware computes the rewritten graph, not the file as written "
              f"({rewritten['rewrite']}); RTL = golden = the rewritten graph; RTL vs the original file: "
              f"{rewritten['differing_frames']} of {rewritten['frames']} frames differ")
    rtl = s.get("rtl")
    if rtl:
        p = rtl["proof"]
        print(f"rtl {out}/rtl: proven on {p['frames']} frames in Verilator, {p['mismatches']} mismatches with the "
              f"golden model; {rtl['cycles_per_frame_measured']} cycles/frame measured "
              f"(estimate {rtl['cycles_per_frame_estimated']}), {rtl['fps_measured_at_clock']} FPS; "
              f"`make sim BUILD={out}` runs "
              + ("the test split and adversarial sets" if s.get("source_kind", "run") == "run"
                 else "the frames the build was verified on (or --frames FILE)"))
        print(rtl["bitstream"])
    syn = s.get("synthesis") or {}
    if syn.get("status") == "ok":
        t = syn["totals"]
        print(f"synth {out}/report/synth.json (Yosys, xc7): LUT {t['LUT']}, FF {t['FF']}, BRAM18 {t['BRAM18']}, "
              f"DSP {t['DSP']}, worst path {t['levels']} logic levels ({t['worst_stage']}); "
              f"{syn['seconds']} s")
    pr = s.get("place_route") or {}
    if pr.get("status") == "ok":
        print(place_route_line(out, pr))
    for w in s["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def place_route_line(out, pr: dict) -> str:
    u, t = pr["utilization"], pr["tool_seconds"]
    used = ", ".join(f"{k} {u[k]['used']:,}/{u[k]['available']:,}" for k in ("LUT4", "FF", "EBR", "MULT18") if k in u)
    clocks = "; ".join(f"{c['clock']} Fmax {c['achieved_mhz']} MHz at {c['target_mhz']:g} MHz "
                       f"({'met' if c['met'] else 'MISSED'}"
                       + (f", critical path from {c['critical_path']['stage']}" if (c.get("critical_path") or {}).get(
                           "stage") else "") + ")" for c in pr["timing"]["clocks"])
    return (f"place_route {out}/report/place_route.json (nextpnr-ecp5, {pr['board']}): {used}; {clocks}; "
            f"yosys {t['yosys']} s, nextpnr {t['nextpnr']} s, ecppack {t['ecppack']} s"
            + (" (cached)" if pr["cached"] else ""))
