"""The integer contract: the one definition of how dqhw's hardware computes and how streams are packed.

Imported by the golden model, the dqhw node types, the RTL generator, the cocotb testbenches and the
HLS checks. Nothing here is re-derived anywhere else (docs/integer-contract.md explains it in prose).

- Input frames: uint8 pixels, NHWC.
- Activations: unsigned b-bit integers 0..2^b-1 (b = 1..8) or signed two's complement b-bit integers
  -2^(b-1)..2^(b-1)-1 (b = 2..8). Weights: signed integers (narrow range) or bipolar {-1, +1}.
- MVAU: acc[o] = sum_i W[o, i] * x[i]; or, XNOR-popcount (FINN's binaryXnorMode: 1-bit inputs whose
  bit 1 means +1 and 0 means -1, bipolar weights), acc[o] = #{i : x[i] == bit(W[o, i])}
  (xnor_popcount). Thresholding: out[o] = act_val + #{t : T[o, t] <= acc[o]}, T ascending
  (multithreshold + activation_output); a negative act_val gives signed outputs, stored in
  two's complement in the stream.
- Memory layout (FINN's): matrix row r lives in PE r % PE; for neuron fold nf and synapse fold sf,
  weight word [pe][nf * SF + sf] holds W[nf * PE + pe, sf * SIMD : (sf + 1) * SIMD].
- Streams: element 0 of a beat in the least significant bits; a beat carries the innermost (channel)
  elements in order; beats are padded to a whole number of bytes.
- LabelSelect/argmax: the highest accumulator wins; ties go to the lowest index.
- Host class (a last layer with a per-class output scale/bias, no LabelSelect in the accelerator):
  class = argmax_c (acc_c * scale_c + bias_c) in float64, ties to the lowest index (host_class).
- MaxPool: finn-plus' depthwise sliding-window stream, per output pixel (C/SIMD, K_H, K_W, SIMD)
  (depthwise_swg_stream); dqhw_maxpool reduces every K_H*K_W consecutive beats (maxpool_window_stream).
- dqhw_mvau ROM files: mvau_weight_words / mvau_threshold_words (word layouts), write_mvau_memories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dqhw.errors import DqhwError

MAX_ACT_BITS = 8


# --------------------------------------------------------------------------------------------------
# arithmetic
# --------------------------------------------------------------------------------------------------
def multithreshold(acc: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """out[..., c] = #{t : T[c, t] <= acc[..., c]} for channel-last `acc` and T of shape (C, n).

    T may also have shape (1, n) (one set shared by every channel). Works on any integer or float
    dtype; the result is int64.
    """
    acc = np.asarray(acc)
    thresholds = np.asarray(thresholds)
    channels = acc.shape[-1]
    if thresholds.shape[0] not in (1, channels):
        raise ValueError(f"thresholds for {thresholds.shape[0]} channels, data has {channels}")
    t = np.broadcast_to(thresholds, (channels, thresholds.shape[1]))
    out = np.zeros(acc.shape, dtype=np.int64)
    # one comparison per threshold keeps memory at the size of acc (n is at most 255)
    for k in range(t.shape[1]):
        out += (acc >= t[:, k]).astype(np.int64)
    return out


def matvec(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """acc[..., o] = sum_i W[o, i] * x[..., i], exact in int64 (unsigned or signed x alike)."""
    return np.asarray(x, dtype=np.int64) @ np.asarray(weights, dtype=np.int64).T


def popcount_from_bipolar_dot(dot: np.ndarray, mw: int) -> np.ndarray:
    """XNOR-popcount from the bipolar dot product of MW lanes: P agreeing and N = MW - P disagreeing
    lanes give dot = P - N, so P = (dot + MW) / 2 (exact: dot + MW is even)."""
    return (np.asarray(dot, dtype=np.int64) + int(mw)) // 2


def xnor_popcount(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The XNOR-popcount MVAU (FINN's binaryXnorMode, dqhw_mvau with XNOR = 1):
    acc[..., o] = #{i : x[..., i] == bit(W[o, i])}, int64, 0..MW.

    x holds input bits {0, 1} (bit 1 means +1, bit 0 means -1: FINN's BINARY tensors after
    ConvertBipolarMatMulToXnorPopcount); W holds bipolar weights {-1, +1} (bit(+1) = 1, bit(-1) = 0,
    the W_BITS = 1 ROM encoding). Equals (sum_i W[o, i] * (2 x[i] - 1) + MW) / 2.
    """
    w = np.asarray(weights, dtype=np.int64)
    xb = np.asarray(x, dtype=np.int64)
    if not np.isin(w, (-1, 1)).all():
        raise DqhwError("xnor_popcount: weights must be bipolar {-1, +1}")
    if not np.isin(xb, (0, 1)).all():
        raise DqhwError("xnor_popcount: inputs must be bits {0, 1}")
    return popcount_from_bipolar_dot(matvec(w, 2 * xb - 1), w.shape[1])


def activation_output(count: np.ndarray, act_val: int = 0, bipolar: bool = False) -> np.ndarray:
    """The value a thresholding layer gives from its threshold counts (FINN's MultiThreshold with
    out_scale/out_bias as its MVAU/Thresholding execute it): act_val + count, or, for a BIPOLAR
    output (one threshold), 2 * count - 1 in {-1, +1}. In the stream the element is
    act_val + count in OUT_BITS bits (two's complement when negative); a BIPOLAR element is the bit
    count itself (1 means +1), i.e. act_val = 0 in hardware (mvau_act_val)."""
    count = np.asarray(count, dtype=np.int64)
    return 2 * count - 1 if bipolar else count + int(act_val)


def mvau_act_val(act_val: int, bipolar: bool) -> int:
    """dqhw_mvau's ACT_VAL for FINN's ActVal: a BIPOLAR output is the bit count (0 -> -1, 1 -> +1),
    whatever ActVal says (FINN sets it to 0 there and rescales in software)."""
    return 0 if bipolar else int(act_val)


def stream_elements(values: np.ndarray, bipolar: bool = False) -> np.ndarray:
    """Graph values -> the integers packed into a stream: a BIPOLAR value v in {-1, +1} is the bit
    (v + 1) / 2; anything else is itself (pack_beats stores negatives in two's complement)."""
    v = np.asarray(values, dtype=np.int64)
    if bipolar:
        if not np.isin(v, (-1, 1)).all():
            raise DqhwError("stream_elements: BIPOLAR values must be -1 or +1")
        return (v + 1) // 2
    return v


def mvau_compute(weights: np.ndarray, x: np.ndarray, thresholds: np.ndarray | None = None, xnor: bool = False,
                 act_val: int = 0) -> np.ndarray:
    """What dqhw_mvau emits for input vectors x (..., MW) and weights (MH, MW): the accumulators
    (thresholds None) or act_val + #{t : T[o, t] <= acc[o]} (the stream element values; pack_beats
    stores them in OUT_BITS bits)."""
    acc = xnor_popcount(weights, x) if xnor else matvec(weights, x)
    if thresholds is None:
        return acc
    return multithreshold(acc, thresholds) + int(act_val)


def label_select(acc: np.ndarray, k: int = 1) -> np.ndarray:
    """Top-k indices along the last axis, highest first, ties to the lowest index (ONNX TopK rule)."""
    acc = np.asarray(acc)
    # stable sort of the negated values keeps the lowest index first among equals
    order = np.argsort(-acc.astype(np.float64), axis=-1, kind="stable")
    return order[..., :k]


def class_values(acc: np.ndarray, scale, bias) -> np.ndarray:
    """The model's float logits from integer accumulators: acc * scale + bias per class, in float64.
    acc * scale is exact (|acc| < 2^29 and scales of float32 precision: 29 + 24 <= 53 bits); the sum
    rounds once, IEEE round-to-nearest-even, so every IEEE-754 host gets the same values."""
    acc = np.asarray(acc)
    if acc.size and np.abs(acc).max() >= (1 << 29):
        raise DqhwError("host class: an accumulator of 2^29 or more; acc * scale would not be exact in float64")
    return (acc.astype(np.float64) * np.asarray(scale, dtype=np.float64)
            + np.asarray(bias, dtype=np.float64))


def host_class(acc: np.ndarray, scale, bias) -> np.ndarray:
    """The class the host computes from the accelerator's integer logits when the last layer has a
    per-class scale/bias: argmax_c (acc_c * scale_c + bias_c) in float64 (class_values), ties to the
    lowest index (np.argmax returns the first maximum). acc (..., C); scale and bias scalars or (C,)."""
    return np.argmax(class_values(acc, scale, bias), axis=-1).astype(np.int64)


def acc_range(weights: np.ndarray, in_min: int, in_max: int) -> tuple[int, int]:
    """Exact reachable accumulator range of W @ x for every x with in_min <= x <= in_max."""
    w = np.asarray(weights, dtype=np.int64)
    pos = np.clip(w, 0, None)
    neg = np.clip(w, None, 0)
    hi = pos * in_max + neg * in_min
    lo = pos * in_min + neg * in_max
    return int(lo.sum(axis=1).min()), int(hi.sum(axis=1).max())


def signed_bits(lo: int, hi: int) -> int:
    """Bits of a two's-complement register holding every value in [lo, hi]."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def unsigned_bits(hi: int) -> int:
    return max(1, int(hi).bit_length())


def input_range(in_bits: int, in_signed: bool = False) -> tuple[int, int]:
    """Values of an IN_BITS input element: 0..2^b-1, or -2^(b-1)..2^(b-1)-1 when signed."""
    if in_signed:
        return -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    return 0, (1 << in_bits) - 1


def mvau_acc_range(weights: np.ndarray, in_bits: int, in_signed: bool = False,
                   xnor: bool = False) -> tuple[int, int]:
    """Exact reachable accumulator range of dqhw_mvau: acc_range over the input element range, or
    0..MW for XNOR-popcount (every count is reachable: x = bit(W[o]) gives MW, its complement 0)."""
    w = np.asarray(weights)
    if xnor:
        return 0, int(w.shape[1])
    lo, hi = input_range(in_bits, in_signed)
    return acc_range(w, lo, hi)


# --------------------------------------------------------------------------------------------------
# folding
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MvauFolding:
    mh: int  # output channels (matrix height)
    mw: int  # inputs per output (matrix width = c_in * k * k)
    pe: int
    simd: int

    def check(self, name: str = "MVAU") -> None:
        if self.pe < 1 or self.simd < 1 or self.mh % self.pe or self.mw % self.simd:
            raise DqhwError(
                f"{name}: folding PE={self.pe}, SIMD={self.simd} must divide MH={self.mh}, MW={self.mw}"
            )

    @property
    def neuron_fold(self) -> int:
        return self.mh // self.pe

    @property
    def synapse_fold(self) -> int:
        return self.mw // self.simd

    def cycles(self, pixels: int = 1) -> int:
        """Cycles per frame at full throughput: (MH/PE) * (MW/SIMD) * pixels."""
        return self.neuron_fold * self.synapse_fold * pixels


def weight_memory(weights: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """FINN weight layout: (MH, MW) -> (PE, WMEM, SIMD) with row r in PE r % PE."""
    mh, mw = weights.shape
    MvauFolding(mh, mw, pe, simd).check()
    nf, sf = mh // pe, mw // simd
    # W[nf*PE + p, sf*SIMD + s] -> mem[p, nf*SF + sf, s]
    w = np.asarray(weights).reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3)
    return w.reshape(pe, nf * sf, simd)


def threshold_memory(thresholds: np.ndarray, pe: int) -> np.ndarray:
    """(MH, n) -> (PE, MH/PE, n) with channel r in PE r % PE."""
    mh, n = thresholds.shape
    if mh % pe:
        raise DqhwError(f"PE={pe} must divide {mh} channels")
    return np.asarray(thresholds).reshape(mh // pe, pe, n).transpose(1, 0, 2)


# --------------------------------------------------------------------------------------------------
# stream packing
# --------------------------------------------------------------------------------------------------
def beat_bits(elems_per_beat: int, bits: int) -> int:
    """TDATA width: elements * bits padded to a whole number of bytes."""
    return int(math.ceil(elems_per_beat * bits / 8) * 8)


def pack_beats(values: np.ndarray, bits: int, elems_per_beat: int) -> list[int]:
    """Pack a flat element sequence into beats (element 0 in the LSBs). Signed values are stored
    in two's complement within `bits`. Returns one Python int per beat."""
    flat = np.asarray(values, dtype=np.int64).reshape(-1)
    if flat.size % elems_per_beat:
        raise ValueError(f"{flat.size} elements do not fill beats of {elems_per_beat}")
    mask = (1 << bits) - 1
    lanes = (flat & mask).reshape(-1, elems_per_beat)
    if bits * elems_per_beat <= 63:
        shifts = np.arange(elems_per_beat, dtype=np.int64) * bits
        return [int(v) for v in (lanes << shifts).sum(axis=1)]
    out = []
    for row in lanes.tolist():
        word = 0
        for i, v in enumerate(row):
            word |= int(v) << (i * bits)
        out.append(word)
    return out


def unpack_beats(beats: list[int] | np.ndarray, bits: int, elems_per_beat: int, signed: bool) -> np.ndarray:
    """Inverse of pack_beats: returns an int64 array of shape (len(beats) * elems_per_beat,)."""
    mask = (1 << bits) - 1
    out = np.empty((len(beats), elems_per_beat), dtype=np.int64)
    for j, word in enumerate(beats):
        word = int(word)
        for i in range(elems_per_beat):
            out[j, i] = (word >> (i * bits)) & mask
    if signed:
        out = np.where(out >= (1 << (bits - 1)), out - (1 << bits), out)
    return out.reshape(-1)


def hex_lines(words: list[int], width_bits: int) -> list[str]:
    """$readmemh lines: one word per line, zero-padded to the word width."""
    digits = max(1, math.ceil(width_bits / 4))
    mask = (1 << width_bits) - 1
    return [format(int(w) & mask, f"0{digits}x") for w in words]


# --------------------------------------------------------------------------------------------------
# max pooling over finn-plus' depthwise sliding-window stream
# --------------------------------------------------------------------------------------------------
def window_output_dim(ifm_dim: int, kernel: int, stride: int) -> int:
    """Output size of a valid (unpadded) sliding window."""
    return (ifm_dim - kernel) // stride + 1


def depthwise_swg_stream(x: np.ndarray, kernel: int | tuple[int, int], stride: int | tuple[int, int],
                         simd: int) -> np.ndarray:
    """Element order of finn-plus' depthwise ConvolutionInputGenerator (how FINN lowers MaxPool2d).

    x: one NHWC frame (H, W, C) or a batch (N, H, W, C). Returns the stream, per frame, as an array
    of shape (..., OH, OW, C // simd, KH, KW, simd): for each output pixel (row-major), for each
    channel fold cf, for each window position (kh, kw) row-major, one beat of `simd` channels
    cf*simd .. cf*simd+simd-1 (element 0 = lowest channel, in the LSBs). Flattening it in C order
    gives the element sequence; every `simd` consecutive elements form one beat.

    This is finn-plus 1.6.1's layout "(1, OFMDim_H, OFMDim_W, IFMChannels/SIMD, K_H, K_W, SIMD)"
    (convolutioninputgenerator_rtl.py); tests/test_rtl_modules.py checks it against the Verilog
    that finn-plus generates for ConvolutionInputGenerator_rtl (depthwise=1) under Verilator.
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    x = np.asarray(x)
    batched = x.ndim == 4
    if not batched:
        x = x[None]
    n, h, w, c = x.shape
    if c % simd:
        raise DqhwError(f"SIMD={simd} must divide {c} channels")
    oh, ow = window_output_dim(h, kh, sh), window_output_dim(w, kw, sw)
    # windows[n, oy, ox, ky, kx, c]
    rows = (np.arange(oh) * sh)[:, None] + np.arange(kh)[None, :]  # (oh, kh)
    cols = (np.arange(ow) * sw)[:, None] + np.arange(kw)[None, :]  # (ow, kw)
    win = x[:, rows[:, None, :, None], cols[None, :, None, :], :]  # (n, oh, ow, kh, kw, c)
    win = win.reshape(n, oh, ow, kh, kw, c // simd, simd).transpose(0, 1, 2, 5, 3, 4, 6)
    return win if batched else win[0]


def maxpool_window_stream(stream: np.ndarray, channels: int, pe: int, kernel_elems: int) -> np.ndarray:
    """What dqhw_maxpool computes: the flat depthwise-SWG element stream (see depthwise_swg_stream;
    any number of output pixels) -> the flat output stream, per pixel `channels` maxima in channel
    order (NHWC; beats of `pe` channels)."""
    s = np.asarray(stream).reshape(-1, channels // pe, kernel_elems, pe)
    return s.max(axis=2).reshape(-1)


def maxpool_nhwc(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Valid max pooling of NHWC data ((H, W, C) or (N, H, W, C)), the golden-model definition."""
    x = np.asarray(x)
    win = depthwise_swg_stream(x, kernel, stride, x.shape[-1])  # (..., OH, OW, 1, K, K, C)
    return win.max(axis=(-4, -3, -2))


# --------------------------------------------------------------------------------------------------
# memory files of dqhw's RTL (rtl/dqhw_mvau.v reads them with $readmemh)
# --------------------------------------------------------------------------------------------------
def pack_fields(values: np.ndarray, bits: int) -> list[int]:
    """Pack each row of a 2-D integer array into one word: field j at bits [j*bits, (j+1)*bits),
    two's complement within `bits`. Returns one Python int per row."""
    v = np.asarray(values, dtype=np.int64)
    if v.ndim != 2:
        raise ValueError("pack_fields wants a 2-D array (words, fields)")
    u = (v & ((1 << bits) - 1)).astype(np.uint64)
    # bit k of field j -> word bit j*bits + k, little-endian throughout
    bitplanes = ((u[:, :, None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    flat = bitplanes.reshape(v.shape[0], -1)
    packed = np.packbits(flat, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def weight_bits_ok(weights: np.ndarray, w_bits: int) -> bool:
    """True when every weight is representable: {-1, +1} for w_bits == 1 (bipolar), else signed
    w_bits two's complement."""
    w = np.asarray(weights)
    if w_bits == 1:
        return bool(np.isin(w, (-1, 1)).all())
    return bool(((w >= -(1 << (w_bits - 1))) & (w <= (1 << (w_bits - 1)) - 1)).all())


def mvau_weight_word_bits(pe: int, simd: int, w_bits: int) -> int:
    return pe * simd * w_bits


def mvau_weight_words(weights: np.ndarray, pe: int, simd: int, w_bits: int) -> list[int]:
    """Weight ROM of dqhw_mvau: NF*SF words of PE*SIMD*W_BITS bits, FINN's layout (weight_memory).

    Word nf*SF + sf, field p*SIMD + s (W_BITS bits, field 0 in the LSBs) = W[nf*PE + p, sf*SIMD + s],
    two's complement; for w_bits == 1 (bipolar) the bit is 1 for +1 and 0 for -1.
    """
    if not weight_bits_ok(weights, w_bits):
        raise DqhwError(f"weights do not fit {'bipolar' if w_bits == 1 else f'{w_bits}-bit signed'} values")
    mem = weight_memory(np.asarray(weights, dtype=np.int64), pe, simd)  # (PE, WMEM, SIMD)
    if w_bits == 1:
        mem = (mem > 0).astype(np.int64)
    fields = mem.transpose(1, 0, 2).reshape(mem.shape[1], pe * simd)  # (WMEM, PE*SIMD)
    return pack_fields(fields, w_bits)


def threshold_range(acc_bits: int) -> tuple[int, int]:
    return -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1


def clip_thresholds(thresholds: np.ndarray, acc_lo: int, acc_hi: int) -> np.ndarray:
    """Clip thresholds to [acc_lo, acc_hi + 1]: multithreshold gives the same result for every
    accumulator in [acc_lo, acc_hi] (a threshold below acc_lo is always passed, one above acc_hi
    never), and the values then fit the accumulator width from mvau_acc_bits."""
    return np.clip(np.asarray(thresholds, dtype=np.int64), acc_lo, acc_hi + 1)


def mvau_acc_bits(weights: np.ndarray, in_bits: int, with_thresholds: bool, in_signed: bool = False,
                  xnor: bool = False) -> int:
    """ACC_BITS of dqhw_mvau (mvau_acc_range): holds every reachable accumulator and, with
    thresholds, every clipped threshold (clip_thresholds reaches acc_hi + 1)."""
    lo, hi = mvau_acc_range(weights, in_bits, in_signed, xnor)
    return signed_bits(lo, hi + 1 if with_thresholds else hi)


def mvau_threshold_word_bits(pe: int, n_thresholds: int, acc_bits: int) -> int:
    return pe * n_thresholds * acc_bits


def mvau_threshold_words(thresholds: np.ndarray, pe: int, acc_bits: int) -> list[int]:
    """Threshold ROM of dqhw_mvau: NF words of PE*N*ACC_BITS bits (N thresholds per channel).

    Word nf, field p*N + t (ACC_BITS bits, two's complement, field 0 in the LSBs) = T[nf*PE + p, t]
    (threshold_memory layout). Thresholds must fit ACC_BITS (see clip_thresholds).
    """
    t = np.asarray(thresholds, dtype=np.int64)
    lo, hi = threshold_range(acc_bits)
    if t.size and (t.min() < lo or t.max() > hi):
        raise DqhwError(f"thresholds span [{t.min()}, {t.max()}], beyond {acc_bits}-bit signed; clip them "
                        "with clip_thresholds and size ACC_BITS with mvau_acc_bits")
    mem = threshold_memory(t, pe)  # (PE, NF, N)
    fields = mem.transpose(1, 0, 2).reshape(mem.shape[1], pe * t.shape[1])  # (NF, PE*N)
    return pack_fields(fields, acc_bits)


def write_memh(path, words: list[int], width_bits: int) -> None:
    """Write a $readmemh file: one word per line, lowest address first (hex_lines)."""
    from pathlib import Path

    Path(path).write_text("\n".join(hex_lines(words, width_bits)) + "\n")


def write_mvau_memories(weights: np.ndarray, thresholds: np.ndarray | None, pe: int, simd: int, w_bits: int,
                        acc_bits: int, weight_file, thresh_file=None) -> None:
    """Write dqhw_mvau's WEIGHT_FILE (and THRESH_FILE when thresholds are given)."""
    write_memh(weight_file, mvau_weight_words(weights, pe, simd, w_bits),
               mvau_weight_word_bits(pe, simd, w_bits))
    if thresholds is not None:
        if thresh_file is None:
            raise ValueError("thresholds given without thresh_file")
        t = np.asarray(thresholds)
        write_memh(thresh_file, mvau_threshold_words(t, pe, acc_bits),
                   mvau_threshold_word_bits(pe, t.shape[1], acc_bits))


# --------------------------------------------------------------------------------------------------
# dqhw_mvau pipeline (timing, not semantics: the outputs are the same at any setting)
# --------------------------------------------------------------------------------------------------
# Logic levels allowed between two registers of dqhw's RTL (each LUT, CARRY4, MUXF7/8 one level, as
# Vivado counts them); rtl/README.md derives it for 100 MHz on xc7z020-1. rtl/dqhw_mvau.v has the
# same number (LEVEL_BUDGET) and the same formulas (constant functions); tests/test_timing.py checks
# the synthesized levels against it.
LEVEL_BUDGET = 10


def _clog2(v: int) -> int:
    return max(0, int(v - 1).bit_length())


def stage_levels(width: int, budget: int = LEVEL_BUDGET) -> int:
    """Adder levels per pipeline stage when the widest adder of the stage is `width` bits: a level
    costs a LUT and a CARRY4 (plus one LUT at the leaves), the widest adder's carry chain
    ceil(width/4) CARRY4s, so k levels cost at most 2k + ceil(width/4) <= budget."""
    return max(1, (budget - (width + 3) // 4) // 2)


@dataclass(frozen=True)
class MvauPipeline:
    tree_levels_per_stage: int  # TREE_LEVELS_PER_STAGE: adder-tree levels between two registers
    adder_levels: int           # levels of the per-PE adder tree (products included)
    tree_stages: int            # registers along the adder tree (the last holds the dot product)
    popcount_stages: int        # registers inside the threshold popcount (+ ACT_VAL)
    latency: int                # cycles from a fold's last input beat to its output beat
    queue_depth: int            # output queue entries (power of two >= latency + 2)


def mvau_pipeline(simd: int, w_bits: int, in_bits: int, acc_bits: int, use_thresholds: bool, out_bits: int = 1,
                  num_thresh: int = 1, act_val: int = 0, xnor: bool = False,
                  tree_levels_per_stage: int = 0) -> MvauPipeline:
    """The pipeline rtl/dqhw_mvau.v builds for these parameters (its localparams, same formulas);
    `tree_levels_per_stage` 0 derives TREE_LEVELS_PER_STAGE from the adder-tree width."""
    pw = 2 if xnor else in_bits + 1 if w_bits == 1 else w_bits + in_bits  # product bits
    lg = _clog2(simd)
    tw = min(pw + lg, acc_bits)                                           # adder-tree root width
    direct = xnor or in_bits == 1 or w_bits + in_bits <= 6                 # one LUT per product bit
    # product levels: none (direct), a conditional negation (bipolar weight, wider input), or the
    # shift-and-add terms of min(w_bits, in_bits) bits
    levels = (0 if direct else 1 if w_bits == 1 else _clog2(min(w_bits, in_bits))) + lg
    k = tree_levels_per_stage or stage_levels(tw)
    tree_stages = -(-levels // k) if levels else 1
    ob = out_bits if use_thresholds else 1
    pop_levels = (_clog2(num_thresh) if num_thresh > 1 else 0) + (1 if act_val % (1 << ob) else 0)
    pk = stage_levels(ob)
    pop_stages = (-(-pop_levels // pk) if pop_levels else 1) - 1
    latency = 5 + tree_stages + pop_stages if use_thresholds else 4 + tree_stages
    return MvauPipeline(k, levels, tree_stages, pop_stages, latency, 1 << _clog2(latency + 2))
