// dqhw_label_select.h - argmax over the logits (finn's LabelSelect with k = 1, rtl/dqhw_label_select.v).
// What: NUM_LABELS signed ACC_BITS accumulators arrive PE per beat (label nf*PE + p in lane p);
// one OUT_BITS index leaves per frame: the largest value, ties to the lowest index.
#ifndef DQHW_LABEL_SELECT_H
#define DQHW_LABEL_SELECT_H

#include <ap_int.h>
#include <hls_stream.h>

#include "dqhw_lanes.h"

template <unsigned NUM_LABELS, unsigned PE, unsigned ACC_BITS, unsigned OUT_BITS>
void dqhw_label_select(hls::stream<ap_uint<PE * ACC_BITS> > &in, hls::stream<ap_uint<OUT_BITS> > &out) {
    ap_int<ACC_BITS + 1> best = 0;
    ap_uint<OUT_BITS> best_index = 0;
    for (unsigned nf = 0; nf < NUM_LABELS / PE; nf++) {
#pragma HLS PIPELINE II = 1
        ap_uint<PE * ACC_BITS> x = in.read();
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            ap_int<ACC_BITS + 1> v = dqhw_lane_value<ACC_BITS, true>(x, p);
            // strictly greater: an equal value later in the order never replaces the earlier index
            if ((nf == 0 && p == 0) || v > best) {
                best = v;
                best_index = nf * PE + p;
            }
        }
    }
    out.write(best_index);
}

#endif
