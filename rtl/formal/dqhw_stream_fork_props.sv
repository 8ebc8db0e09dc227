// Formal properties of dqhw_stream_fork (SymbiYosys: dqhw_stream_fork.sby).
//
// Inputs (assumed): a legal AXI-Stream source, any readiness on both outputs, reset in the first
// cycle and at any later time.
// Asserted:
//   - both outputs follow the AXI-Stream rules (faxis_master);
//   - beat accounting: each output has taken every input beat, and at most the one on the input
//     now: out_k = in + done_k exactly (none lost, none duplicated on either output);
//   - a transfer on output k carries the input beat number out_k (= in: the beat on the input now),
//     and the data are that beat's (TDATA passes through);
//   - the input beat completes exactly when both outputs have it (now or before).
// Covers: output 0 stalled while output 1 takes the beat (and the reverse), both at once, a later
//   beat after a split transfer.

`default_nettype none

module dqhw_stream_fork_props #(
    parameter integer WIDTH = 4
) (
    input wire             clk,
    input wire             rst_n,
    input wire [WIDTH-1:0] s_axis_tdata,
    input wire             s_axis_tvalid,
    input wire             m0_axis_tready,
    input wire             m1_axis_tready
);
    localparam integer F_CW = 4;

    wire             s_axis_tready;
    wire [WIDTH-1:0] m0_axis_tdata;
    wire             m0_axis_tvalid;
    wire [WIDTH-1:0] m1_axis_tdata;
    wire             m1_axis_tvalid;

    dqhw_stream_fork #(.WIDTH(WIDTH)) dut (
        .clk(clk), .rst_n(rst_n),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .m0_axis_tdata(m0_axis_tdata), .m0_axis_tvalid(m0_axis_tvalid), .m0_axis_tready(m0_axis_tready),
        .m1_axis_tdata(m1_axis_tdata), .m1_axis_tvalid(m1_axis_tvalid), .m1_axis_tready(m1_axis_tready)
    );

    reg f_past_valid = 1'b0;
    always @(posedge clk) f_past_valid <= 1'b1;
    always @(*) if (!f_past_valid) assume(!rst_n);

    wire [F_CW-1:0] f_in;
    wire [F_CW-1:0] f_out0;
    wire [F_CW-1:0] f_out1;
    faxis_slave #(.W(WIDTH), .F_CW(F_CW)) f_slave (
        .clk(clk), .rst_n(rst_n), .tdata(s_axis_tdata), .tvalid(s_axis_tvalid),
        .tready(s_axis_tready), .f_count(f_in));
    faxis_master #(.W(WIDTH), .F_CW(F_CW)) f_master0 (
        .clk(clk), .rst_n(rst_n), .tdata(m0_axis_tdata), .tvalid(m0_axis_tvalid),
        .tready(m0_axis_tready), .f_count(f_out0));
    faxis_master #(.W(WIDTH), .F_CW(F_CW)) f_master1 (
        .clk(clk), .rst_n(rst_n), .tdata(m1_axis_tdata), .tvalid(m1_axis_tvalid),
        .tready(m1_axis_tready), .f_count(f_out1));

    wire f_take_in = s_axis_tvalid && s_axis_tready;
    wire f_take0 = m0_axis_tvalid && m0_axis_tready;
    wire f_take1 = m1_axis_tvalid && m1_axis_tready;
    // output k holds the input beat now (took it earlier, or takes it in this cycle)
    wire f_has0 = dut.done0 || f_take0;
    wire f_has1 = dut.done1 || f_take1;

    always @(*) begin
        if (f_past_valid) begin
            assert(f_out0 == f_in + {{(F_CW-1){1'b0}}, dut.done0});
            assert(f_out1 == f_in + {{(F_CW-1){1'b0}}, dut.done1});
            // done_k only while the input still offers the beat (it cannot be withdrawn)
            if (dut.done0 || dut.done1) assert(s_axis_tvalid);
            if (f_take0) assert(f_out0 == f_in && m0_axis_tdata == s_axis_tdata);
            if (f_take1) assert(f_out1 == f_in && m1_axis_tdata == s_axis_tdata);
            if (s_axis_tvalid) assert(f_take_in == (f_has0 && f_has1));
        end
    end

    // covers
    reg f_split = 1'b0;     // a beat went to the outputs in different cycles
    always @(posedge clk) begin
        if (!rst_n) f_split <= 1'b0;
        else if (dut.done0 || dut.done1) f_split <= 1'b1;
    end
    always @(*) begin
        if (f_past_valid && rst_n) begin
            cover(f_take1 && m0_axis_tvalid && !m0_axis_tready);
            cover(f_take0 && m1_axis_tvalid && !m1_axis_tready);
            cover(f_take0 && f_take1 && f_in == 2);
            cover(f_split && f_take_in && f_in == 3);
        end
    end
endmodule

`default_nettype wire
