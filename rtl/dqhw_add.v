`default_nettype none

// dqhw_add: the integer convex-combination add of a residual block, out = WA * a + WB * b, lane by
// lane, of two AXI4-Streams of the same shape (docs/integer-contract.md, "Residual add").
//
// The network's lam * shortcut + (1 - lam) * F(x) with lam = WA / (WA + WB) and both operands on one
// activation scale s is s / (WA + WB) * (WA * a + WB * b): this module computes the integer sum, the
// requantizing thresholds after it absorb the scale.
//
// Parameters
//   CHANNELS  channels of the feature map (only checked: PE must divide it)
//   PE        elements per beat on both inputs and the output (channels innermost, NHWC order)
//   A_BITS, A_SIGNED   element width and signedness of input a (s0_axis): two's complement if 1
//   B_BITS, B_SIGNED   the same for input b (s1_axis)
//   WA, WB    the integer weights (1..65535)
//   OUT_BITS  output element width (1..32): the sum must fit (unsigned if no input is signed, else
//             two's complement); dqhw sizes it from the reachable range (DqhwAddStreams)
// Ports: clk, synchronous active-low rst_n; s0_axis_* (a), s1_axis_* (b), m_axis_*, each TDATA
//   PE elements padded to whole bytes (pad bits ignored on input, zero on output).
// Timing: a beat is taken from both inputs in the same cycle (a join), one per cycle under full
//   output readiness; the output is registered. An input waits (TREADY low) until the other input
//   has a beat too, so the two branches of a residual block must be buffered (FIFOs) to run at rate.
module dqhw_add #(
    parameter integer CHANNELS = 4,
    parameter integer PE = 2,
    parameter integer A_BITS = 2,
    parameter integer A_SIGNED = 0,
    parameter integer B_BITS = 2,
    parameter integer B_SIGNED = 0,
    parameter integer WA = 1,
    parameter integer WB = 1,
    parameter integer OUT_BITS = 4
) (
    input  wire                               clk,
    input  wire                               rst_n,

    input  wire [((PE*A_BITS+7)/8)*8-1:0]     s0_axis_tdata,
    input  wire                               s0_axis_tvalid,
    output wire                               s0_axis_tready,

    input  wire [((PE*B_BITS+7)/8)*8-1:0]     s1_axis_tdata,
    input  wire                               s1_axis_tvalid,
    output wire                               s1_axis_tready,

    output wire [((PE*OUT_BITS+7)/8)*8-1:0]   m_axis_tdata,
    output wire                               m_axis_tvalid,
    input  wire                               m_axis_tready
);

    localparam integer AW = ((PE * A_BITS + 7) / 8) * 8;
    localparam integer BW = ((PE * B_BITS + 7) / 8) * 8;
    localparam integer OW = ((PE * OUT_BITS + 7) / 8) * 8;
    localparam integer LW = PE * OUT_BITS;

`ifndef SYNTHESIS
    // illegal parameter combinations stop elaboration (elaboration-time $fatal in a generate-if)
    generate
        if (PE < 1 || CHANNELS < 1 || CHANNELS % PE != 0) begin : g_bad_pe
            $fatal(1, "dqhw_add: bad parameters: PE=%0d must divide CHANNELS=%0d", PE, CHANNELS);
        end
        if (A_BITS < 1 || A_BITS > 32 || B_BITS < 1 || B_BITS > 32 || OUT_BITS < 1 || OUT_BITS > 32) begin : g_bad_bits
            $fatal(1, "dqhw_add: bad widths A_BITS=%0d, B_BITS=%0d, OUT_BITS=%0d (each 1..32)", A_BITS, B_BITS,
                   OUT_BITS);
        end
        if (WA < 1 || WA > 65535 || WB < 1 || WB > 65535) begin : g_bad_weights
            $fatal(1, "dqhw_add: bad weights WA=%0d, WB=%0d (each 1..65535)", WA, WB);
        end
        if ((A_SIGNED != 0 && A_SIGNED != 1) || (B_SIGNED != 0 && B_SIGNED != 1)) begin : g_bad_signed
            $fatal(1, "dqhw_add: A_SIGNED=%0d, B_SIGNED=%0d must be 0 or 1", A_SIGNED, B_SIGNED);
        end
        if ((A_SIGNED == 1 && A_BITS < 2) || (B_SIGNED == 1 && B_BITS < 2)) begin : g_bad_signed_bits
            $fatal(1, "dqhw_add: a signed input needs at least 2 bits");
        end
    endgenerate
`endif

    // The sum is computed modulo 2^OUT_BITS on sign- (or zero-) extended operands: its OUT_BITS bits
    // are the exact two's complement (or unsigned) result, since the result fits OUT_BITS. The
    // constant multiplications are shift-and-add over the set bits of WA and WB (LUTs and carry
    // chains, never a DSP).
    localparam integer WA_I = WA;
    localparam integer WB_I = WB;

    reg  [LW-1:0] out_q;
    reg           out_v;

    wire both = s0_axis_tvalid && s1_axis_tvalid;
    wire room = !out_v || m_axis_tready;
    wire take = both && room;
    assign s0_axis_tready = s1_axis_tvalid && room;
    assign s1_axis_tready = s0_axis_tvalid && room;

    wire [LW-1:0] sums;

    genvar p, k;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_lane
            wire [A_BITS-1:0] a = s0_axis_tdata[p*A_BITS +: A_BITS];
            wire [B_BITS-1:0] b = s1_axis_tdata[p*B_BITS +: B_BITS];
            wire [OUT_BITS-1:0] a_ext;
            wire [OUT_BITS-1:0] b_ext;
            if (OUT_BITS > A_BITS) begin : g_a_ext
                assign a_ext = {{(OUT_BITS-A_BITS){A_SIGNED == 1 ? a[A_BITS-1] : 1'b0}}, a};
            end else begin : g_a_cut
                assign a_ext = a[OUT_BITS-1:0];
            end
            if (OUT_BITS > B_BITS) begin : g_b_ext
                assign b_ext = {{(OUT_BITS-B_BITS){B_SIGNED == 1 ? b[B_BITS-1] : 1'b0}}, b};
            end else begin : g_b_cut
                assign b_ext = b[OUT_BITS-1:0];
            end
            // WA * a + WB * b as shift-and-add over the set bits of WA and WB (the zero terms and the
            // additions of zero vanish in synthesis: WA + WB = 15 leaves four terms, three adders per lane)
            wire [OUT_BITS-1:0] acc [0:16];
            assign acc[0] = {OUT_BITS{1'b0}};
            for (k = 0; k < 16; k = k + 1) begin : g_bit
                wire [OUT_BITS-1:0] ta = WA_I[k] ? (a_ext << k) : {OUT_BITS{1'b0}};
                wire [OUT_BITS-1:0] tb = WB_I[k] ? (b_ext << k) : {OUT_BITS{1'b0}};
                assign acc[k + 1] = acc[k] + ta + tb;
            end
            assign sums[p*OUT_BITS +: OUT_BITS] = acc[16];
        end
        if (AW > PE * A_BITS) begin : g_a_pad
            wire unused_a_pad = ^s0_axis_tdata[AW-1:PE*A_BITS];  // byte padding carries no data
        end
        if (BW > PE * B_BITS) begin : g_b_pad
            wire unused_b_pad = ^s1_axis_tdata[BW-1:PE*B_BITS];
        end
        if (OW > LW) begin : g_out_pad
            assign m_axis_tdata = {{(OW-LW){1'b0}}, out_q};
        end else begin : g_out_no_pad
            assign m_axis_tdata = out_q;
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            out_v <= 1'b0;
        end else if (take) begin
            out_v <= 1'b1;
        end else if (m_axis_tready) begin
            out_v <= 1'b0;
        end
    end

    always @(posedge clk) begin
        if (take) out_q <= sums;
    end

    assign m_axis_tvalid = out_v;

endmodule

`default_nettype wire
