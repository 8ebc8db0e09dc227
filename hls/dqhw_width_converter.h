// dqhw_width_converter.h - stream width conversion (finn's StreamingDataWidthConverter) and beat
// padding at the top-level AXI-Stream ports.
// What: the element sequence is unchanged; IN_W-bit beats are regrouped into OUT_W-bit beats,
// element 0 in the least significant bits throughout (any ratio: bits are queued in a shift
// register of IN_W + OUT_W bits). dqhw_resize_beats zero-extends or truncates each beat (the ports
// carry whole bytes; pad bits are zero on outputs and ignored on inputs).
#ifndef DQHW_WIDTH_CONVERTER_H
#define DQHW_WIDTH_CONVERTER_H

#include <ap_int.h>
#include <hls_stream.h>

// TOTAL_BITS of a frame (a multiple of both widths), IN_W -> OUT_W bits per beat.
template <unsigned IN_W, unsigned OUT_W, unsigned TOTAL_BITS>
void dqhw_width_converter(hls::stream<ap_uint<IN_W> > &in, hls::stream<ap_uint<OUT_W> > &out) {
    ap_uint<IN_W + OUT_W> queue = 0;
    unsigned held = 0;  // valid bits in queue, from bit 0
    unsigned out_beats = TOTAL_BITS / OUT_W;
    for (unsigned sent = 0; sent < out_beats;) {
#pragma HLS PIPELINE II = 1
        if (held >= OUT_W) {
            out.write(ap_uint<OUT_W>(queue(OUT_W - 1, 0)));
            queue >>= OUT_W;
            held -= OUT_W;
            sent++;
        } else {
            ap_uint<IN_W + OUT_W> beat = in.read();
            queue |= beat << held;
            held += IN_W;
        }
    }
}

template <unsigned IN_W, unsigned OUT_W>
void dqhw_resize_beats(hls::stream<ap_uint<IN_W> > &in, hls::stream<ap_uint<OUT_W> > &out, unsigned beats) {
    for (unsigned b = 0; b < beats; b++) {
#pragma HLS PIPELINE II = 1
        ap_uint<IN_W> x = in.read();
        out.write(ap_uint<OUT_W>(x));  // zero-extends (IN_W < OUT_W) or drops the pad bits (IN_W > OUT_W)
    }
}

#endif
