// dqhw_sliding_window.h - the convolution window generator (finn's ConvolutionInputGenerator).
// What: an IH x IW image of CHANNELS elements (SIMD per beat, NHWC) becomes, per output pixel
// (row-major), its KH x KW window (stride SH/SW, dilation DH/DW, no padding):
//  - standard (DEPTHWISE = 0, feeds an MVAU): window positions row-major, channel folds inner,
//    i.e. finn's im2col order (KH, KW, CHANNELS/SIMD, SIMD);
//  - depthwise (DEPTHWISE = 1, feeds max pooling): (CHANNELS/SIMD, KH, KW, SIMD)
//    (dqhw.contract.depthwise_swg_stream).
// A line buffer keeps the last DH*(KH-1)+1 input rows: rows are read as the next output row needs
// them, and the rows no window covers (bottom remainder) are read and dropped.
#ifndef DQHW_SLIDING_WINDOW_H
#define DQHW_SLIDING_WINDOW_H

#include <ap_int.h>
#include <hls_stream.h>

template <unsigned IH, unsigned IW, unsigned CHANNELS, unsigned SIMD, unsigned BITS, unsigned KH, unsigned KW,
          unsigned SH, unsigned SW, unsigned DH, unsigned DW, bool DEPTHWISE>
void dqhw_sliding_window(hls::stream<ap_uint<SIMD * BITS> > &in, hls::stream<ap_uint<SIMD * BITS> > &out) {
    const unsigned CF = CHANNELS / SIMD;
    const unsigned ROWS = DH * (KH - 1) + 1;
    const unsigned OH = (IH - ROWS) / SH + 1;
    const unsigned OW = (IW - (DW * (KW - 1) + 1)) / SW + 1;
    ap_uint<SIMD * BITS> lines[ROWS][IW][CF];
    unsigned rows_read = 0;
    for (unsigned oy = 0; oy < OH; oy++) {
        for (; rows_read < oy * SH + ROWS; rows_read++) {
            for (unsigned x = 0; x < IW; x++) {
                for (unsigned cf = 0; cf < CF; cf++) {
#pragma HLS PIPELINE II = 1
                    lines[rows_read % ROWS][x][cf] = in.read();
                }
            }
        }
        for (unsigned ox = 0; ox < OW; ox++) {
            for (unsigned a = 0; a < KH * KW * CF; a++) {
#pragma HLS PIPELINE II = 1
                // a enumerates (ky, kx, cf) or, depthwise, (cf, ky, kx), the last fastest
                unsigned cf = DEPTHWISE ? a / (KH * KW) : a % CF;
                unsigned k = DEPTHWISE ? a % (KH * KW) : a / CF;
                unsigned ky = k / KW, kx = k % KW;
                out.write(lines[(oy * SH + ky * DH) % ROWS][ox * SW + kx * DW][cf]);
            }
        }
    }
    for (; rows_read < IH; rows_read++) {
        for (unsigned x = 0; x < IW * CF; x++) {
#pragma HLS PIPELINE II = 1
            in.read();
        }
    }
}

#endif
