"""Resource model of dqhw's own RTL modules (LUT, FF, BRAM18, DSP on 7-series): the one place the
folding search, the customops' *_estimation methods and the build report take their figures from.

The formulas follow the hardware, and their constants are calibrated against Yosys synthesis of the
same modules (`synth_xilinx -family xc7`, bench/bench_synth.py prints the per-layer error):
- dqhw_mvau: FINN-R's LUT model (Blott et al. 2018; what finn uses for its LUT-based MVAU) with
  dqhw's exact widths - per PE: SIMD products, an adder tree, the accumulator, threshold comparators;
  LUT ROM (64 x 1 bits per LUT6) or block ROM for weights and thresholds.
- dqhw_fifo: LUT-RAM below BRAM_MIN_DEPTH entries (RAM64M: 3 bits x 64 entries per 4 LUTs), block
  RAM (+ an output register) from there on, like rtl/dqhw_fifo.v.
- BRAM: a depth x width memory takes the cheapest RAMB18 aspect ratio (UG473: 512x36, 1kx18, 2kx9,
  4kx4, 8kx2, 16kx1), as Vivado and Yosys' memory_bram do for read-only memories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# (entries, bits) of one RAMB18E1 in simple-dual-port / ROM use
BRAM18_ASPECTS = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
# rtl/dqhw_fifo.v: BRAM_MIN_DEPTH (storage in block RAM from this depth on)
FIFO_BRAM_MIN_DEPTH = 256
# a weight ROM deeper than this goes to block RAM when its ram_style is "auto" (finn's rule)
ROM_BRAM_MIN_DEPTH = 128


@dataclass(frozen=True)
class Resources:
    lut: int = 0
    ff: int = 0
    bram18: int = 0
    dsp: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.lut + other.lut, self.ff + other.ff, self.bram18 + other.bram18, self.dsp + other.dsp)

    def as_dict(self) -> dict:
        return {"LUT": self.lut, "FF": self.ff, "BRAM18": self.bram18, "DSP": self.dsp}


def bram18(depth: int, width: int) -> int:
    """RAMB18 count of a depth x width memory: the cheapest aspect ratio (deep memories cascade)."""
    if depth <= 0 or width <= 0:
        return 0
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM18_ASPECTS)


def lutrom(depth: int, width: int) -> int:
    """LUT6s of a distributed ROM: one LUT per 64 entries of each bit (+ the read mux for deeper ones)."""
    if depth <= 0 or width <= 0:
        return 0
    per_bit = math.ceil(depth / 64)
    # MUXF7/F8 merge 4 LUT outputs for free; the remaining per_bit/4 outputs need a LUT6 4:1 mux tree
    rest, mux = math.ceil(per_bit / 4), 0
    while rest > 1:
        rest = math.ceil(rest / 4)
        mux += rest
    return width * (per_bit + mux)


def rom_in_block(style: str, depth: int) -> bool:
    """finn's ram_style for a ROM: block / distributed, or auto (block when deeper than 128)."""
    if style == "block":
        return True
    if style == "distributed":
        return False
    return depth > ROM_BRAM_MIN_DEPTH  # "auto" / "ultra" (no URAM on 7-series)


def mvau(pe: int, simd: int, mw: int, mh: int, in_bits: int, w_bits: int, acc_bits: int,
         out_bits: int | None, n_thresh: int = 0, weight_rom_block: bool = True,
         thresh_rom_block: bool = False) -> Resources:
    """dqhw_mvau: LUT-based MACs (no DSP). out_bits None = raw accumulators (no thresholds)."""
    a, w = in_bits, w_bits
    if w == 1:  # bipolar weights: a conditional negate per lane (XNOR: one LUT per lane pair)
        mult = simd * (a + 1)
    else:
        mult = simd * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
    adder = (w + a) * (2 * simd - 1)
    nf, sf = mh // pe, mw // simd
    wmem, tmem = nf * sf, nf
    thr = comp = 0
    bram = 0
    if out_bits is not None:
        n = n_thresh or (1 << out_bits) - 1
        comp = n * acc_bits
        if thresh_rom_block:
            bram += bram18(tmem, pe * n * acc_bits)
        else:
            thr = lutrom(tmem, n * acc_bits)
    rom = 0
    if weight_rom_block:
        bram += bram18(wmem, pe * simd * w)
    else:
        rom = lutrom(wmem, pe * simd * w)
    lut = int(300 + 1.1 * pe * (mult + adder + acc_bits + comp) + pe * thr + rom)
    # registers: input/weight words, one pipeline register per adder-tree level pair, accumulators,
    # threshold compare bits and the output queue
    levels = max(1, math.ceil(math.log2(max(simd, 2))))
    ff = int(simd * a + pe * simd * w + pe * (levels // 2 + 1) * (w + a + levels) + 2 * pe * acc_bits
             + 8 * pe * (out_bits or acc_bits))
    return Resources(lut=lut, ff=ff, bram18=bram)


def fifo_bram_min_depth(style: str) -> int:
    """dqhw_fifo's BRAM_MIN_DEPTH for a StreamingFIFO's ram_style: block RAM from 3 entries on
    ("block"), never ("distributed", "srl"), or from FIFO_BRAM_MIN_DEPTH entries ("auto")."""
    if style == "block":
        return 3
    if style in ("distributed", "srl"):
        return 1 << 30
    return FIFO_BRAM_MIN_DEPTH


def fifo(depth: int, width: int, style: str = "auto") -> Resources:
    """dqhw_fifo of `depth` beats of `width` bits with the storage `style` selects."""
    if depth <= 0 or width <= 0:
        return Resources()
    ctrl = 12 + 3 * max(1, math.ceil(math.log2(depth + 1)))
    if depth >= max(3, fifo_bram_min_depth(style)):
        return Resources(lut=ctrl, ff=width + 3 * ctrl, bram18=bram18(depth, width))
    # RAM64M: 4 LUTs hold 3 bits x 64 entries; shallow FIFOs fit RAM32M (6 bits x 32 per 4 LUTs)
    per = 6 if depth <= 32 else 3
    ram = 4 * math.ceil(width / per) * math.ceil(depth / 64)
    return Resources(lut=ram + ctrl, ff=width + 3 * ctrl)


def dwc(in_bits: int, out_bits: int) -> Resources:
    """finn's StreamingDataWidthConverter_rtl (dwc_axi.sv + vpc.sv) between payload widths (unpadded
    bits). Fitted to Yosys synth_xilinx (xc7) of the converter alone:
      down (wide in): 128->8 1,028 LUT, 128->2 1,854, 1152->128 4,768, 72->8 423  ~ 2 x wide x log2(ratio)
      up (narrow in):  8->128 55,       2->128 146,    128->1152 161,    16->64 35  ~ narrow + 2 x ratio
    (finn's own model: 8-75 LUT whatever the widths). From -20 % to +55 % (1152->128) on those points:
    conservative, which is the safe side for fitting."""
    if in_bits <= 0 or out_bits <= 0 or in_bits == out_bits:
        return Resources()
    wide, narrow = max(in_bits, out_bits), min(in_bits, out_bits)
    ratio = wide / math.gcd(wide, narrow) / (narrow / math.gcd(wide, narrow))
    if in_bits > out_bits:
        lut = 2 * wide * max(1.0, math.log2(max(ratio, 2.0)))
    else:
        lut = narrow + 2 * ratio + 10
    return Resources(lut=int(lut) + 10, ff=wide + narrow + 8)


def maxpool(pe: int, bits: int) -> Resources:
    """dqhw_maxpool: PE comparators + a PE x BITS running-max register."""
    return Resources(lut=int(40 + pe * 2 * bits), ff=int(2 * pe * bits + 24))


def label_select(pe: int, acc_bits: int) -> Resources:
    """dqhw_label_select: PE comparisons per beat + the running maximum."""
    return Resources(lut=int(60 + pe * acc_bits * 2 + acc_bits), ff=int(2 * acc_bits + 32))


def add(pe: int, a_bits: int, b_bits: int, wa: int, wb: int, out_bits: int) -> Resources:
    """dqhw_add: per lane two constant multiplies (shift-and-add: one adder per set bit beyond the
    first) and one adder, all OUT_BITS wide, plus the output register (not calibrated by synthesis)."""
    adders = max(bin(int(wa)).count("1") - 1, 0) + max(bin(int(wb)).count("1") - 1, 0) + 1
    return Resources(lut=int(10 + pe * adders * out_bits), ff=int(pe * out_bits + 4))


def global_acc_pool(channels: int, pe: int, out_bits: int) -> Resources:
    """dqhw_global_acc_pool: PE adders OUT_BITS wide and a CHANNELS x OUT_BITS accumulator memory
    (LUT-RAM: RAM64M holds 3 bits x 64 entries per 4 LUTs), not calibrated by synthesis."""
    words = max(1, channels // max(pe, 1))
    ram = 4 * math.ceil(pe * out_bits / 3) * math.ceil(words / 64)
    return Resources(lut=int(30 + pe * out_bits + ram), ff=int(pe * out_bits + 32))
