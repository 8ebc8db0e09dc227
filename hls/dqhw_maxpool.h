// dqhw_maxpool.h - max pooling over finn's depthwise sliding-window stream (rtl/dqhw_maxpool.v).
// What: the depthwise window generator emits, per output pixel, for each channel fold cf, the
// KERNEL window positions as beats of PE channels (dqhw.contract.depthwise_swg_stream); this
// reduces every KERNEL consecutive beats to one beat of PE per-channel maxima. SIGNED compares
// BITS-bit two's complement; BIPOLAR runs as BITS = 1 unsigned (the max of {-1,+1} is the OR).
#ifndef DQHW_MAXPOOL_H
#define DQHW_MAXPOOL_H

#include <ap_int.h>
#include <hls_stream.h>

#include "dqhw_lanes.h"

template <unsigned CHANNELS, unsigned PE, unsigned KERNEL, unsigned BITS, bool SIGNED>
void dqhw_maxpool(hls::stream<ap_uint<PE * BITS> > &in, hls::stream<ap_uint<PE * BITS> > &out, unsigned pixels) {
    const unsigned CF = CHANNELS / PE;
    ap_int<BITS + 1> best[PE];
#pragma HLS ARRAY_PARTITION variable = best complete
    for (unsigned px = 0; px < pixels; px++) {
        for (unsigned cf = 0; cf < CF; cf++) {
            for (unsigned k = 0; k < KERNEL; k++) {
#pragma HLS PIPELINE II = 1
                ap_uint<PE * BITS> x = in.read();
                for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                    ap_int<BITS + 1> v = dqhw_lane_value<BITS, SIGNED>(x, p);
                    if (k == 0 || v > best[p]) best[p] = v;
                }
                if (k == KERNEL - 1) {
                    ap_uint<PE * BITS> y = 0;
                    for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                        y((p + 1) * BITS - 1, p * BITS) = ap_uint<BITS>(best[p]);
                    }
                    out.write(y);
                }
            }
        }
    }
}

#endif
