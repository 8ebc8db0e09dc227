`default_nettype none

// dqhw_label_select: argmax over NUM_LABELS signed logits (the last MVAU's raw accumulators).
//
// Input: NUM_LABELS/PE beats per frame, beat b carries logits b*PE .. b*PE+PE-1 (logit b*PE in
// the LSBs), each ACC_BITS wide two's complement. Output: one beat per frame holding the index
// of the largest logit, ties resolved to the lowest index (contract.label_select, the ONNX TopK
// rule), unsigned OUT_BITS wide, padded with zeros to whole bytes.
//
// Parameters
//   NUM_LABELS  logits per frame (PE must divide it)
//   PE          logits per input beat
//   ACC_BITS    logit width (signed)
//   OUT_BITS    index width (default: just enough for NUM_LABELS-1)
// Timing: one input beat per cycle; a balanced comparison tree over the PE lanes of a beat, then
//   one comparison with the running best (strictly greater wins, so earlier = lower indices keep
//   ties). The output is registered; m_axis_tready reaches s_axis_tready combinationally only
//   on a frame's last beat.
module dqhw_label_select #(
    parameter integer NUM_LABELS = 10,
    parameter integer PE = 2,
    parameter integer ACC_BITS = 16,
    parameter integer OUT_BITS = (NUM_LABELS > 1) ? $clog2(NUM_LABELS) : 1
) (
    input  wire                                clk,
    input  wire                                rst_n,

    input  wire [((PE*ACC_BITS+7)/8)*8-1:0]    s_axis_tdata,
    input  wire                                s_axis_tvalid,
    output wire                                s_axis_tready,

    output wire [((OUT_BITS+7)/8)*8-1:0]       m_axis_tdata,
    output wire                                m_axis_tvalid,
    input  wire                                m_axis_tready
);

    localparam integer LW = PE * ACC_BITS;
    localparam integer DW = ((PE * ACC_BITS + 7) / 8) * 8;
    localparam integer ODW = ((OUT_BITS + 7) / 8) * 8;
    localparam integer NB = NUM_LABELS / PE;                  // beats per frame
    localparam integer BW = (NB > 1) ? $clog2(NB) : 1;
    localparam integer BLAST_I = NB - 1;
    localparam [BW-1:0] BLAST = BLAST_I[BW-1:0];
    localparam integer PE_I = PE;
    localparam [OUT_BITS-1:0] PE_STEP = PE_I[OUT_BITS-1:0];
    localparam integer LG = (PE > 1) ? $clog2(PE) : 0;
    localparam integer P2 = 1 << LG;                          // leaves of the comparison tree

`ifndef SYNTHESIS
    // illegal parameter combinations stop elaboration (elaboration-time $fatal in a generate-if)
    generate
        if (PE < 1 || NUM_LABELS < 1 || NUM_LABELS % PE != 0) begin : g_bad_pe
            $fatal(1, "dqhw_label_select: bad parameters: PE=%0d must divide NUM_LABELS=%0d", PE, NUM_LABELS);
        end
        if (ACC_BITS < 1) begin : g_bad_acc
            $fatal(1, "dqhw_label_select: ACC_BITS=%0d, must be >= 1", ACC_BITS);
        end
        if (OUT_BITS < 1 || (1 << OUT_BITS) < NUM_LABELS) begin : g_bad_out
            $fatal(1, "dqhw_label_select: OUT_BITS=%0d cannot hold the indices of NUM_LABELS=%0d labels",
                   OUT_BITS, NUM_LABELS);
        end
    endgenerate
`endif

    reg  [BW-1:0]                 bcnt;       // beat of the frame
    reg  [OUT_BITS-1:0]           base;       // index of lane 0 of this beat (= bcnt * PE)
    reg  signed [ACC_BITS-1:0]    best_v;
    reg  [OUT_BITS-1:0]           best_i;
    reg  [OUT_BITS-1:0]           out_q;
    reg                           out_v;

    wire frame_last = (bcnt == BLAST);
    wire frame_first = (bcnt == {BW{1'b0}});
    assign s_axis_tready = !frame_last || !out_v || m_axis_tready;
    wire take = s_axis_tvalid && s_axis_tready;

    // comparison tree in heap order: node n has children 2n+1 (lower indices) and 2n+2;
    // the leaves P2-1 .. 2*P2-2 are the lanes (padding leaves are invalid)
    wire signed [ACC_BITS-1:0] tv [0:2*P2-2];
    wire        [OUT_BITS-1:0] ti [0:2*P2-2];
    wire                       tok [0:2*P2-2];

    genvar n;
    generate
        for (n = 0; n < P2; n = n + 1) begin : g_leaf
            if (n < PE) begin : g_lane
                localparam integer N_I = n;
                assign tv[P2-1+n] = $signed(s_axis_tdata[n*ACC_BITS +: ACC_BITS]);
                assign ti[P2-1+n] = base + N_I[OUT_BITS-1:0];
                assign tok[P2-1+n] = 1'b1;
            end else begin : g_pad
                assign tv[P2-1+n] = {ACC_BITS{1'b0}};
                assign ti[P2-1+n] = {OUT_BITS{1'b0}};
                assign tok[P2-1+n] = 1'b0;
            end
        end
        for (n = 0; n < P2 - 1; n = n + 1) begin : g_node
            // the right child wins only when valid and strictly greater (ties: lower index)
            wire right = tok[2*n+2] && (!tok[2*n+1] || tv[2*n+2] > tv[2*n+1]);
            assign tv[n] = right ? tv[2*n+2] : tv[2*n+1];
            assign ti[n] = right ? ti[2*n+2] : ti[2*n+1];
            assign tok[n] = tok[2*n+1] || tok[2*n+2];
        end
        if (DW > LW) begin : g_in_pad
            wire unused_in_pad = ^s_axis_tdata[DW-1:LW];  // byte padding carries no data
        end
        if (ODW > OUT_BITS) begin : g_out_pad
            assign m_axis_tdata = {{(ODW-OUT_BITS){1'b0}}, out_q};
        end else begin : g_out_nopad
            assign m_axis_tdata = out_q;
        end
    endgenerate

    wire unused_root_ok = tok[0];  // always 1: lane 0 is a valid leaf
    // the running best keeps ties: a later beat wins only when strictly greater
    wire beat_wins = frame_first || (tv[0] > best_v);
    wire [OUT_BITS-1:0] new_i = beat_wins ? ti[0] : best_i;

    always @(posedge clk) begin
        if (!rst_n) begin
            bcnt <= {BW{1'b0}};
            base <= {OUT_BITS{1'b0}};
            out_v <= 1'b0;
        end else begin
            if (take) begin
                bcnt <= frame_last ? {BW{1'b0}} : bcnt + 1'b1;
                base <= frame_last ? {OUT_BITS{1'b0}} : base + PE_STEP;
            end
            if (take && frame_last) out_v <= 1'b1;
            else if (m_axis_tready) out_v <= 1'b0;
        end
    end

    always @(posedge clk) begin
        if (take && beat_wins) begin
            best_v <= tv[0];
            best_i <= ti[0];
        end
        if (take && frame_last) out_q <= new_i;
    end

    assign m_axis_tvalid = out_v;

endmodule

`default_nettype wire
