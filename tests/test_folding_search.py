"""dqhw's folding search (dqhw.folding.search) and the board budget: the default build is the
fastest balanced design that fits, over-budget designs stop in one line unless --allow-overfull."""

from __future__ import annotations

import json
import random

import pytest

from dqhw import estimate
from tests.build_helpers import built, run_dir
from tests.conftest import assert_one_line_error, run_cli

RUN = dict(bits="2", wbits="2", seed=2)


# --------------------------------------------------------------------------------------------------
# the BRAM model: hand-computed RAMB18 counts (UG473 aspect ratios 512x36 .. 16kx1)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth, width, expected", [
    (512, 36, 1), (513, 36, 2), (1024, 18, 1), (16384, 1, 1), (16385, 1, 2), (64, 72, 2),
    (24576, 48, 72),  # CNV conv6 at PE 1, SIMD 24: 1k x 18 -> 24 deep x 3 wide
    (4096, 8, 2), (100, 1, 1), (0, 8, 0),
])
def test_bram18_counts(depth, width, expected):
    assert estimate.bram18(depth, width) == expected


def test_fifo_model_moves_deep_fifos_to_bram():
    shallow, deep = estimate.fifo(32, 24), estimate.fifo(3074, 24)
    assert shallow.bram18 == 0 and shallow.lut > 0
    assert deep.bram18 == estimate.bram18(3074, 24) == 6  # 2k x 9: 2 deep x 3 wide; 4k x 4: 1 x 6
    assert deep.lut < 200


# --------------------------------------------------------------------------------------------------
# the search, on a real specialized finn graph (digits, 2-bit)
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finn_graph():
    import dqhw.finn_compat as fc

    fc.prepare()
    from qonnx.core.modelwrapper import ModelWrapper

    b = built("thr_b2", **RUN)
    path = next((b / "intermediate").glob("*_specialize_layers.onnx"))
    return ModelWrapper(str(path))


def _plan_cost(units, picks, fixed, reserve):
    from dqhw.folding.search import converters

    total = fixed + reserve + converters(units, picks)
    for c in picks:
        total = total + c.cost
    return total


def _ratio_ok(a, b):
    return a % b == 0 or b % a == 0


def test_search_fits_and_no_random_folding_beats_it(finn_graph):
    from dqhw.boards import get_board
    from dqhw.folding import search as fs

    board = get_board("pynq-z2")
    for budget in (fs.Budget(), fs.Budget(lut=12.0, bram=20.0)):
        units, plan = fs.search(finn_graph, board, budget, 10.0)
        assert plan.fits
        limits = budget.limits(board)
        assert plan.total.lut <= limits.lut and plan.total.bram18 <= limits.bram18
        assert plan.interval == max(c.cycles for c in plan.choices)
        for a, b in zip(plan.choices, plan.choices[1:]):
            assert a.out_elems.links(b.in_elems), "a width converter finn's RTL cannot build would be needed"
        # independent check: 3000 random foldings (one choice per unit, integer stream ratios) that fit
        # the same budget; none may be faster than the search's plan
        _, fixed, _ = fs.build_units(finn_graph, board.part)
        reserve = estimate.Resources(lut=int(board.lut * fs.FIFO_RESERVE["lut"]),
                                     bram18=int(board.bram18 * fs.FIFO_RESERVE["bram18"]))
        rng = random.Random(0)
        for _ in range(3000):
            picks = [rng.choice(u.choices) for u in units]
            if not all(a.out_elems.links(b.in_elems) for a, b in zip(picks, picks[1:])):
                continue
            total = _plan_cost(units, picks, fixed, reserve)
            if total.lut <= limits.lut and total.bram18 <= limits.bram18 and total.dsp <= limits.dsp:
                assert max(c.cycles for c in picks) >= plan.interval


def test_tighter_budget_gives_a_slower_smaller_design(finn_graph):
    from dqhw.boards import get_board
    from dqhw.folding import search as fs

    board = get_board("pynq-z2")
    _, wide = fs.search(finn_graph, board, fs.Budget(), 10.0)
    _, tight = fs.search(finn_graph, board, fs.Budget(lut=10.0), 10.0)
    assert tight.interval > wide.interval and tight.total.lut < wide.total.lut


def test_target_cycles_gives_the_cheapest_balanced_design(finn_graph):
    from dqhw.boards import get_board
    from dqhw.folding import search as fs

    board = get_board("pynq-z2")
    units, plan = fs.search(finn_graph, board, fs.Budget(), 10.0, target_cycles=10_000)
    assert plan.interval <= 10_000 and plan.fits
    for unit, choice in zip(units, plan.choices):
        # no cheaper choice of the same unit also meets the target (with the same stream ratios)
        cheaper = [c for c in unit.choices if c.cycles <= 10_000 and c.cost.lut + 50 * c.cost.bram18
                   < choice.cost.lut + 50 * choice.cost.bram18 and c.in_elems == choice.in_elems
                   and c.out_elems == choice.out_elems and c.cost.bram18 <= choice.cost.bram18
                   and c.cost.lut <= choice.cost.lut]
        assert not cheaper, (unit.name, choice.attrs, cheaper[0].attrs)


# --------------------------------------------------------------------------------------------------
# the budget at the command line
# --------------------------------------------------------------------------------------------------
def test_over_budget_is_one_line_and_allow_overfull_builds(tmp_path, capsys):
    run = run_dir("thr_b2", **RUN)
    out = tmp_path / "b"
    code, _, err = run_cli(["build", run, "--out", out, "--lut-budget", "1", "--no-rtl", "--quiet"], capsys)
    assert_one_line_error(code, err, "does not fit the pynq-z2 within LUT <= 1 %")
    assert "--allow-overfull" in err and not out.exists()
    code, _, err = run_cli(["build", run, "--out", out, "--lut-budget", "1", "--allow-overfull", "--no-rtl",
                            "--verify-frames", "4", "--exec-frames", "1", "--quiet"], capsys)
    assert code == 0, err
    info = json.loads((out / "build.json").read_text())
    assert any(w.startswith("--allow-overfull") for w in info["warnings"])
    assert info["folding_source"] == "fastest that fits"


def test_bad_budget_is_one_line(tmp_path, capsys):
    code, _, err = run_cli(["build", run_dir("thr_b2", **RUN), "--out", tmp_path / "b", "--bram-budget", "0",
                            "--quiet"], capsys)
    assert_one_line_error(code, err, "--bram-budget must be a percentage")


def test_fifo_storage_moves_wide_fifos_into_bram_when_luts_run_out():
    from dqhw.folding.search import choose_fifo_storage

    fifos = {"fifo_0": (200, 384), "fifo_1": (200, 8), "fifo_2": (2, 16)}
    limits = estimate.Resources(lut=10_000, bram18=100, dsp=10)
    # plenty of room: dqhw_fifo's default everywhere
    assert set(choose_fifo_storage(fifos, estimate.Resources(lut=1_000), limits).values()) == {"auto"}
    # LUTs short: the 384-bit FIFO (about 1 k LUT of LUT-RAM, 11 BRAM18) goes to block RAM first
    base = estimate.Resources(lut=9_500, bram18=10)
    styles = choose_fifo_storage(fifos, base, limits)
    assert styles["fifo_0"] == "block" and styles["fifo_2"] == "auto"
    total = base
    for k, (d, w) in fifos.items():
        total = total + estimate.fifo(d, w, styles[k])
    assert total.lut <= limits.lut and total.bram18 <= limits.bram18
    # no BRAM left: nothing can move
    assert choose_fifo_storage(fifos, estimate.Resources(lut=9_500, bram18=100), limits)["fifo_0"] == "auto"


def test_glue_over_the_reserve_folds_again(tmp_path, monkeypatch):
    """With no reserve for FIFOs and width converters, the fastest folding under a tight LUT budget
    overflows once they are in: the build folds again with their measured cost and then fits."""
    from dqhw.flow.pipeline import BuildOptions, build
    from dqhw.folding import search as fs

    monkeypatch.setattr(fs, "FIFO_RESERVE", {"lut": 0.0, "bram18": 0.0})
    out = build(BuildOptions(model=str(run_dir("thr_b2", **RUN)), out=str(tmp_path / "b"), lut_budget=10.0,
                             verify_frames=4, exec_frames=1, rtl=False))
    info = json.loads((out / "build.json").read_text())
    refolds = [s for s in info["steps"] if "refold" in s]
    assert refolds and refolds[0]["step"] == "check_fit_estimate"
    assert [s["step"] for s in info["steps"]].count("folding") == 1 + len(refolds)
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert summary["resources"]["estimated"]["LUT"] <= 0.10 * 53_200


def test_width_converter_model_matches_synthesis():
    """finn's converter synthesized alone with Yosys (xc7): 128 -> 8 bits 1,028 LUT, 128 -> 2 1,854,
    1152 -> 128 4,768 (down); 8 -> 128 55, 2 -> 128 146, 128 -> 1152 161 (up). finn's model says 8-75
    whatever the widths; dqhw's may overestimate (safe for fitting) by up to 60 % and underestimate by
    at most 30 % (or 40 LUT)."""
    for (win, wout), lut in (((128, 8), 1028), ((128, 2), 1854), ((1152, 128), 4768), ((8, 128), 55),
                             ((2, 128), 146), ((128, 1152), 161)):
        assert 0.7 * lut - 40 <= estimate.dwc(win, wout).lut <= 1.6 * lut + 40, (win, wout)
    assert estimate.dwc(64, 64).lut == 0


@pytest.mark.parametrize("ibits, obits", [(1, 128), (1, 257), (2, 576), (2, 256), (392, 1), (8, 392), (300, 1)])
def test_width_converter_limit_matches_verilator(ibits, obits):
    """The search keeps streams finn's width converter builds in Verilator: what Stream.links allows
    must be what `verilator --lint-only` of finn-rtllib's dwc_axi.sv + vpc.sv accepts (dqhw's limit,
    128, is below Verilator's, 256: ratios of exactly 256 deadlocked LFC W1A2)."""
    from pathlib import Path

    import finn

    from dqhw.folding.search import stream
    from dqhw.simulate.verilator import lint

    hdl = Path(finn.__file__).parent / "finn-rtllib" / "dwc" / "hdl"
    res = lint([hdl / "dwc_axi.sv", hdl / "vpc.sv"], top="dwc_axi", parameters={"IBITS": ibits, "OBITS": obits},
               extra_args=["-Wno-fatal"])  # finn's style warnings are not ours; errors are
    builds = not any(w.startswith("%Error") for w in res.warnings)
    assert stream(ibits, 1).links(stream(obits, 1)) == builds


def test_converter_vectors_must_tile_the_frame():
    """dwc_axi.sv converts in vectors of IBITS x OBITS bits: LFC W1A2's 16 -> 2048-bit converter on a
    2,048-bit frame held every frame back (deadlock at the end of a run); 16 -> 128 bits tiles it."""
    from dqhw.folding.search import stream

    assert not stream(8, 2, 1024).links(stream(1024, 2, 1024))
    assert stream(8, 2, 1024).links(stream(64, 2, 1024))
    assert stream(4, 2, 1024).links(stream(4, 2, 1024))  # no converter at all
