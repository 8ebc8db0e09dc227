`default_nettype none

// dqhw_maxpool: max pooling over the window stream of finn-plus' depthwise
// ConvolutionInputGenerator (FINN's lowering of MaxPool2d: depthwise SWG + Pool(Function=MaxPool)).
//
// Input stream order (contract.depthwise_swg_stream), per output pixel:
//   for cf in 0 .. CHANNELS/PE-1:  for w in 0 .. KERNEL-1 (window row-major):
//     one beat = channels cf*PE .. cf*PE+PE-1 of window element w (channel cf*PE in the LSBs)
// so the KERNEL beats of one channel fold are consecutive and the unit only has to take the
// lane-wise maximum of every KERNEL consecutive beats. Output: one beat of PE maxima per
// KERNEL input beats (contract.maxpool_window_stream), i.e. NHWC channel order.
//
// Parameters
//   CHANNELS  channels of the feature map (only checked: PE must divide it)
//   PE        channels per beat (= the SWG's SIMD = the Pool node's PE)
//   KERNEL    window elements K_H*K_W (>= 1)
//   BITS      element width
//   SIGNED    0: elements are unsigned 0..2^BITS-1 (also FINN's BINARY, and BIPOLAR: bit 1 = +1,
//                bit 0 = -1, whose maximum is the OR of the bits, i.e. the unsigned maximum)
//             1: elements are two's complement -2^(BITS-1)..2^(BITS-1)-1 (FINN's INTb; BITS >= 2)
// Ports: clk, synchronous active-low rst_n, s_axis_* / m_axis_* with TDATA of PE*BITS bits
//   padded to whole bytes (pad bits ignored on input, zero on output).
// Timing: one input beat per cycle under full output readiness; output registered; the only
//   combinational ready path (m_axis_tready -> s_axis_tready) exists on a window's last beat.
module dqhw_maxpool #(
    parameter integer CHANNELS = 4,
    parameter integer PE = 2,
    parameter integer KERNEL = 4,
    parameter integer BITS = 4,
    parameter integer SIGNED = 0
) (
    input  wire                              clk,
    input  wire                              rst_n,

    input  wire [((PE*BITS+7)/8)*8-1:0]      s_axis_tdata,
    input  wire                              s_axis_tvalid,
    output wire                              s_axis_tready,

    output wire [((PE*BITS+7)/8)*8-1:0]      m_axis_tdata,
    output wire                              m_axis_tvalid,
    input  wire                              m_axis_tready
);

    localparam integer LW = PE * BITS;             // payload bits of a beat
    localparam integer DW = ((PE * BITS + 7) / 8) * 8;
    localparam integer KW = (KERNEL > 1) ? $clog2(KERNEL) : 1;
    localparam integer KLAST_I = KERNEL - 1;
    localparam [KW-1:0] KLAST = KLAST_I[KW-1:0];

`ifndef SYNTHESIS
    // illegal parameter combinations stop elaboration (elaboration-time $fatal in a generate-if)
    generate
        if (PE < 1 || CHANNELS < 1 || CHANNELS % PE != 0) begin : g_bad_pe
            $fatal(1, "dqhw_maxpool: bad parameters: PE=%0d must divide CHANNELS=%0d", PE, CHANNELS);
        end
        if (KERNEL < 1 || BITS < 1) begin : g_bad_sizes
            $fatal(1, "dqhw_maxpool: bad parameters KERNEL=%0d, BITS=%0d (each must be >= 1)", KERNEL, BITS);
        end
        if (SIGNED != 0 && SIGNED != 1) begin : g_bad_signed
            $fatal(1, "dqhw_maxpool: bad parameter SIGNED=%0d (must be 0 or 1)", SIGNED);
        end
        if (SIGNED == 1 && BITS < 2) begin : g_bad_signed_bits
            $fatal(1, "dqhw_maxpool: SIGNED=1 needs BITS >= 2, got BITS=%0d (BIPOLAR is SIGNED=0, BITS=1)", BITS);
        end
    endgenerate
`endif

    reg  [KW-1:0] kcnt;      // window element of the next input beat
    reg  [LW-1:0] run_max;   // lane-wise maximum of the beats taken so far in this window
    reg  [LW-1:0] out_q;
    reg           out_v;

    wire          win_last = (kcnt == KLAST);
    wire          win_first = (kcnt == {KW{1'b0}});
    assign s_axis_tready = !win_last || !out_v || m_axis_tready;
    wire          take = s_axis_tvalid && s_axis_tready;
    wire [LW-1:0] in_data = s_axis_tdata[LW-1:0];
    wire [LW-1:0] new_max;

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_lane
            wire [BITS-1:0] a = run_max[p*BITS +: BITS];
            wire [BITS-1:0] b = in_data[p*BITS +: BITS];
            wire            b_gt_a;
            if (SIGNED == 1) begin : g_signed
                assign b_gt_a = $signed(b) > $signed(a);    // two's complement comparison
            end else begin : g_unsigned
                assign b_gt_a = b > a;
            end
            assign new_max[p*BITS +: BITS] = (win_first || b_gt_a) ? b : a;
        end
        if (DW > LW) begin : g_in_pad
            wire unused_in_pad = ^s_axis_tdata[DW-1:LW];  // byte padding carries no data
            assign m_axis_tdata = {{(DW-LW){1'b0}}, out_q};
        end else begin : g_no_pad
            assign m_axis_tdata = out_q;
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            kcnt <= {KW{1'b0}};
            out_v <= 1'b0;
        end else begin
            if (take) kcnt <= win_last ? {KW{1'b0}} : kcnt + 1'b1;
            if (take && win_last) out_v <= 1'b1;
            else if (m_axis_tready) out_v <= 1'b0;
        end
    end

    always @(posedge clk) begin
        if (take) run_max <= new_max;
        if (take && win_last) out_q <= new_max;
    end

    assign m_axis_tvalid = out_v;

endmodule

`default_nettype wire
