// dqhw_lanes.h - lane access shared by dqhw's HLS layers.
// Why: every stream beat and ROM word of dqhw packs its elements LSB-first (element i in bits
// [i*BITS, (i+1)*BITS), docs/integer-contract.md); these helpers are the one place the C++ side
// reads and writes such a field, as an unsigned or two's-complement value.
#ifndef DQHW_LANES_H
#define DQHW_LANES_H

#include <ap_int.h>

// Field i (BITS wide) of a packed word as an unsigned value.
template <unsigned BITS, int W>
inline ap_uint<BITS> dqhw_lane(const ap_uint<W> &word, unsigned i) {
#pragma HLS INLINE
    return word((i + 1) * BITS - 1, i * BITS);
}

// Field i as a BITS-bit two's-complement value (SIGNED) or an unsigned one, widened to 32 bits.
template <unsigned BITS, bool SIGNED, int W>
inline ap_int<BITS + 1> dqhw_lane_value(const ap_uint<W> &word, unsigned i) {
#pragma HLS INLINE
    ap_uint<BITS> raw = dqhw_lane<BITS>(word, i);
    if (SIGNED) {
        ap_int<BITS> s = raw;  // same bits, read as two's complement
        return s;
    }
    return raw;
}

#endif
