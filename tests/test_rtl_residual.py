"""The residual-graph modules under Verilator with random backpressure, against plain-loop references
written here (not dqhw's code under test): dqhw_add (the integer convex-combination add of two
streams) and dqhw_global_acc_pool (global sum pooling). dqhw_stream_fork (the residual fork) has its
own test (tests/test_rtl_fork.py); `verilator --lint-only -Wall` of every rtl/ file and the
illegal-parameter checks are in tests/test_rtl_modules.py."""

from __future__ import annotations

import random

import pytest

from tests.test_rtl_modules import _run, build_root, ref_pack, write_vectors  # noqa: F401  (build_root: a fixture)

pytestmark = pytest.mark.rtl


def ref_add_range(wa: int, a_bits: int, a_signed: int, wb: int, b_bits: int, b_signed: int) -> tuple[int, int]:
    """Smallest and largest WA * a + WB * b, by trying the four corners of the input ranges."""
    def corners(bits, signed):
        return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    sums = [wa * x + wb * y for x in corners(a_bits, a_signed) for y in corners(b_bits, b_signed)]
    return min(sums), max(sums)


def ref_out_bits(lo: int, hi: int) -> int:
    """Bits of the smallest UINTb (lo >= 0) or INTb holding lo..hi, by counting up."""
    bits = 1
    while True:
        if lo >= 0 and hi < (1 << bits):
            return bits
        if lo < 0 and -(1 << (bits - 1)) <= lo and hi < (1 << (bits - 1)):
            return bits
        bits += 1


ADD_CASES = [
    dict(ch=16, pe=1, a=2, sa=0, b=2, sb=0, wa=8, wb=7, seed=1),     # dqhw's wrn: lam = 8/15, UINT2
    dict(ch=32, pe=4, a=3, sa=0, b=2, sb=0, wa=1, wb=14, seed=2),
    dict(ch=12, pe=3, a=4, sa=1, b=3, sb=0, wa=5, wb=3, seed=3),     # a signed: two's complement
    dict(ch=8, pe=8, a=2, sa=1, b=2, sb=1, wa=255, wb=1, seed=4),    # both signed, one beat per pixel
]


@pytest.mark.parametrize("spec", ADD_CASES, ids=[f"c{s['ch']}-pe{s['pe']}-w{s['wa']}.{s['wb']}" for s in ADD_CASES])
def test_add(spec, build_root):  # noqa: F811  (the fixture)
    case = f"c{spec['ch']}-pe{spec['pe']}-w{spec['wa']}.{spec['wb']}-s{spec['sa']}{spec['sb']}"
    d = build_root / f"dqhw_add-{case}"
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random(spec["seed"])
    lo, hi = ref_add_range(spec["wa"], spec["a"], spec["sa"], spec["wb"], spec["b"], spec["sb"])
    out_bits = ref_out_bits(lo, hi)

    def draw(bits, signed):
        return rng.randint(-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else rng.randint(0, (1 << bits) - 1)

    n = spec["ch"] * 40  # 40 pixels
    a = [draw(spec["a"], spec["sa"]) for _ in range(n)]
    b = [draw(spec["b"], spec["sb"]) for _ in range(n)]
    # the extremes first: every corner of the ranges reaches the output
    ext_a = [-(1 << (spec["a"] - 1)), (1 << (spec["a"] - 1)) - 1] if spec["sa"] else [0, (1 << spec["a"]) - 1]
    ext_b = [-(1 << (spec["b"] - 1)), (1 << (spec["b"] - 1)) - 1] if spec["sb"] else [0, (1 << spec["b"]) - 1]
    for i, (x, y) in enumerate((x, y) for x in ext_a for y in ext_b):
        a[i], b[i] = x, y
    out = []
    for i in range(n):
        out.append(spec["wa"] * a[i] + spec["wb"] * b[i])
    assert min(out) >= lo and max(out) <= hi
    vec_file = write_vectors(d, {"a": ref_pack(a, spec["a"], spec["pe"]), "b": ref_pack(b, spec["b"], spec["pe"]),
                                 "out": ref_pack(out, out_bits, spec["pe"])})
    params = dict(CHANNELS=spec["ch"], PE=spec["pe"], A_BITS=spec["a"], A_SIGNED=spec["sa"], B_BITS=spec["b"],
                  B_SIGNED=spec["sb"], WA=spec["wa"], WB=spec["wb"], OUT_BITS=out_bits)
    _run("dqhw_add", case, params, {"vectors": vec_file}, build_root)


GAP_CASES = [
    dict(ch=64, pe=1, pixels=64, bits=2, seed=11),   # dqhw's wrn: 8x8x64 UINT2 -> UINT8 sums
    dict(ch=12, pe=4, pixels=9, bits=3, seed=12),
    dict(ch=5, pe=5, pixels=1, bits=4, seed=13),     # one pixel: the sum is the input
]


@pytest.mark.parametrize("spec", GAP_CASES, ids=[f"c{s['ch']}-pe{s['pe']}-px{s['pixels']}" for s in GAP_CASES])
def test_global_acc_pool(spec, build_root):  # noqa: F811  (the fixture)
    case = f"c{spec['ch']}-pe{spec['pe']}-px{spec['pixels']}-b{spec['bits']}"
    d = build_root / f"dqhw_global_acc_pool-{case}"
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random(spec["seed"])
    ch, pixels, bits = spec["ch"], spec["pixels"], spec["bits"]
    out_bits = ref_out_bits(0, pixels * ((1 << bits) - 1))
    frames = 4
    elems, sums = [], []
    for f in range(frames):
        frame = [[rng.randint(0, (1 << bits) - 1) for _ in range(ch)] for _ in range(pixels)]
        if f == 0:
            frame = [[(1 << bits) - 1] * ch for _ in range(pixels)]  # the largest sum first
        for px in frame:
            elems += px
        for c in range(ch):
            total = 0
            for px in frame:
                total += px[c]
            sums.append(total)
    vec_file = write_vectors(d, {"in": ref_pack(elems, bits, spec["pe"]),
                                 "out": ref_pack(sums, out_bits, spec["pe"])})
    params = dict(CHANNELS=ch, PE=spec["pe"], PIXELS=pixels, IN_BITS=bits, OUT_BITS=out_bits)
    _run("dqhw_global_acc_pool", case, params, {"vectors": vec_file}, build_root)
