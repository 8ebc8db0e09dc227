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

// All N fields (BITS < 32) of a packed word as native integers (two's complement when SIGNED).
// Synthesis sees wires; C-simulation reads the ap_uint once per 64 bits instead of once per field
// (each ap_int operation costs tens of ns in g++), when BITS divides 64; else field by field.
template <unsigned BITS, bool SIGNED, unsigned N, int W>
inline void dqhw_unpack(const ap_uint<W> &word, int fields[N]) {
#pragma HLS INLINE
    if (64 % BITS == 0) {
        const unsigned PER = 64 / BITS;
        for (unsigned c = 0; c * PER < N; c++) {
#pragma HLS UNROLL
            const unsigned lo = c * 64, hi = (lo + 63 < (unsigned)W - 1) ? lo + 63 : (unsigned)W - 1;
            unsigned long long chunk = word(hi, lo).to_uint64();
            for (unsigned k = 0; k < PER && c * PER + k < N; k++) {
#pragma HLS UNROLL
                long long v = (long long)((chunk >> (k * BITS)) & ((1ULL << BITS) - 1ULL));
                if (SIGNED && v >= (1LL << (BITS - 1))) v -= 1LL << BITS;
                fields[c * PER + k] = (int)v;
            }
        }
    } else {
        for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
            fields[i] = dqhw_lane_value<BITS, SIGNED>(word, i).to_int();
        }
    }
}

#endif
