// dqhw_width_converter.h - stream width conversion (finn's StreamingDataWidthConverter) and beat
// padding at the top-level AXI-Stream ports.
// What: the element sequence is unchanged; IN_W-bit beats are regrouped into OUT_W-bit beats,
// element 0 in the least significant bits throughout (any ratio: bits are queued in a shift
// register of IN_W + OUT_W bits when neither width divides the other). dqhw_resize_beats zero-extends or truncates each beat (the ports
// carry whole bytes; pad bits are zero on outputs and ignored on inputs).
#ifndef DQHW_WIDTH_CONVERTER_H
#define DQHW_WIDTH_CONVERTER_H

#include <ap_int.h>
#include <hls_stream.h>

// TOTAL_BITS of a frame (a multiple of both widths), IN_W -> OUT_W bits per beat.
template <unsigned IN_W, unsigned OUT_W, unsigned TOTAL_BITS>
void dqhw_width_converter(hls::stream<ap_uint<IN_W> > &in, hls::stream<ap_uint<OUT_W> > &out) {
    if (OUT_W % IN_W == 0) {  // OUT_W / IN_W input beats per output beat, the first in the LSBs
        ap_uint<OUT_W> word = 0;
        for (unsigned b = 0; b < TOTAL_BITS / IN_W; b++) {
#pragma HLS PIPELINE II = 1
            unsigned k = b % (OUT_W / IN_W);
            word((k + 1) * IN_W - 1, k * IN_W) = in.read();
            if (k == OUT_W / IN_W - 1) out.write(word);
        }
        return;
    }
    if (IN_W % OUT_W == 0) {  // each input beat leaves as IN_W / OUT_W output beats, LSBs first
        ap_uint<IN_W> word;
        for (unsigned b = 0; b < TOTAL_BITS / OUT_W; b++) {
#pragma HLS PIPELINE II = 1
            unsigned k = b % (IN_W / OUT_W);
            if (k == 0) word = in.read();
            out.write(ap_uint<OUT_W>(word((k + 1) * OUT_W - 1, k * OUT_W)));
        }
        return;
    }
    ap_uint<IN_W + OUT_W> queue = 0;  // any other ratio
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
