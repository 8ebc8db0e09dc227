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
// Timing: one input beat per cycle, no bubbles. The beat is registered, then a balanced
//   comparison tree over its PE lanes (the right child wins only when strictly greater, so ties
//   keep the lower index) with a register every CMP_K tree levels (CMP_K from ACC_BITS: one level
//   is a comparison and a select, 2 + ceil(ACC_BITS/4) logic levels, and a stage stays within
//   LEVEL_BUDGET = 10 levels, rtl/README.md), then one strict comparison with the running best.
//   LATENCY = TS + 2 cycles from a frame's last input beat to its output beat (TS tree registers).
//   Results go to a QD-entry output queue (QD = the power of two >= LATENCY + 2); a frame's last
//   beat is taken only with a free slot reserved, so s_axis_tready depends on registers only (no
//   combinational path from m_axis_tready).
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

    // floor(log2(v)), v >= 1
    function integer flog2;
        input integer v;
        integer i;
        begin
            flog2 = 0;
            for (i = 1; i < 31; i = i + 1)
                if ((1 << i) <= v) flog2 = i;
        end
    endfunction

    // a register after tree level h of d, the d levels cut into ts stages (as in dqhw_mvau)
    function integer is_boundary;
        input integer h;
        input integer d;
        input integer ts;
        begin
            if (h < 1 || d < 1) is_boundary = 0;
            else is_boundary = ((h * ts) / d > ((h - 1) * ts) / d) ? 1 : 0;
        end
    endfunction

    localparam integer LW = PE * ACC_BITS;
    localparam integer DW = ((PE * ACC_BITS + 7) / 8) * 8;
    localparam integer ODW = ((OUT_BITS + 7) / 8) * 8;
    localparam integer NB = NUM_LABELS / PE;                  // beats per frame
    localparam integer BW = (NB > 1) ? $clog2(NB) : 1;
    localparam integer BLAST_I = NB - 1;
    localparam [BW-1:0] BLAST = BLAST_I[BW-1:0];
    localparam integer PE_I = PE;
    localparam [OUT_BITS-1:0] PE_STEP = PE_I[OUT_BITS-1:0];
    localparam integer LG = (PE > 1) ? $clog2(PE) : 0;        // comparison-tree levels
    localparam integer P2 = 1 << LG;                          // leaves of the comparison tree
    localparam integer LEVEL_BUDGET = 10;
    localparam integer CMP_LEVELS = 2 + (ACC_BITS + 3) / 4;   // logic levels of one tree level
    localparam integer CMP_K = (LEVEL_BUDGET / CMP_LEVELS > 0) ? LEVEL_BUDGET / CMP_LEVELS : 1;
    localparam integer TS = (LG > 0) ? (LG + CMP_K - 1) / CMP_K : 0;   // tree register stages
    localparam integer LATENCY = TS + 2;
    localparam integer QAW = $clog2(LATENCY + 2);
    localparam integer QD = 1 << QAW;
    localparam integer QCW = QAW + 1;
    localparam [QCW-1:0] QFULL = QD[QCW-1:0];

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

    // ---------------------------------------------------------------------------------------------
    // input: beat counter, slot reservation, input register (stage 0)
    // ---------------------------------------------------------------------------------------------
    reg  [BW-1:0]       bcnt;       // beat of the frame
    reg  [OUT_BITS-1:0] base;       // index of lane 0 of this beat (= bcnt * PE)
    reg  [QCW-1:0]      pending;    // frames whose last beat was taken, result not yet sent
    wire                pop;

    wire frame_last = (bcnt == BLAST);
    wire frame_first = (bcnt == {BW{1'b0}});
    assign s_axis_tready = !frame_last || (pending != QFULL);
    wire take = s_axis_tvalid && s_axis_tready;

    always @(posedge clk) begin
        if (!rst_n) begin
            bcnt <= {BW{1'b0}};
            base <= {OUT_BITS{1'b0}};
            pending <= {QCW{1'b0}};
        end else begin
            if (take) begin
                bcnt <= frame_last ? {BW{1'b0}} : bcnt + 1'b1;
                base <= frame_last ? {OUT_BITS{1'b0}} : base + PE_STEP;
            end
            pending <= pending + {{(QCW-1){1'b0}}, take && frame_last} - {{(QCW-1){1'b0}}, pop};
        end
    end

    // control pipeline: stage 0 = the input register, 1 .. TS = tree registers (only valid is reset)
    reg  [TS:0]              pv;
    reg  [TS:0]              pfirst;
    reg  [TS:0]              plast;
    reg  [(TS+1)*OUT_BITS-1:0] pbase;
    reg  [LW-1:0]            in_q;

    generate
        if (TS > 0) begin : g_pipe
            always @(posedge clk) begin
                if (!rst_n) pv <= {(TS+1){1'b0}};
                else pv <= {pv[TS-1:0], take};
                pfirst <= {pfirst[TS-1:0], frame_first};
                plast <= {plast[TS-1:0], frame_last};
                pbase <= {pbase[TS*OUT_BITS-1:0], base};
            end
        end else begin : g_no_pipe
            always @(posedge clk) begin
                if (!rst_n) pv <= 1'b0;
                else pv <= take;
                pfirst <= frame_first;
                plast <= frame_last;
                pbase <= base;
            end
        end
    endgenerate

    always @(posedge clk) begin
        in_q <= s_axis_tdata[LW-1:0];
    end

    // ---------------------------------------------------------------------------------------------
    // comparison tree in heap order: node n has children 2n+1 (lower indices) and 2n+2; the leaves
    // P2-1 .. 2*P2-2 are the lanes (padding leaves are invalid); ti = lane index
    // ---------------------------------------------------------------------------------------------
    wire signed [ACC_BITS-1:0] tv [0:2*P2-2];
    wire        [OUT_BITS-1:0] ti [0:2*P2-2];
    wire                       tok [0:2*P2-2];

    genvar n;
    generate
        for (n = 0; n < 2 * P2 - 1; n = n + 1) begin : g_node
            localparam integer H = LG - flog2(n + 1);     // tree levels below this node
            wire signed [ACC_BITS-1:0] v;
            wire        [OUT_BITS-1:0] i;
            wire                       ok;
            if (H == 0) begin : g_leaf
                localparam integer LANE = n - (P2 - 1);
                if (LANE < PE) begin : g_lane
                    assign v = $signed(in_q[LANE*ACC_BITS +: ACC_BITS]);
                    assign i = LANE[OUT_BITS-1:0];
                    assign ok = 1'b1;
                end else begin : g_pad
                    assign v = {ACC_BITS{1'b0}};
                    assign i = {OUT_BITS{1'b0}};
                    assign ok = 1'b0;
                end
            end else begin : g_cmp
                // the right child wins only when valid and strictly greater (ties: lower index)
                wire right = tok[2*n+2] && (!tok[2*n+1] || tv[2*n+2] > tv[2*n+1]);
                assign v = right ? tv[2*n+2] : tv[2*n+1];
                assign i = right ? ti[2*n+2] : ti[2*n+1];
                assign ok = tok[2*n+1] || tok[2*n+2];
            end
            if (is_boundary(H, LG, TS) != 0) begin : g_reg
                reg signed [ACC_BITS-1:0] rv;
                reg        [OUT_BITS-1:0] ri;
                reg                       rok;
                always @(posedge clk) begin
                    rv <= v;
                    ri <= i;
                    rok <= ok;
                end
                assign tv[n] = rv;
                assign ti[n] = ri;
                assign tok[n] = rok;
            end else begin : g_comb
                assign tv[n] = v;
                assign ti[n] = i;
                assign tok[n] = ok;
            end
        end
        if (DW > LW) begin : g_in_pad
            wire unused_in_pad = ^s_axis_tdata[DW-1:LW];  // byte padding carries no data
        end
    endgenerate

    // ---------------------------------------------------------------------------------------------
    // running best (stage TS + 1), result into the output queue
    // ---------------------------------------------------------------------------------------------
    wire                root_v = pv[TS];
    wire                rfirst = pfirst[TS];
    wire                rlast = plast[TS];
    wire [OUT_BITS-1:0] root_i = pbase[TS*OUT_BITS +: OUT_BITS] + ti[0];
    wire                unused_root_ok = tok[0];  // always 1: lane 0 is a valid leaf

    reg  signed [ACC_BITS-1:0] best_v;
    reg         [OUT_BITS-1:0] best_i;
    // the running best keeps ties: a later beat wins only when strictly greater
    wire                beat_wins = rfirst || (tv[0] > best_v);
    wire [OUT_BITS-1:0] new_i = beat_wins ? root_i : best_i;
    wire                push = root_v && rlast;

    always @(posedge clk) begin
        if (root_v && beat_wins) begin
            best_v <= tv[0];
            best_i <= root_i;
        end
    end

    reg  [OUT_BITS-1:0] q [0:QD-1];
    reg  [QAW-1:0]      qw;
    reg  [QAW-1:0]      qr;
    reg  [QCW-1:0]      qcount;

    assign m_axis_tvalid = (qcount != {QCW{1'b0}});
    assign pop = m_axis_tvalid && m_axis_tready;

    always @(posedge clk) begin
        if (push) q[qw] <= new_i;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            qw <= {QAW{1'b0}};
            qr <= {QAW{1'b0}};
            qcount <= {QCW{1'b0}};
        end else begin
            if (push) qw <= qw + 1'b1;
            if (pop) qr <= qr + 1'b1;
            qcount <= qcount + {{(QCW-1){1'b0}}, push} - {{(QCW-1){1'b0}}, pop};
        end
    end

    generate
        if (ODW > OUT_BITS) begin : g_out_pad
            assign m_axis_tdata = {{(ODW-OUT_BITS){1'b0}}, q[qr]};
        end else begin : g_out_nopad
            assign m_axis_tdata = q[qr];
        end
    endgenerate

endmodule

`default_nettype wire
