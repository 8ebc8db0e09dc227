// dqhw_stream_fork.h - one stream copied to two (rtl/dqhw_stream_fork.v): the logits go both to
// LabelSelect and out of the accelerator, so every logit can be compared, not only the class.
#ifndef DQHW_STREAM_FORK_H
#define DQHW_STREAM_FORK_H

#include <ap_int.h>
#include <hls_stream.h>

template <unsigned W>
void dqhw_stream_fork(hls::stream<ap_uint<W> > &in, hls::stream<ap_uint<W> > &out0, hls::stream<ap_uint<W> > &out1,
                      unsigned beats) {
    for (unsigned b = 0; b < beats; b++) {
#pragma HLS PIPELINE II = 1
        ap_uint<W> x = in.read();
        out0.write(x);
        out1.write(x);
    }
}

#endif
