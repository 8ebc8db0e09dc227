"""Every HLS layer in hls/ compiled with g++ and run on seeded random inputs (signed, bipolar, XNOR and
1-bit cases, folds that do not divide evenly into powers of two), compared beat for beat with the
plain-loop references of the RTL module tests (tests/test_rtl_modules.py) or plain loops written here:
never with dqhw.contract or dqhw.hlsgen, so the C++ is not checked against the code that feeds it.

All cases go into one C++ test driver (one g++ run, ~20 s); each test runs it for its case: input
beats as hex lines on stdin, output beats as hex lines into a file; anything hls::stream prints
(a read of an empty stream, data left in a stream) fails the case.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from dqhw.errors import DqhwError
from dqhw.resources import hw_dir
from tests.test_rtl_modules import (
    ref_acc_bounds,
    ref_matvec,
    ref_pack,
    ref_signed_bits,
    ref_threshold,
    ref_xnor_popcount,
)

pytestmark = pytest.mark.hls


def _toolchain() -> tuple[str, list[Path]]:
    from dqhw.simulate.hls_csim import find_toolchain

    try:
        return find_toolchain()
    except DqhwError as e:
        pytest.skip(f"HLS C-simulation needs g++ and hls4ml's ap_types headers: {e}")


# --------------------------------------------------------------------------------------------------
# plain-loop references and test data
# --------------------------------------------------------------------------------------------------
def ref_unpack(beats, bits: int, per_beat: int, signed: bool) -> list[int]:
    out = []
    for word in beats:
        for lane in range(per_beat):
            v = (int(word) >> (lane * bits)) & ((1 << bits) - 1)
            if signed and v >= 1 << (bits - 1):
                v -= 1 << bits
            out.append(v)
    return out


def rand_values(rng: random.Random, n: int, bits: int, signed: bool) -> list[int]:
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return [rng.randint(lo, hi) for _ in range(n)]


def rand_thresholds(rng: random.Random, channels: int, n: int, lo: int, hi: int) -> list[list[int]]:
    """Ascending thresholds per channel, spread over (a little beyond) the value range."""
    return [sorted(rng.randint(lo - 2, hi + 2) for _ in range(n)) for _ in range(channels)]


def cpp_literal(v: int) -> str:
    return f"{v}" if v < 0 else f"0x{v:x}ULL" if v < (1 << 64) else f'"{v:x}"'


def cpp_array(ctype: str, name: str, dims: list[int], flat: list[int]) -> str:
    """`static const ctype name[d0][d1]... = {...};` with values in C order."""
    def wide(v):  # > 64 bits: the ap_uint string constructor
        return f'{ctype}("{v:x}", 16)' if v >= (1 << 64) else cpp_literal(v)

    def nest(vals, ds):
        if len(ds) == 1:
            return "{" + ", ".join(wide(v) for v in vals) + "}"
        step = len(vals) // ds[0]
        return "{" + ", ".join(nest(vals[i * step:(i + 1) * step], ds[1:]) for i in range(ds[0])) + "}"

    return f"static const {ctype} {name}{''.join(f'[{d}]' for d in dims)} = {nest(list(flat), dims)};\n"


class Case:
    def __init__(self, name: str, in_w: int, out_w: int, beats_in: list[int], expected: list[int], call: str,
                 arrays: str = ""):
        self.name, self.in_w, self.out_w = name, in_w, out_w
        self.beats_in, self.expected, self.call, self.arrays = beats_in, expected, call, arrays

    def cpp(self) -> str:
        return (f"namespace {self.name} {{\n{self.arrays}"
                f"void run(std::istream &is, std::ostream &os) {{\n"
                f"    hls::stream<ap_uint<{self.in_w}> > in(\"in\");\n"
                f"    hls::stream<ap_uint<{self.out_w}> > out(\"out\");\n"
                f"    read_beats(is, in);\n    {self.call};\n    write_beats(os, out);\n}}\n}}\n")


DRIVER_HEAD = r"""
#include <fstream>
#include <iostream>
#include <string>
#include "dqhw_mvau.h"
#include "dqhw_thresholding.h"
#include "dqhw_maxpool.h"
#include "dqhw_sliding_window.h"
#include "dqhw_padding.h"
#include "dqhw_label_select.h"
#include "dqhw_width_converter.h"
#include "dqhw_stream_fork.h"

template <int W> void read_beats(std::istream &is, hls::stream<ap_uint<W> > &s) {
    std::string line;
    while (std::getline(is, line)) {
        if (line.empty()) continue;
        s.write(ap_uint<W>(line.c_str(), 16));
    }
}
template <int W> void write_beats(std::ostream &os, hls::stream<ap_uint<W> > &s) {
    while (!s.empty()) {
        ap_uint<W + 4> v = s.read();
        std::string hex;
        for (int i = (W + 3) / 4 - 1; i >= 0; i--) hex += "0123456789abcdef"[(unsigned)v(4 * i + 3, 4 * i)];
        os << hex << "\n";
    }
}
"""


# --------------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------------
def mvau_case(name, *, mw, mh, simd, pe, in_bits, in_signed=False, w_bits, xnor=False, thresholds=0, act_val=0,
              out_bits=0, vectors=3, seed=0) -> Case:
    """thresholds = 0: raw accumulators; else that many thresholds per channel, out_bits wide output."""
    rng = random.Random(seed)
    if w_bits == 1:
        w = [[rng.choice((-1, 1)) for _ in range(mw)] for _ in range(mh)]
    else:
        m = (1 << (w_bits - 1)) - 1
        w = [[rng.randint(-m, m) for _ in range(mw)] for _ in range(mh)]
    xs = [rand_values(rng, mw, 1 if xnor else in_bits, in_signed and not xnor) for _ in range(vectors)]
    if xnor:
        lo, hi = 0, mw
    else:
        xmin, xmax = (-(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1) if in_signed else (0, (1 << in_bits) - 1)
        lo, hi = ref_acc_bounds(w, xmax, xmin)
    acc_bits = ref_signed_bits(lo, hi + 1 if thresholds else hi)
    t = rand_thresholds(rng, mh, thresholds, lo, hi) if thresholds else None
    if t:  # thresholds beyond the range are clipped to lo .. hi + 1 (they then fit ACC_BITS)
        t = [[min(max(v, lo), hi + 1) for v in row] for row in t]
    nf, sf = mh // pe, mw // simd
    beats_in, expected = [], []
    ob = out_bits if thresholds else acc_bits
    for x in xs:
        acc = ref_xnor_popcount(w, x) if xnor else ref_matvec(w, x)
        vals = [act_val + c for c in ref_threshold(acc, t)] if thresholds else acc
        beats_in += ref_pack(x, 1 if xnor else in_bits, simd)
        expected += ref_pack(vals, ob, pe)
    # weights[p][nf*SF + sf]: SIMD lanes of row nf*PE + p, columns sf*SIMD .. (bipolar: bit 1 = +1)
    wmem = []
    for p in range(pe):
        for n in range(nf):
            for s in range(sf):
                lanes = [w[n * pe + p][s * simd + k] for k in range(simd)]
                wmem += ref_pack([(1 if v > 0 else 0) if w_bits == 1 else v for v in lanes], w_bits, simd)
    ib = 1 if xnor else in_bits
    arrays = cpp_array(f"ap_uint<{simd * w_bits}>", "W", [pe, nf * sf], wmem)
    common = f"{mw}, {mh}, {simd}, {pe}, {ib}, {str(in_signed).lower()}, {w_bits}, {str(xnor).lower()}, {acc_bits}"
    if thresholds:
        tmem = [t[n * pe + p][k] for p in range(pe) for n in range(nf) for k in range(thresholds)]
        arrays += cpp_array(f"ap_int<{acc_bits}>", "T", [pe, nf, thresholds], tmem)
        call = f"dqhw_mvau<{common}, {thresholds}, {out_bits}, {act_val}>(in, out, W, T, {vectors})"
    else:
        call = f"dqhw_mvau_acc<{common}>(in, out, W, {vectors})"
    return Case(name, simd * ib, pe * ob, beats_in, expected, call, arrays)


def thresholding_case(name, *, channels, pe, in_bits, in_signed, n, act_val, out_bits, pixels, seed) -> Case:
    rng = random.Random(seed)
    lo, hi = (-(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1) if in_signed else (0, (1 << in_bits) - 1)
    t = [[min(max(v, lo), hi + 1) for v in row] for row in rand_thresholds(rng, channels, n, lo, hi)]
    t_bits = ref_signed_bits(lo, hi + 1)
    x = rand_values(rng, pixels * channels, in_bits, in_signed)
    out = []
    for px in range(pixels):
        vals = x[px * channels:(px + 1) * channels]
        out += [act_val + c for c in ref_threshold(vals, t)]
    cf = channels // pe
    tmem = [t[c * pe + p][k] for p in range(pe) for c in range(cf) for k in range(n)]
    arrays = cpp_array(f"ap_int<{t_bits}>", "T", [pe, cf, n], tmem)
    call = (f"dqhw_thresholding<{channels}, {pe}, {in_bits}, {str(in_signed).lower()}, {n}, {t_bits}, {out_bits}, "
            f"{act_val}>(in, out, T, {pixels})")
    return Case(name, pe * in_bits, pe * out_bits, ref_pack(x, in_bits, pe), ref_pack(out, out_bits, pe), call,
                arrays)


def image(rng, h, w, c, bits, signed=False):
    return [[[v for v in rand_values(rng, c, bits, signed)] for _ in range(w)] for _ in range(h)]


def flat_pixels(img) -> list[int]:
    return [v for row in img for px in row for v in px]


def swg_case(name, *, ih, iw, c, simd, bits, k, s, d=(1, 1), depthwise, seed) -> Case:
    rng = random.Random(seed)
    img = image(rng, ih, iw, c, bits)
    (kh, kw), (sh, sw), (dh, dw) = k, s, d
    oh = (ih - dh * (kh - 1) - 1) // sh + 1
    ow = (iw - dw * (kw - 1) - 1) // sw + 1
    out = []
    for oy in range(oh):
        for ox in range(ow):
            win = [[img[oy * sh + ky * dh][ox * sw + kx * dw] for kx in range(kw)] for ky in range(kh)]
            if depthwise:  # per channel fold, every window position, SIMD channels
                for cf in range(c // simd):
                    for ky in range(kh):
                        for kx in range(kw):
                            out += win[ky][kx][cf * simd:(cf + 1) * simd]
            else:  # im2col: window position outer, channels inner
                for ky in range(kh):
                    for kx in range(kw):
                        out += win[ky][kx]
    call = (f"dqhw_sliding_window<{ih}, {iw}, {c}, {simd}, {bits}, {kh}, {kw}, {sh}, {sw}, {dh}, {dw}, "
            f"{str(depthwise).lower()}>(in, out)")
    return Case(name, simd * bits, simd * bits, ref_pack(flat_pixels(img), bits, simd), ref_pack(out, bits, simd),
                call)


def maxpool_case(name, *, c, pe, kernel, bits, signed, pixels, seed) -> Case:
    rng = random.Random(seed)
    stream, out = [], []
    for _ in range(pixels):
        for _cf in range(c // pe):
            window = [rand_values(rng, pe, bits, signed) for _ in range(kernel)]
            for beat in window:
                stream += beat
            out += [max(window[k][p] for k in range(kernel)) for p in range(pe)]
    call = f"dqhw_maxpool<{c}, {pe}, {kernel}, {bits}, {str(signed).lower()}>(in, out, {pixels})"
    return Case(name, pe * bits, pe * bits, ref_pack(stream, bits, pe), ref_pack(out, bits, pe), call)


def padding_case(name, *, ih, iw, c, simd, bits, pad, seed) -> Case:
    rng = random.Random(seed)
    img = image(rng, ih, iw, c, bits)
    top, left, bottom, right = pad
    out = []
    for y in range(top + ih + bottom):
        for x in range(left + iw + right):
            inside = top <= y < top + ih and left <= x < left + iw
            out += img[y - top][x - left] if inside else [0] * c
    call = f"dqhw_padding<{ih}, {iw}, {c}, {simd}, {bits}, {top}, {left}, {bottom}, {right}>(in, out)"
    return Case(name, simd * bits, simd * bits, ref_pack(flat_pixels(img), bits, simd), ref_pack(out, bits, simd),
                call)


def label_select_case(name, *, labels, pe, acc_bits, out_bits, frames, seed, ties=False) -> Case:
    rng = random.Random(seed)
    stream, out = [], []
    for _ in range(frames):
        vals = rand_values(rng, labels, acc_bits if not ties else 2, True)
        best = 0
        for i in range(1, labels):
            if vals[i] > vals[best]:
                best = i
        stream += vals
        out.append(best)
    # one call per frame (the accelerator's top calls it once per frame)
    call = f"for (int f = 0; f < {frames}; f++) dqhw_label_select<{labels}, {pe}, {acc_bits}, {out_bits}>(in, out)"
    return Case(name, pe * acc_bits, out_bits, ref_pack(stream, acc_bits, pe), out, call)


def dwc_case(name, *, elems, bits, in_per_beat, out_per_beat, seed) -> Case:
    rng = random.Random(seed)
    x = rand_values(rng, elems, bits, False)
    total = elems * bits
    call = f"dqhw_width_converter<{in_per_beat * bits}, {out_per_beat * bits}, {total}>(in, out)"
    return Case(name, in_per_beat * bits, out_per_beat * bits, ref_pack(x, bits, in_per_beat),
                ref_pack(x, bits, out_per_beat), call)


CASES = {c.name: c for c in [
    # MVAU: unsigned 2-bit in, 2-bit weights, 3 thresholds; NF = 2, SF = 3, odd PE/SIMD
    mvau_case("mvau_u2_w2_thr", mw=15, mh=6, simd=5, pe=3, in_bits=2, w_bits=2, thresholds=3, out_bits=2, seed=1),
    # signed 8-bit input (the first layer of CNV W1A1) x bipolar weights, one threshold (BIPOLAR out bit)
    mvau_case("mvau_s8_bipolar", mw=27, mh=8, simd=9, pe=4, in_bits=8, in_signed=True, w_bits=1, thresholds=1,
              out_bits=1, seed=2),
    # XNOR-popcount: 1-bit inputs and weights, 1 threshold; MW = 21 in SIMD 7, PE 4
    mvau_case("mvau_xnor", mw=21, mh=8, simd=7, pe=4, in_bits=1, w_bits=1, xnor=True, thresholds=1, out_bits=1,
              seed=3),
    # signed INT2 in, 2 thresholds with ActVal -1 (INT2 outputs -1..1 in two's complement)
    mvau_case("mvau_s2_int2_out", mw=12, mh=10, simd=4, pe=5, in_bits=2, in_signed=True, w_bits=2, thresholds=2,
              act_val=-1, out_bits=2, seed=4),
    # raw accumulators (logits), signed 2-bit in, 3-bit weights, PE 5 of 10 classes, SF = 1
    mvau_case("mvau_acc_s2_w3", mw=6, mh=10, simd=6, pe=5, in_bits=2, in_signed=True, w_bits=3, seed=5),
    # raw accumulators, 1-bit unsigned (not XNOR) input, 4-bit weights, PE 1, SIMD 1 (fully folded)
    mvau_case("mvau_acc_u1_w4", mw=9, mh=3, simd=1, pe=1, in_bits=1, w_bits=4, vectors=4, seed=6),
    # 8-bit x 8-bit, 15 thresholds, 4-bit unsigned out, one vector of 24 in SIMD 8
    mvau_case("mvau_u8_w8_thr15", mw=24, mh=4, simd=8, pe=2, in_bits=8, w_bits=8, thresholds=15, out_bits=4,
              seed=7),
    # thresholding: UINT8 -> INT8 (255 thresholds, ActVal -128: CNV's input quantizer), 3 channels, PE 1
    thresholding_case("thr_u8_to_int8", channels=3, pe=1, in_bits=8, in_signed=False, n=255, act_val=-128,
                      out_bits=8, pixels=5, seed=8),
    # thresholding: signed 4-bit in, 3 thresholds -> UINT2, 6 channels in PE 3
    thresholding_case("thr_s4_to_u2", channels=6, pe=3, in_bits=4, in_signed=True, n=3, act_val=0, out_bits=2,
                      pixels=4, seed=9),
    # thresholding to one bit (BINARY), 10 channels, PE 5
    thresholding_case("thr_u8_to_bit", channels=10, pe=5, in_bits=8, in_signed=False, n=1, act_val=0, out_bits=1,
                      pixels=3, seed=10),
    # sliding window: 3x3 stride 1 on 7x6, 4 channels SIMD 2 (im2col order)
    swg_case("swg_k3_s1", ih=7, iw=6, c=4, simd=2, bits=2, k=(3, 3), s=(1, 1), depthwise=False, seed=11),
    # 3x3 stride 2 on 8x7 (a bottom row and a right column no window covers), SIMD = C = 3, 8-bit
    swg_case("swg_k3_s2_rest", ih=8, iw=7, c=3, simd=3, bits=8, k=(3, 3), s=(2, 2), depthwise=False, seed=12),
    # dilation 2, 1-bit elements
    swg_case("swg_dil2_bits", ih=7, iw=7, c=2, simd=1, bits=1, k=(2, 2), s=(1, 1), d=(2, 2), depthwise=False,
             seed=13),
    # depthwise 2x2 stride 2 (max pooling's input), 6 channels SIMD 2, odd image 5x5
    swg_case("swg_dw_k2_s2", ih=5, iw=5, c=6, simd=2, bits=2, k=(2, 2), s=(2, 2), depthwise=True, seed=14),
    # depthwise 3x3 stride 2 with 1-bit elements, SIMD 4 of 8
    swg_case("swg_dw_k3_s2_bits", ih=7, iw=7, c=8, simd=4, bits=1, k=(3, 3), s=(2, 2), depthwise=True, seed=15),
    # max pooling: unsigned 2-bit, 4-window, PE 2 of 6
    maxpool_case("maxpool_u2", c=6, pe=2, kernel=4, bits=2, signed=False, pixels=5, seed=16),
    # signed INT2 (-2 < -1 < 0 < 1) with a 9-window, PE 3 of 3
    maxpool_case("maxpool_s2_k9", c=3, pe=3, kernel=9, bits=2, signed=True, pixels=6, seed=17),
    # 1-bit (BINARY / BIPOLAR bits: the OR), PE 8
    maxpool_case("maxpool_bits", c=16, pe=8, kernel=4, bits=1, signed=False, pixels=4, seed=18),
    # signed 8-bit
    maxpool_case("maxpool_s8", c=4, pe=1, kernel=4, bits=8, signed=True, pixels=3, seed=19),
    # padding: 1 all round, 3 channels SIMD 1, 4-bit
    padding_case("pad_1111", ih=4, iw=5, c=3, simd=1, bits=4, pad=(1, 1, 1, 1), seed=20),
    # asymmetric padding, SIMD 2 of 4, 2-bit
    padding_case("pad_asym", ih=3, iw=3, c=4, simd=2, bits=2, pad=(0, 2, 1, 0), seed=21),
    # label select: 10 classes, PE 1 and PE 5, many ties (2-bit values)
    label_select_case("labels_pe1", labels=10, pe=1, acc_bits=10, out_bits=8, frames=20, seed=22),
    label_select_case("labels_pe5_ties", labels=10, pe=5, acc_bits=6, out_bits=4, frames=40, seed=23, ties=True),
    # width conversion: 1 -> 16 elements, 16 -> 4, and 3 -> 2 (not an integer ratio)
    dwc_case("dwc_up", elems=64, bits=2, in_per_beat=1, out_per_beat=16, seed=24),
    dwc_case("dwc_down", elems=48, bits=1, in_per_beat=16, out_per_beat=4, seed=25),
    dwc_case("dwc_3_to_2", elems=36, bits=8, in_per_beat=3, out_per_beat=2, seed=26),
]}


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    gxx, includes = _toolchain()
    d = tmp_path_factory.mktemp("hls_layers")
    src = d / "layers_tb.cpp"
    names = list(CASES)
    dispatch = "".join(f'    if (name == "{n}") {{ {n}::run(std::cin, os); return 0; }}\n' for n in names)
    src.write_text(DRIVER_HEAD + "".join(CASES[n].cpp() for n in names) +
                   "int main(int argc, char **argv) {\n    if (argc != 3) return 2;\n    std::string name = argv[1];\n"
                   "    std::ofstream os(argv[2]);\n" + dispatch + "    return 2;\n}\n")
    exe = d / "layers_tb"
    cmd = [gxx, "-O2", "-std=c++14", "-Wno-unknown-pragmas", f"-I{hw_dir('hls')}",
           *[f"-isystem{p}" for p in includes], str(src), "-o", str(exe)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-4000:]
    return exe


@pytest.mark.parametrize("name", list(CASES))
def test_hls_layer(driver, tmp_path, name):
    case = CASES[name]
    out = tmp_path / "out.hex"
    res = subprocess.run([str(driver), name, str(out)], input="".join(f"{b:x}\n" for b in case.beats_in),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    # hls::stream reports reads of an empty stream and data left in a stream on stdout
    assert res.stdout == "", res.stdout[:2000]
    got = [int(line, 16) for line in out.read_text().split()]
    assert len(got) == len(case.expected), f"{len(got)} output beats, expected {len(case.expected)}"
    bad = [i for i, (g, e) in enumerate(zip(got, case.expected)) if g != e]
    assert not bad, f"beat {bad[0]}: got {got[bad[0]]:x}, expected {case.expected[bad[0]]:x} ({len(bad)} differ)"


def test_references_are_not_trivial():
    """The cases exercise what they claim: negative and positive values in signed streams, ties in
    LabelSelect, more than one output beat everywhere."""
    assert all(len(c.expected) > 1 for c in CASES.values())
    s2 = ref_unpack(CASES["mvau_s2_int2_out"].expected, 2, 5, signed=True)
    assert min(s2) == -1 and max(s2) == 1
    s8 = ref_unpack(CASES["thr_u8_to_int8"].expected, 8, 1, signed=True)
    assert min(s8) < 0 < max(s8)
    # the signed max pool sees negative values and an unsigned comparison would give other maxima
    case = CASES["maxpool_s2_k9"]
    raw = ref_unpack(case.beats_in, 2, 3, signed=False)
    unsigned_max = [max(raw[(w * 9 + k) * 3 + p] for k in range(9)) for w in range(len(raw) // 27) for p in range(3)]
    assert min(ref_unpack(case.beats_in, 2, 3, signed=True)) < 0
    assert ref_pack(unsigned_max, 2, 3) != case.expected
