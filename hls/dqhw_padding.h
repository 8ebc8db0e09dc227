// dqhw_padding.h - zero padding of a feature map (finn's FMPadding).
// What: an IH x IW image of CHANNELS elements (SIMD per beat, NHWC order) becomes
// (TOP + IH + BOTTOM) x (LEFT + IW + RIGHT); padded pixels are all-zero beats.
#ifndef DQHW_PADDING_H
#define DQHW_PADDING_H

#include <ap_int.h>
#include <hls_stream.h>

template <unsigned IH, unsigned IW, unsigned CHANNELS, unsigned SIMD, unsigned BITS, unsigned TOP, unsigned LEFT,
          unsigned BOTTOM, unsigned RIGHT>
void dqhw_padding(hls::stream<ap_uint<SIMD * BITS> > &in, hls::stream<ap_uint<SIMD * BITS> > &out) {
    const unsigned OH = TOP + IH + BOTTOM, OW = LEFT + IW + RIGHT, CF = CHANNELS / SIMD;
    for (unsigned y = 0; y < OH; y++) {
        for (unsigned x = 0; x < OW; x++) {
            for (unsigned cf = 0; cf < CF; cf++) {
#pragma HLS PIPELINE II = 1
                bool inside = y >= TOP && y < TOP + IH && x >= LEFT && x < LEFT + IW;
                out.write(inside ? in.read() : ap_uint<SIMD * BITS>(0));
            }
        }
    }
}

#endif
