// Formal properties of dqhw_label_select (SymbiYosys: dqhw_label_select.sby).
//
// Inputs (assumed): a legal AXI-Stream source of logit beats (any values), any m_axis_tready,
// reset in the first cycle and at any later time.
// Asserted:
//   - both streams follow the AXI-Stream rules;
//   - beat accounting: one output beat per NB = NUM_LABELS / PE input beats exactly: frames in =
//     beats out + results in flight (pipeline) + results queued; the queue never holds more than
//     QD results; the unit's beat counter follows the input count;
//   - no stall inside a frame, and on a frame's last beat only while QD results are pending;
//   - arithmetic: the output beat of frame f_fr (any frame, chosen by the solver) is the index of
//     the frame's largest logit, ties to the lowest index (reference below: lane by lane in index
//     order, signed values compared as offset binary, running over the frame's beats delayed by
//     the unit's documented latency, LATENCY = TS + 2); pad bits zero. Inductive invariants: the
//     running best equals the reference's, the queued result of frame f_fr equals the reference.
// Covers: two frames through, a full output queue stalling the input, a frame whose winner is
//   not in its first beat, a tie.

`default_nettype none

module dqhw_label_select_props #(
    parameter integer NUM_LABELS = 4,
    parameter integer PE = 2,
    parameter integer ACC_BITS = 3,
    parameter integer OUT_BITS = (NUM_LABELS > 1) ? $clog2(NUM_LABELS) : 1
) (
    input wire                             clk,
    input wire                             rst_n,
    input wire [((PE*ACC_BITS+7)/8)*8-1:0] s_axis_tdata,
    input wire                             s_axis_tvalid,
    input wire                             m_axis_tready
);
    localparam integer DW = ((PE * ACC_BITS + 7) / 8) * 8;
    localparam integer ODW = ((OUT_BITS + 7) / 8) * 8;
    localparam integer NB = NUM_LABELS / PE;
    localparam integer BW = (NB > 1) ? $clog2(NB) : 1;
    // the unit's documented pipeline (rtl/README.md): TS tree registers, a QD-entry queue
    localparam integer LG = (PE > 1) ? $clog2(PE) : 0;
    localparam integer CMP_LEVELS = 2 + (ACC_BITS + 3) / 4;
    localparam integer CMP_K = (10 / CMP_LEVELS > 0) ? 10 / CMP_LEVELS : 1;
    localparam integer TS = (LG > 0) ? (LG + CMP_K - 1) / CMP_K : 0;
    localparam integer QAW = $clog2(TS + 4);
    localparam integer QD = 1 << QAW;
    localparam integer F_CW = QAW + 3;

    wire           s_axis_tready;
    wire [ODW-1:0] m_axis_tdata;
    wire           m_axis_tvalid;

    dqhw_label_select #(.NUM_LABELS(NUM_LABELS), .PE(PE), .ACC_BITS(ACC_BITS), .OUT_BITS(OUT_BITS)) dut (
        .clk(clk), .rst_n(rst_n),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready)
    );

    reg f_past_valid = 1'b0;
    always @(posedge clk) f_past_valid <= 1'b1;
    always @(*) if (!f_past_valid) assume(!rst_n);

    wire [F_CW-1:0] f_in;
    wire [F_CW-1:0] f_out;
    faxis_slave #(.W(DW), .F_CW(F_CW)) f_slave (
        .clk(clk), .rst_n(rst_n), .tdata(s_axis_tdata), .tvalid(s_axis_tvalid),
        .tready(s_axis_tready), .f_count(f_in));
    faxis_master #(.W(ODW), .F_CW(F_CW)) f_master (
        .clk(clk), .rst_n(rst_n), .tdata(m_axis_tdata), .tvalid(m_axis_tvalid),
        .tready(m_axis_tready), .f_count(f_out));

    // ---------------------------------------------------------------------------------------------
    // reference: offset-binary key of a logit; the best lane of a beat (the first of equal ones)
    // ---------------------------------------------------------------------------------------------
    function [ACC_BITS-1:0] key;
        input [ACC_BITS-1:0] v;
        begin
            key = {!v[ACC_BITS-1], v[ACC_BITS-2:0]};
        end
    endfunction

    function integer best_lane;
        input [DW-1:0] d;
        integer l;
        begin
            best_lane = 0;
            for (l = 1; l < PE; l = l + 1)
                if (key(d[l*ACC_BITS +: ACC_BITS]) > key(d[best_lane*ACC_BITS +: ACC_BITS])) best_lane = l;
        end
    endfunction

    // ---------------------------------------------------------------------------------------------
    // input side: beat of the frame, frames in; a delay line of TS + 1 stages to the running best
    // ---------------------------------------------------------------------------------------------
    wire            f_take = s_axis_tvalid && s_axis_tready;
    reg  [BW-1:0]   f_b;            // beat of the frame of the next input beat
    reg  [F_CW-1:0] f_frames;       // frames whose last beat was taken
    reg  [TS:0]     f_dv;           // delay line: valid, first, last, beat index, data
    reg  [TS:0]     f_dfirst;
    reg  [TS:0]     f_dlast;
    reg  [BW-1:0]   f_db [0:TS];
    reg  [DW-1:0]   f_dd [0:TS];
    integer j;

    always @(posedge clk) begin
        if (!rst_n) begin
            f_b <= {BW{1'b0}};
            f_frames <= {F_CW{1'b0}};
            f_dv <= {(TS+1){1'b0}};
        end else begin
            if (f_take) f_b <= (f_b == NB - 1) ? {BW{1'b0}} : f_b + 1'b1;
            if (f_take && f_b == NB - 1) f_frames <= f_frames + 1'b1;
            f_dv <= (f_dv << 1) | f_take;
        end
        f_dfirst <= (f_dfirst << 1) | (f_b == 0);
        f_dlast <= (f_dlast << 1) | (f_b == NB - 1);
        f_db[0] <= f_b;
        f_dd[0] <= s_axis_tdata;
        for (j = 1; j <= TS; j = j + 1) begin
            f_db[j] <= f_db[j-1];
            f_dd[j] <= f_dd[j-1];
        end
    end

    // ---------------------------------------------------------------------------------------------
    // root side: the running best over the frame's beats, the results pushed, the tracked frame
    // ---------------------------------------------------------------------------------------------
    wire                f_rv = f_dv[TS];
    wire [DW-1:0]       f_rd = f_dd[TS];
    wire [31:0]         f_lane = best_lane(f_rd);
    wire [ACC_BITS-1:0] f_beat_v = f_rd[f_lane*ACC_BITS +: ACC_BITS];
    wire [OUT_BITS-1:0] f_beat_i = f_db[TS] * PE + f_lane;
    reg  [ACC_BITS-1:0] f_best_v;
    reg  [OUT_BITS-1:0] f_best_i;
    reg  [BW-1:0]       f_rb;           // beat of the frame of the next beat at the running best
    wire                f_wins = f_dfirst[TS] || key(f_beat_v) > key(f_best_v);
    wire [OUT_BITS-1:0] f_new_i = f_wins ? f_beat_i : f_best_i;
    reg  [F_CW-1:0]     f_pushed;       // results pushed into the queue
    reg  [F_CW-1:0]     f_fr;           // anyconst: the tracked frame
    reg  [OUT_BITS-1:0] f_ref;          // its reference result, once pushed

    always @(posedge clk) begin
        f_fr <= f_fr;
        if (!rst_n) begin
            f_rb <= {BW{1'b0}};
            f_pushed <= {F_CW{1'b0}};
        end else if (f_rv) begin
            f_rb <= (f_rb == NB - 1) ? {BW{1'b0}} : f_rb + 1'b1;
            if (f_dlast[TS]) f_pushed <= f_pushed + 1'b1;
        end
        if (f_rv && f_wins) begin
            f_best_v <= f_beat_v;
            f_best_i <= f_beat_i;
        end
        if (f_rv && f_dlast[TS] && f_pushed == f_fr) f_ref <= f_new_i;
    end

    // ---------------------------------------------------------------------------------------------
    // assertions
    // ---------------------------------------------------------------------------------------------
    wire [F_CW-1:0] f_inflight;     // frames whose last beat is in the delay line
    wire [F_CW-1:0] f_qcount = dut.qcount;
    wire [F_CW-1:0] f_pending = dut.pending;
    wire [F_CW-1:0] f_qpos = f_fr - f_out;      // place of the tracked frame in the queue
    wire [QAW-1:0]  f_qaddr = dut.qr + f_qpos[QAW-1:0];
    reg  [F_CW-1:0] f_nlast;
    reg  [31:0]     f_older [0:TS];     // valid stages older than stage j (nearer the root)
    always @(*) begin
        f_nlast = 0;
        for (j = 0; j <= TS; j = j + 1) f_nlast = f_nlast + (f_dv[j] && f_dlast[j]);
        f_older[TS] = 0;
        for (j = TS - 1; j >= 0; j = j - 1) f_older[j] = f_older[j+1] + f_dv[j+1];
    end
    assign f_inflight = f_nlast;
    wire [31:0] f_ninline = f_older[0] + f_dv[0];

    always @(*) begin
        if (f_past_valid) begin
            assert(f_b < NB && dut.bcnt == f_b && dut.base == f_b * PE);
            assert(dut.pv == f_dv);
            assert(f_pending == f_frames - f_out);
            assert(f_pending == f_qcount + f_inflight);
            assert(f_pushed == f_out + f_qcount);
            assert(f_pending <= QD);
            assert(dut.qw == dut.qr + f_qcount[QAW-1:0]);
            assert(m_axis_tvalid == (f_qcount != 0));
            if (f_b != NB - 1) assert(s_axis_tready);
            else assert(s_axis_tready == (f_pending != QD));
            // the delay line holds the latest beats, in order, after those through the running best
            assert(f_rb < NB && f_b == (f_rb + f_ninline) % NB);
            for (j = 0; j <= TS; j = j + 1) begin
                if (f_dv[j]) begin
                    assert(f_db[j] == (f_rb + f_older[j]) % NB);
                    assert(f_dfirst[j] == (f_db[j] == 0) && f_dlast[j] == (f_db[j] == NB - 1));
                    assert(dut.plast[j] == f_dlast[j] && dut.pfirst[j] == f_dfirst[j]);
                end
            end
            // inside a frame the running best is the reference's
            if (f_rb != 0) assert(dut.best_v == f_best_v && dut.best_i == f_best_i);
            if (f_qpos < f_qcount) assert(dut.q[f_qaddr] == f_ref);
            if (m_axis_tvalid && f_out == f_fr) assert(m_axis_tdata == {{(ODW-OUT_BITS){1'b0}}, f_ref});
        end
    end

    // ---------------------------------------------------------------------------------------------
    // covers
    // ---------------------------------------------------------------------------------------------
    reg f_late_winner;  // a frame's result came from a beat after its first
    reg f_tie;          // two lanes of a beat tied for the maximum
    always @(posedge clk) begin
        if (!rst_n) begin
            f_late_winner <= 1'b0;
            f_tie <= 1'b0;
        end else if (f_rv) begin
            if (f_dlast[TS] && !f_dfirst[TS] && f_wins) f_late_winner <= 1'b1;
            if (PE > 1 && f_rd[0 +: ACC_BITS] == f_rd[ACC_BITS +: ACC_BITS] && f_lane == 0) f_tie <= 1'b1;
        end
    end
    always @(*) begin
        if (f_past_valid && rst_n) begin
            cover(f_out == 2);
            cover(f_pending == QD && s_axis_tvalid && !s_axis_tready);
            cover(f_late_winner && f_out == 1);
            cover(f_tie && f_out == 1);
        end
    end
endmodule

`default_nettype wire
