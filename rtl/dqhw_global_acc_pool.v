`default_nettype none

// dqhw_global_acc_pool: global sum pooling, finn's GlobalAccPool: per channel, the sum of the
// element over all PIXELS pixels of a frame (global average pooling without the division by
// PIXELS, which finn moves into the scale of the next layer).
//
// Input stream: NHWC order, per pixel CHANNELS/PE beats of PE channels (channel f*PE in the LSBs of
// beat f). Output: after the frame's last pixel, CHANNELS/PE beats of PE sums, in the same channel
// order (beat f of the last pixel completes and emits sums f*PE .. f*PE+PE-1).
//
// Parameters
//   CHANNELS  channels (PE must divide it)
//   PE        channels per beat
//   PIXELS    pixels per frame (H*W, >= 1)
//   IN_BITS   unsigned input element width
//   OUT_BITS  output element width: PIXELS * (2^IN_BITS - 1) must fit (unsigned)
// Ports: clk, synchronous active-low rst_n, s_axis_* / m_axis_*, TDATA padded to whole bytes.
// Timing: one input beat per cycle; the output is registered; the only combinational ready path
//   (m_axis_tready -> s_axis_tready) exists during the last pixel.
module dqhw_global_acc_pool #(
    parameter integer CHANNELS = 4,
    parameter integer PE = 2,
    parameter integer PIXELS = 4,
    parameter integer IN_BITS = 2,
    parameter integer OUT_BITS = 4
) (
    input  wire                               clk,
    input  wire                               rst_n,

    input  wire [((PE*IN_BITS+7)/8)*8-1:0]    s_axis_tdata,
    input  wire                               s_axis_tvalid,
    output wire                               s_axis_tready,

    output wire [((PE*OUT_BITS+7)/8)*8-1:0]   m_axis_tdata,
    output wire                               m_axis_tvalid,
    input  wire                               m_axis_tready
);

    localparam integer IW = ((PE * IN_BITS + 7) / 8) * 8;
    localparam integer OW = ((PE * OUT_BITS + 7) / 8) * 8;
    localparam integer LW = PE * OUT_BITS;
    localparam integer NF = (PE > 0) ? CHANNELS / PE : 1;  // beats per pixel
    localparam integer FW = (NF > 1) ? $clog2(NF) : 1;
    localparam integer PW = (PIXELS > 1) ? $clog2(PIXELS) : 1;
    localparam integer FLAST_I = NF - 1;
    localparam integer PLAST_I = PIXELS - 1;
    localparam [FW-1:0] FLAST = FLAST_I[FW-1:0];
    localparam [PW-1:0] PLAST = PLAST_I[PW-1:0];

`ifndef SYNTHESIS
    // illegal parameter combinations stop elaboration (elaboration-time $fatal in a generate-if)
    generate
        if (PE < 1 || CHANNELS < 1 || CHANNELS % PE != 0) begin : g_bad_pe
            $fatal(1, "dqhw_global_acc_pool: bad parameters: PE=%0d must divide CHANNELS=%0d", PE, CHANNELS);
        end
        if (PIXELS < 1 || PIXELS > 65536 || IN_BITS < 1 || IN_BITS > 12 || OUT_BITS < 1 || OUT_BITS > 30)
        begin : g_bad_sizes
            $fatal(1, "dqhw_global_acc_pool: bad parameters PIXELS=%0d (1..65536), IN_BITS=%0d (1..12), OUT_BITS=%0d (1..30)",
                   PIXELS, IN_BITS, OUT_BITS);
        end else if (PIXELS * ((1 << IN_BITS) - 1) >= (1 << OUT_BITS)) begin : g_bad_out
            $fatal(1, "dqhw_global_acc_pool: OUT_BITS=%0d cannot hold %0d x (2^%0d - 1)", OUT_BITS, PIXELS, IN_BITS);
        end
    endgenerate
`endif

    reg  [LW-1:0] acc [0:NF-1];  // running sums of the current frame, one word per channel fold
    reg  [FW-1:0] fold;
    reg  [PW-1:0] pix;
    reg  [LW-1:0] out_q;
    reg           out_v;

    wire          last_pix = (pix == PLAST);
    wire          first_pix = (pix == {PW{1'b0}});
    assign s_axis_tready = !last_pix || !out_v || m_axis_tready;
    wire          take = s_axis_tvalid && s_axis_tready;
    wire [LW-1:0] prev = acc[fold];
    wire [LW-1:0] sums;

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_lane
            wire [IN_BITS-1:0]  xin = s_axis_tdata[p*IN_BITS +: IN_BITS];
            wire [OUT_BITS-1:0] x;
            if (OUT_BITS > IN_BITS) begin : g_widen
                assign x = {{(OUT_BITS-IN_BITS){1'b0}}, xin};
            end else begin : g_same
                assign x = xin;  // PIXELS = 1: OUT_BITS = IN_BITS
            end
            wire [OUT_BITS-1:0] base = first_pix ? {OUT_BITS{1'b0}} : prev[p*OUT_BITS +: OUT_BITS];
            assign sums[p*OUT_BITS +: OUT_BITS] = base + x;
        end
        if (IW > PE * IN_BITS) begin : g_in_pad
            wire unused_in_pad = ^s_axis_tdata[IW-1:PE*IN_BITS];  // byte padding carries no data
        end
        if (OW > LW) begin : g_out_pad
            assign m_axis_tdata = {{(OW-LW){1'b0}}, out_q};
        end else begin : g_out_no_pad
            assign m_axis_tdata = out_q;
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            fold <= {FW{1'b0}};
            pix <= {PW{1'b0}};
            out_v <= 1'b0;
        end else begin
            if (take) begin
                if (fold == FLAST) begin
                    fold <= {FW{1'b0}};
                    pix <= last_pix ? {PW{1'b0}} : pix + 1'b1;
                end else begin
                    fold <= fold + 1'b1;
                end
            end
            if (take && last_pix) out_v <= 1'b1;
            else if (m_axis_tready) out_v <= 1'b0;
        end
    end

    always @(posedge clk) begin
        if (take && !last_pix) acc[fold] <= sums;
        if (take && last_pix) out_q <= sums;
    end

    assign m_axis_tvalid = out_v;

endmodule

`default_nettype wire
