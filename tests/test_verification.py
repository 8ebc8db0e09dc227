"""The verification chain must not let wrong hardware through (issue 8).

One digits build whose input goes through a 4-bit input quantizer (`--input-bits 4`): finn turns
that into a standalone Thresholding_rtl layer whose thresholds live in `.dat` files next to its
generated wrapper. On an earlier main those files were never shipped: Verilator warned, simulated
with all-zero thresholds, the build said "done" and the RTL was wrong on most frames.

Checked here, each against something dqhw's own code does not compute:
- the build proves its RTL (every logit and class vs the golden model) and `dqhw sim` passes;
- every memory file is in BUILD/rtl and memfiles.f; a missing one fails `dqhw sim` with one line
  naming it; a `$readmem` warning is fatal in any Verilator run;
- faults injected into a finished design (one weight bit, one threshold, one FIFO depth) are caught
  by the build's own proof and by `dqhw sim`;
- random initial state (`--x-initial unique`, +verilator+rand+reset+2) really randomises, and the
  design still matches the golden model under it;
- the float oracles' rule (logits equal up to the output scale, classes differ only at ties).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dqhw.errors import DqhwError, MismatchError
from tests.build_helpers import TEST_FPS
from tests.conftest import assert_one_line_error, run_cli

LIMIT = 16


@pytest.fixture(scope="module")
def thr_build(tmp_path_factory) -> Path:
    """tiny, 2-bit, 4-bit input quantizer -> dqhw build with RTL (sized, sealed, proven)."""
    from dqhw.flow.pipeline import BuildOptions, build
    from tests.build_helpers import make_run

    root = tmp_path_factory.mktemp("verif")
    run = make_run(root / "run", bits="2", wbits="2", seed=5, input_bits="4")
    return build(BuildOptions(model=str(run), out=str(root / "build"), target_fps=TEST_FPS))


def _copy_build(build: Path, dest: Path) -> Path:
    shutil.copytree(build, dest, ignore=shutil.ignore_patterns("sim"))
    return dest


def _flip_word_bit(path: Path, line: int = 0, bit: int = 0) -> None:
    lines = path.read_text().split()
    w = lines[line]
    lines[line] = format(int(w, 16) ^ (1 << bit), f"0{len(w)}x")
    path.write_text("\n".join(lines) + "\n")


def _shrink_deepest_fifo(rtl: Path) -> str:
    """Set the deepest FIFO of dqhw_accel.v to depth 2 (the only place the depth is a parameter)."""
    from dqhw.rtlgen.generate import Design

    design = Design.load(rtl)
    name, depth = max(design.fifos.items(), key=lambda kv: kv[1])
    assert depth > 2, design.fifos
    top = (rtl / "dqhw_accel.v").read_text()
    at = top.index(f") {name} (")
    start = top.rindex(f".DEPTH({depth})", 0, at)
    (rtl / "dqhw_accel.v").write_text(top[:start] + ".DEPTH(2)" + top[start + len(f".DEPTH({depth})"):])
    return name


# --------------------------------------------------------------------------------------------------
# the regression: a standalone thresholding layer (input quantizer) builds into correct RTL
# --------------------------------------------------------------------------------------------------
@pytest.mark.rtl
def test_input_quantizer_thresholding_is_shipped_proven_and_simulates(thr_build, capsys):
    from dqhw.rtlgen.generate import Design

    rtl = thr_build / "rtl"
    design = Design.load(rtl)
    assert any(s.op_type == "Thresholding_rtl" for s in design.stages), [s.op_type for s in design.stages]
    dats = [f for f in design.data_files if f.endswith(".dat")]
    assert dats and all((rtl / f).is_file() for f in design.data_files)
    assert (rtl / "memfiles.f").read_text().split() == design.data_files
    info = json.loads((thr_build / "build.json").read_text())
    proof = info["rtl"]["proof"]
    assert proof["passed"] and proof["mismatches"] == 0 and proof["frames"] >= 16
    # FIFO sizing compiled twice: the generous design once for every trial of depths (run-time limits),
    # the sized design once, and the proof reused that second compile
    sizing = json.loads((rtl / "fifo_sizing.json").read_text())
    assert sizing["trials"] and sizing["rounds"], sizing
    assert sizing["trials"][-1]["depths"] == sizing["rounds"][0]["depths"]
    assert proof["compile_s"] == 0, proof
    code, _, err = run_cli(["sim", thr_build, "--limit", LIMIT, "--quiet"], capsys)
    assert code == 0, err
    report = json.loads((thr_build / "sim" / "report.json").read_text())
    assert report["total_mismatches"] == 0 and report["total_frames"] == LIMIT
    # the protocol run (stalls, reset mid-frame) starts from a random initial state
    assert report["protocol"]["passed"] and report["protocol"]["x_mode"] == "random"
    # the Vivado script reads the memory file list, not a glob of one extension
    assert "memfiles.f" in (thr_build / "board" / "build_bitstream.tcl").read_text()


@pytest.mark.rtl
@pytest.mark.parametrize("pattern", ["Thresholding_rtl_0_threshs_*.dat", "DqhwMVAU_0_weights.memh"])
def test_missing_memory_file_fails_sim_with_one_line_naming_it(thr_build, tmp_path, capsys, pattern):
    build = _copy_build(thr_build, tmp_path / "build")
    victim = sorted((build / "rtl").glob(pattern))[-1]
    victim.unlink()
    code, _, err = run_cli(["sim", build, "--limit", 4, "--quiet"], capsys)
    assert_one_line_error(code, err, victim.name)


@pytest.mark.rtl
def test_readmem_warning_is_fatal_in_verilator_runs(thr_build, tmp_path):
    """A memory file the design description does not list (so no pre-check can see it) and that is
    missing: Verilator only warns at run time; dqhw fails the run naming the file."""
    from dqhw.simulate.runner import bulk_run

    build = _copy_build(thr_build, tmp_path / "build")
    d = json.loads((build / "rtl" / "design.json").read_text())
    victim = next(f for f in d["data_files"] if f.endswith(".dat"))
    d["data_files"].remove(victim)
    (build / "rtl" / "design.json").write_text(json.dumps(d))
    (build / "rtl" / victim).unlink()
    from dqhw.data import load_dataset

    with pytest.raises(DqhwError, match=r"\$readmem") as e:
        bulk_run(build / "rtl", tmp_path / "work", load_dataset("digits").x_test[:3])
    assert victim in str(e.value) and "\n" not in str(e.value)


def test_readmem_problems_parses_verilator_warnings():
    from dqhw.simulate.verilator import readmem_problems

    log = ("     0.00ns INFO cocotb\n%Warning: ./T_0_threshs_0_1.dat:0: $readmem file not found\n"
           "%Warning: DqhwMVAU_0_weights.memh:12: $readmem file ended before specified final address (1f)\n"
           "%Warning: unrelated\n")
    found = readmem_problems(log)
    assert len(found) == 2 and "T_0_threshs_0_1.dat" in found[0] and "ended before" in found[1]
    assert readmem_problems("all good\n") == []


@pytest.mark.rtl
def test_generation_refuses_rtl_that_references_a_missing_memory_file(thr_build, tmp_path):
    from dqhw.rtlgen.generate import Design, check_references

    rtl = tmp_path / "rtl"
    shutil.copytree(thr_build / "rtl", rtl)
    design = Design.load(rtl)
    dats = [f for f in design.data_files if f.startswith("Thresholding_rtl_0_")]
    for f in dats:
        (rtl / f).unlink()
    design.data_files = [f for f in design.data_files if f not in dats]
    with pytest.raises(DqhwError, match="Thresholding_rtl_0_"):
        check_references(rtl, design)
    design.files = design.files + ["missing_include_user.v"]
    (rtl / "missing_include_user.v").write_text('`include "nowhere.vh"\nmodule m; endmodule\n')
    design.data_files = design.data_files + dats  # the thresholds are fine again; the include is not
    for f in dats:
        shutil.copy(thr_build / "rtl" / f, rtl / f)
    with pytest.raises(DqhwError, match="nowhere.vh"):
        check_references(rtl, design)


# --------------------------------------------------------------------------------------------------
# faults injected into a finished design are caught: by the build's own proof and by dqhw sim
# --------------------------------------------------------------------------------------------------
def _build_with_fault(tmp_path: Path, monkeypatch, fault) -> Path:
    """dqhw build of a fresh run, with `fault(rtl_dir)` applied right after generate_rtl sealed the
    RTL (before the build's proof)."""
    from dqhw.flow import fifo_sizing
    from dqhw.flow.pipeline import BuildOptions, build
    from tests.build_helpers import make_run

    real = fifo_sizing.write_rtl

    def sealed_then_broken(model, rtl_dir, *args, **kw):
        real(model, rtl_dir, *args, **kw)
        fault(Path(rtl_dir))

    monkeypatch.setattr(fifo_sizing, "write_rtl", sealed_then_broken)
    run = make_run(tmp_path / "run", bits="2", wbits="2", seed=5, input_bits="4")
    out = tmp_path / "build"
    with pytest.raises(MismatchError) as e:
        build(BuildOptions(model=str(run), out=str(out), target_fps=TEST_FPS))
    assert not out.exists(), "a failed build must not leave a build directory that looks complete"
    return str(e.value)


@pytest.mark.rtl
def test_build_proof_catches_a_flipped_weight_bit(tmp_path, monkeypatch):
    msg = _build_with_fault(tmp_path, monkeypatch, lambda rtl: _flip_word_bit(rtl / "DqhwMVAU_3_weights.memh"))
    assert "RTL proof failed" in msg and "first differing layer: DqhwMVAU_3" in msg, msg
    assert "\n" not in msg


@pytest.mark.rtl
def test_build_proof_catches_a_changed_fifo_depth(tmp_path, monkeypatch):
    names = []
    msg = _build_with_fault(tmp_path, monkeypatch, lambda rtl: names.append(_shrink_deepest_fifo(rtl)))
    assert names and "RTL proof failed" in msg and "dqhw_accel.v differs from the sealed RTL" in msg, msg


@pytest.mark.rtl
def test_proof_catches_a_flipped_threshold(thr_build, tmp_path):
    """The build's proof step (prove_rtl, as the build calls it) on a copy with one input threshold changed."""
    from dqhw.data import load_dataset
    from dqhw.flow.prove import prove_rtl
    from dqhw.golden import GoldenModel

    build = _copy_build(thr_build, tmp_path / "build")
    dat = sorted((build / "rtl").glob("Thresholding_rtl_0_threshs_*.dat"))[0]
    _flip_word_bit(dat, line=0, bit=3)
    with pytest.raises(MismatchError, match="first differing layer: Thresholding_rtl_0"):
        prove_rtl(build, tmp_path / "work", [("clean", load_dataset("digits").x_test[:16])],
                  GoldenModel.from_build(build))


@pytest.mark.rtl
def test_sim_catches_flipped_threshold_and_changed_fifo_depth(thr_build, tmp_path, capsys):
    build = _copy_build(thr_build, tmp_path / "thr")
    _flip_word_bit(sorted((build / "rtl").glob("Thresholding_rtl_0_threshs_*.dat"))[0], line=0, bit=3)
    code, _, err = run_cli(["sim", build, "--limit", LIMIT, "--quiet"], capsys)
    assert_one_line_error(code, err, "first differing layer: Thresholding_rtl_0")

    build = _copy_build(thr_build, tmp_path / "fifo")
    _shrink_deepest_fifo(build / "rtl")
    code, _, err = run_cli(["sim", build, "--limit", LIMIT, "--quiet"], capsys)
    assert_one_line_error(code, err, "dqhw_accel.v")
    assert "sealed" in err or "throughput" in err, err


# --------------------------------------------------------------------------------------------------
# random initial state
# --------------------------------------------------------------------------------------------------
XPROBE_V = """`default_nettype none
module xprobe (input wire clk, output reg [31:0] q);
    reg [31:0] never_reset;  // no reset, no initial value: what a forgotten reset looks like
    always @(posedge clk) q <= never_reset;
endmodule
`default_nettype wire
"""
XPROBE_PY = """import os
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

@cocotb.test()
async def probe(dut):
    Clock(dut.clk, 10, unit="ns").start()
    for _ in range(3):
        await RisingEdge(dut.clk)
    with open(os.environ["XPROBE_OUT"], "w") as f:
        f.write(str(int(dut.q.value)))
"""


@pytest.mark.rtl
def test_random_initial_state_makes_an_unreset_register_visible(tmp_path):
    from dqhw.simulate.verilator import run_cocotb

    (tmp_path / "xprobe.v").write_text(XPROBE_V)
    (tmp_path / "test_xprobe.py").write_text(XPROBE_PY)
    seen = {}
    for mode, seed in (("fast", 1), ("random", 1), ("random", 2)):
        out = tmp_path / f"{mode}-{seed}.txt"
        res = run_cocotb([tmp_path / "xprobe.v"], "xprobe", "test_xprobe", tmp_path / f"build-{mode}",
                         test_dir=tmp_path / f"run-{mode}-{seed}", python_path=[tmp_path], seed=seed,
                         extra_env={"XPROBE_OUT": str(out)}, x_mode=mode)
        assert res.passed, res.message
        seen[(mode, seed)] = int(out.read_text())
    assert seen[("fast", 1)] == 0
    assert seen[("random", 1)] != 0 and seen[("random", 1)] != seen[("random", 2)], seen


@pytest.mark.rtl
def test_bulk_run_matches_golden_from_a_random_initial_state(thr_build, tmp_path):
    from dqhw.data import load_dataset
    from dqhw.golden import GoldenModel
    from dqhw.simulate.runner import bulk_run, compare

    x = load_dataset("digits").x_test[:8]
    ref = GoldenModel.from_build(thr_build).run(x)
    res = bulk_run(thr_build / "rtl", tmp_path / "work", x, x_mode="random", seed=7)
    cmp = compare(ref.labels, ref.logits, res)
    assert cmp.ok and not res.deadlock, cmp


# --------------------------------------------------------------------------------------------------
# the oracles' rule, and a build that an oracle contradicts
# --------------------------------------------------------------------------------------------------
def test_float_oracle_rule():
    from dqhw.verification import judge_float_logits

    g = np.array([[3, 7, 7, -1], [5, 0, 1, 2]])
    labels = np.array([1, 0])  # the hardware's argmax: lowest index among ties
    scale = 0.25
    exact = g * scale
    r = judge_float_logits(exact, scale, g, labels)
    assert r["passed"] and r["logit_mismatch_frames"] == 0 and r["class_disagreements"] == 0
    # float noise resolves the tie of frame 0 to class 2: allowed, and counted as a tie
    noisy = exact.astype(float).copy()
    noisy[0, 2] += 1e-7
    r = judge_float_logits(noisy, scale, g, labels)
    assert r["passed"] and r["class_disagreements"] == 1 and r["class_disagreements_at_ties"] == 1
    # one logit off by one integer step: fails even though the class is the same
    off = exact.astype(float).copy()
    off[1, 3] += scale
    r = judge_float_logits(off, scale, g, labels)
    assert not r["passed"] and r["logit_mismatch_frames"] == 1 and r["first_bad_frame"] == 1
    # a class change without a tie
    wrong = exact.astype(float).copy()
    wrong[1, 1] = 9 * scale
    r = judge_float_logits(wrong, scale, g, labels)
    assert not r["passed"] and r["class_disagreements"] - r["class_disagreements_at_ties"] == 1


def test_build_fails_when_an_oracle_disagrees(tmp_path, monkeypatch):
    """Brevitas' logits moved by one integer step on one frame: the build stops before any RTL."""
    from dqhw import verification as verify
    from dqhw.flow.export import final_scale
    from dqhw.flow.pipeline import BuildOptions, build
    from tests.build_helpers import make_run

    real = verify.brevitas_logits

    def off_by_one_step(run, images, batch=256):
        b = real(run, images, batch)
        if len(b):
            b[0, 0] += 1.01 * final_scale(run)
        return b

    monkeypatch.setattr(verify, "brevitas_logits", off_by_one_step)
    run = make_run(tmp_path / "run", bits="2", wbits="2", seed=9)
    with pytest.raises(MismatchError, match="brevitas vs golden on clean: 1 of 16 frames with different logits"):
        build(BuildOptions(model=str(run), out=str(tmp_path / "build"), verify_frames=16, exec_frames=2,
                           target_fps=TEST_FPS))
    assert not (tmp_path / "build").exists()


def test_report_prints_unknown_not_zero():
    """A figure finn cannot estimate is None in summary.json and "unknown" in summary.md."""
    from dqhw.flow.report import _figure, markdown, total

    def broken(*_):
        raise TypeError("no estimate")

    assert _figure(broken, "xc7z020clg400-1") is None and total([3, None]) is None and total([3, 4]) == 7
    row = {"name": "X_0", "type": "StreamingFIFO_rtl", "in_dtype": "UINT2", "out_dtype": "UINT2", "cycles": None,
           "resources": {"LUT": None, "BRAM18": 0, "DSP": 0}}
    summary = {"source": "r", "board": "pynq-z2", "part": "p", "clock_ns": 10.0, "clock_mhz": 100.0, "bottleneck": None,
               "estimated_fps": None, "layers": [row],
               "resources": {"estimated": {"LUT": None, "BRAM18": 0, "DSP": 0},
                             "available": {"LUT": 1, "BRAM18": 1, "DSP": 1},
                             "utilization_percent": {"LUT": None, "BRAM18": 0.0, "DSP": 0.0}, "fits": None,
                             "note": "n"},
               "verification": {"oracles": [], "sets": []}, "warnings": []}
    md = markdown(summary)
    assert "| LUT | unknown |" in md and "Fits the board: unknown" in md
    assert "| unknown | unknown | 0 |" in md
