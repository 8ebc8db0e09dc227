// Formal properties of dqhw_maxpool (SymbiYosys: dqhw_maxpool.sby).
//
// Inputs (assumed): a legal AXI-Stream source of window beats (any data: every value of every
// lane), any m_axis_tready, reset in the first cycle and at any later time.
// Asserted:
//   - both streams follow the AXI-Stream rules;
//   - beat accounting: one output beat per KERNEL input beats exactly: windows completed =
//     beats out + the beat waiting in the output register; the window position is in mod KERNEL;
//   - no stall inside a window (s_axis_tready is high except on a window's last beat while the
//     output register is full and not read);
//   - arithmetic: every output beat is the lane-wise maximum of its window's KERNEL beats, from the
//     reference below (signed lanes compared as offset binary, a formulation of its own), pad bits
//     zero; the running maximum matches the reference's inside a window (the inductive invariant).
// Covers: two whole windows through, a stalled output with the input waiting on a window's last
//   beat, a window whose maximum is not its first beat.

`default_nettype none

module dqhw_maxpool_props #(
    parameter integer CHANNELS = 4,
    parameter integer PE = 2,
    parameter integer KERNEL = 4,
    parameter integer BITS = 2,
    parameter integer SIGNED = 0
) (
    input wire                         clk,
    input wire                         rst_n,
    input wire [((PE*BITS+7)/8)*8-1:0] s_axis_tdata,
    input wire                         s_axis_tvalid,
    input wire                         m_axis_tready
);
    localparam integer DW = ((PE * BITS + 7) / 8) * 8;
    localparam integer LW = PE * BITS;
    localparam integer F_CW = 5;
    localparam integer KW = (KERNEL > 1) ? $clog2(KERNEL) : 1;

    wire          s_axis_tready;
    wire [DW-1:0] m_axis_tdata;
    wire          m_axis_tvalid;

    dqhw_maxpool #(.CHANNELS(CHANNELS), .PE(PE), .KERNEL(KERNEL), .BITS(BITS), .SIGNED(SIGNED)) dut (
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
    faxis_master #(.W(DW), .F_CW(F_CW)) f_master (
        .clk(clk), .rst_n(rst_n), .tdata(m_axis_tdata), .tvalid(m_axis_tvalid),
        .tready(m_axis_tready), .f_count(f_out));

    // reference: lane-wise maximum; a signed lane compares as offset binary (MSB flipped)
    function [LW-1:0] ref_max;
        input [LW-1:0] a;
        input [LW-1:0] b;
        integer p;
        reg [BITS-1:0] ka, kb;
        begin
            for (p = 0; p < PE; p = p + 1) begin
                ka = a[p*BITS +: BITS];
                kb = b[p*BITS +: BITS];
                if (SIGNED != 0) begin
                    ka[BITS-1] = !ka[BITS-1];
                    kb[BITS-1] = !kb[BITS-1];
                end
                ref_max[p*BITS +: BITS] = (kb > ka) ? b[p*BITS +: BITS] : a[p*BITS +: BITS];
            end
        end
    endfunction

    wire          f_take = s_axis_tvalid && s_axis_tready;
    wire [LW-1:0] f_beat = s_axis_tdata[LW-1:0];
    reg  [KW-1:0] f_k;          // window position of the next input beat
    reg  [F_CW-1:0] f_win;      // windows completed
    reg  [LW-1:0] f_run;        // reference maximum of the window's beats so far
    reg  [LW-1:0] f_res;        // reference maximum of the last completed window
    wire [LW-1:0] f_next = (f_k == 0) ? f_beat : ref_max(f_run, f_beat);
    reg  [LW-1:0] f_first;      // the window's first beat (for a cover)

    always @(posedge clk) begin
        if (!rst_n) begin
            f_k <= {KW{1'b0}};
            f_win <= {F_CW{1'b0}};
        end else if (f_take) begin
            f_k <= (f_k == KERNEL - 1) ? {KW{1'b0}} : f_k + 1'b1;
            if (f_k == KERNEL - 1) f_win <= f_win + 1'b1;
        end
        if (f_take) f_run <= f_next;
        if (f_take && f_k == 0) f_first <= f_beat;
        if (f_take && f_k == KERNEL - 1) f_res <= f_next;
    end

    always @(*) begin
        if (f_past_valid) begin
            assert(dut.kcnt == f_k);
            assert(f_win == f_out + {{(F_CW-1){1'b0}}, m_axis_tvalid});
            if (f_k != KERNEL - 1) assert(s_axis_tready);
            else assert(s_axis_tready == (!m_axis_tvalid || m_axis_tready));
            if (f_k != 0) assert(dut.run_max == f_run);
            if (m_axis_tvalid) assert(m_axis_tdata == {{(DW-LW){1'b0}}, f_res});
        end
    end

    always @(*) begin
        if (f_past_valid && rst_n) begin
            cover(f_out == 2 && f_in == 2 * KERNEL);
            cover(m_axis_tvalid && !m_axis_tready && s_axis_tvalid && !s_axis_tready);
            cover(f_take && f_k == KERNEL - 1 && f_k != 0 && f_next != f_first && f_next != f_beat);
        end
    end
endmodule

`default_nettype wire
