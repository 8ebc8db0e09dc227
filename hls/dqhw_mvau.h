// dqhw_mvau.h - matrix-vector-activation unit (finn's MVAU), the HLS twin of rtl/dqhw_mvau.v.
// What: per input vector x (MW elements, SIMD per beat) acc[o] = sum_i W[o][i] * x[i] (unsigned or
// signed x, signed or bipolar W: bit 1 = +1), or for XNOR the popcount #{i : x[i] == bit(W[o][i])};
// then either the raw accumulators (dqhw_mvau_acc, PE * ACC_BITS per beat) or thresholds
// (dqhw_mvau, PE * OUT_BITS per beat). Channel nf*PE + p leaves in lane p of beat nf.
// Folding (dqhw.contract): weights[p][nf*SF + sf] holds W[nf*PE + p][sf*SIMD .. sf*SIMD + SIMD-1],
// lane s in bits [s*W_BITS, (s+1)*W_BITS); the input vector is read once and replayed from a
// buffer for the NF neuron folds. One (nf, sf) step per cycle (PIPELINE II=1), PE x SIMD MACs.
#ifndef DQHW_MVAU_H
#define DQHW_MVAU_H

#include <ap_int.h>
#include <hls_stream.h>

#include "dqhw_lanes.h"
#include "dqhw_thresholding.h"

// One PE's SIMD-lane dot product of the input beat (its fields xv, unpacked once per beat) with
// weight word w. Exact in int: |acc| stays below 2^ACC_BITS <= 2^31 (the contract's accumulator range).
template <unsigned SIMD, unsigned IN_BITS, unsigned W_BITS, bool XNOR, unsigned ACC_BITS>
inline ap_int<ACC_BITS> dqhw_mvau_dot(const int xv[SIMD], const ap_uint<SIMD * W_BITS> &w) {
#pragma HLS INLINE
    int wv[SIMD];
#pragma HLS ARRAY_PARTITION variable = wv complete
    // XNOR / bipolar weights: the bit (1 = +1); else the W_BITS-bit two's-complement weight
    dqhw_unpack<W_BITS, !(XNOR || W_BITS == 1), SIMD>(w, wv);
    int sum = 0;
    for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
        if (XNOR)
            sum += (xv[s] == wv[s]) ? 1 : 0;  // 1-bit inputs and weights agree
        else if (W_BITS == 1)
            sum += wv[s] ? xv[s] : -xv[s];  // bipolar weight
        else
            sum += wv[s] * xv[s];
    }
    return sum;
}

// The shared fold loop: thresholds (USE_THRESHOLDS) or the raw accumulators (OUT_BITS = ACC_BITS).
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned IN_BITS, bool IN_SIGNED, unsigned W_BITS,
          bool XNOR, unsigned ACC_BITS, bool USE_THRESHOLDS, unsigned NUM_THRESH, unsigned OUT_BITS, int ACT_VAL>
void dqhw_mvau_folds(hls::stream<ap_uint<SIMD * IN_BITS> > &in, hls::stream<ap_uint<PE * OUT_BITS> > &out,
                     const ap_uint<SIMD * W_BITS> weights[PE][(MH / PE) * (MW / SIMD)],
                     const ap_int<ACC_BITS> thresholds[PE][MH / PE][NUM_THRESH], unsigned vectors) {
#pragma HLS INLINE
    static_assert(ACC_BITS <= 32, "dqhw_mvau_dot accumulates in int");
    const unsigned NF = MH / PE, SF = MW / SIMD;
    ap_uint<SIMD * IN_BITS> buffer[SF];
    ap_int<ACC_BITS> acc[PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
    for (unsigned v = 0; v < vectors; v++) {
        unsigned nf = 0, sf = 0;
        for (unsigned step = 0; step < NF * SF; step++) {
#pragma HLS PIPELINE II = 1
            // the input vector is read during neuron fold 0 and replayed from the buffer after it
            ap_uint<SIMD * IN_BITS> x;
            if (nf == 0) {
                x = in.read();
                buffer[sf] = x;
            } else {
                x = buffer[sf];
            }
            int xv[SIMD];
#pragma HLS ARRAY_PARTITION variable = xv complete
            dqhw_unpack<IN_BITS, IN_SIGNED, SIMD>(x, xv);
            for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                ap_int<ACC_BITS> d = dqhw_mvau_dot<SIMD, IN_BITS, W_BITS, XNOR, ACC_BITS>(xv, weights[p][step]);
                acc[p] = (sf == 0) ? d : ap_int<ACC_BITS>(acc[p] + d);
            }
            if (sf == SF - 1) {
                ap_uint<PE * OUT_BITS> y = 0;
                for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                    ap_uint<OUT_BITS> lane;
                    if (USE_THRESHOLDS)
                        lane = dqhw_threshold_element<NUM_THRESH, ACC_BITS, OUT_BITS, ACT_VAL>(acc[p], thresholds[p][nf]);
                    else
                        lane = ap_uint<OUT_BITS>(acc[p]);  // two's complement accumulator
                    y((p + 1) * OUT_BITS - 1, p * OUT_BITS) = lane;
                }
                out.write(y);
                sf = 0;
                nf++;
            } else {
                sf++;
            }
        }
    }
}

// Raw accumulators out (the last layer: the logits), ACC_BITS two's complement per lane.
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned IN_BITS, bool IN_SIGNED, unsigned W_BITS,
          bool XNOR, unsigned ACC_BITS>
void dqhw_mvau_acc(hls::stream<ap_uint<SIMD * IN_BITS> > &in, hls::stream<ap_uint<PE * ACC_BITS> > &out,
                   const ap_uint<SIMD * W_BITS> weights[PE][(MH / PE) * (MW / SIMD)], unsigned vectors) {
#pragma HLS ARRAY_PARTITION variable = weights complete dim = 1
    static const ap_int<ACC_BITS> no_thresholds[PE][MH / PE][1] = {};  // never read
    dqhw_mvau_folds<MW, MH, SIMD, PE, IN_BITS, IN_SIGNED, W_BITS, XNOR, ACC_BITS, false, 1, ACC_BITS, 0>(
        in, out, weights, no_thresholds, vectors);
}

// Thresholds out: thresholds[p][nf] are channel nf*PE + p's NUM_THRESH ascending thresholds.
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned IN_BITS, bool IN_SIGNED, unsigned W_BITS,
          bool XNOR, unsigned ACC_BITS, unsigned NUM_THRESH, unsigned OUT_BITS, int ACT_VAL>
void dqhw_mvau(hls::stream<ap_uint<SIMD * IN_BITS> > &in, hls::stream<ap_uint<PE * OUT_BITS> > &out,
               const ap_uint<SIMD * W_BITS> weights[PE][(MH / PE) * (MW / SIMD)],
               const ap_int<ACC_BITS> thresholds[PE][MH / PE][NUM_THRESH], unsigned vectors) {
#pragma HLS ARRAY_PARTITION variable = weights complete dim = 1
#pragma HLS ARRAY_PARTITION variable = thresholds complete dim = 1
#pragma HLS ARRAY_PARTITION variable = thresholds complete dim = 3
    dqhw_mvau_folds<MW, MH, SIMD, PE, IN_BITS, IN_SIGNED, W_BITS, XNOR, ACC_BITS, true, NUM_THRESH, OUT_BITS, ACT_VAL>(
        in, out, weights, thresholds, vectors);
}

#endif
