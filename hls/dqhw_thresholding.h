// dqhw_thresholding.h - multi-threshold activation (finn's Thresholding; also the MVAU's activation).
// What: out = ACT_VAL + #{t : T[c][t] <= x} per channel c, stored in OUT_BITS bits (two's
// complement when negative; a BIPOLAR output is the count bit itself, ACT_VAL = 0).
// Layout (dqhw.contract.threshold_memory): channel nf*PE + p lives in thresholds[p][nf][...], so
// the memory is split across PE (ARRAY_PARTITION dim 1) and every threshold of a channel is read in
// the same cycle (dim 3).
#ifndef DQHW_THRESHOLDING_H
#define DQHW_THRESHOLDING_H

#include <ap_int.h>
#include <hls_stream.h>

#include "dqhw_lanes.h"

// ACT_VAL + number of thresholds not above `value`, as the OUT_BITS-bit stream element.
template <unsigned NUM_THRESH, unsigned T_BITS, unsigned OUT_BITS, int ACT_VAL, typename TV>
inline ap_uint<OUT_BITS> dqhw_threshold_element(const TV &value, const ap_int<T_BITS> thresholds[NUM_THRESH]) {
#pragma HLS INLINE
    ap_int<OUT_BITS + 2> count = ACT_VAL;
    for (unsigned t = 0; t < NUM_THRESH; t++) {
#pragma HLS UNROLL
        if (thresholds[t] <= value) count++;
    }
    return ap_uint<OUT_BITS>(count);  // two's complement in OUT_BITS bits
}

// Standalone thresholding of `pixels` pixels of CHANNELS elements, PE channels per beat.
template <unsigned CHANNELS, unsigned PE, unsigned IN_BITS, bool IN_SIGNED, unsigned NUM_THRESH, unsigned T_BITS,
          unsigned OUT_BITS, int ACT_VAL>
void dqhw_thresholding(hls::stream<ap_uint<PE * IN_BITS> > &in, hls::stream<ap_uint<PE * OUT_BITS> > &out,
                       const ap_int<T_BITS> thresholds[PE][CHANNELS / PE][NUM_THRESH], unsigned pixels) {
#pragma HLS ARRAY_PARTITION variable = thresholds complete dim = 1
#pragma HLS ARRAY_PARTITION variable = thresholds complete dim = 3
    const unsigned CF = CHANNELS / PE;
    for (unsigned px = 0; px < pixels; px++) {
        for (unsigned cf = 0; cf < CF; cf++) {
#pragma HLS PIPELINE II = 1
            ap_uint<PE * IN_BITS> x = in.read();
            ap_uint<PE * OUT_BITS> y = 0;
            for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                ap_int<IN_BITS + 1> v = dqhw_lane_value<IN_BITS, IN_SIGNED>(x, p);
                y((p + 1) * OUT_BITS - 1, p * OUT_BITS) =
                    dqhw_threshold_element<NUM_THRESH, T_BITS, OUT_BITS, ACT_VAL>(v, thresholds[p][cf]);
            }
            out.write(y);
        }
    }
}

#endif
