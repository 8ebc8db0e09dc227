`default_nettype none

// dqhw_stream_fork: AXI4-Stream broadcast of one input stream to two outputs.
//
// Parameters
//   WIDTH   TDATA width in bits.
// Ports
//   clk, rst_n    clock, synchronous active-low reset.
//   s_axis_*      input stream.
//   m0_axis_*     first copy  (in dqhw_accel: towards LabelSelect).
//   m1_axis_*     second copy (in dqhw_accel: the raw logits output).
// Each output takes the beat independently; the input beat is consumed once both have taken it,
// so a stalled output never loses, duplicates or reorders beats on the other. No extra latency:
// the input's TDATA/TVALID pass straight through (one `done` flag per output remembers a transfer
// that happened while the other output was still stalled).
module dqhw_stream_fork #(
    parameter integer WIDTH = 8
) (
    input  wire             clk,
    input  wire             rst_n,

    input  wire [WIDTH-1:0] s_axis_tdata,
    input  wire             s_axis_tvalid,
    output wire             s_axis_tready,

    output wire [WIDTH-1:0] m0_axis_tdata,
    output wire             m0_axis_tvalid,
    input  wire             m0_axis_tready,

    output wire [WIDTH-1:0] m1_axis_tdata,
    output wire             m1_axis_tvalid,
    input  wire             m1_axis_tready
);

`ifndef SYNTHESIS
    // illegal parameter combinations stop elaboration (elaboration-time $fatal in a generate-if)
    generate
        if (WIDTH < 1) begin : g_bad_width
            $fatal(1, "dqhw_stream_fork: WIDTH=%0d, must be >= 1", WIDTH);
        end
    endgenerate
`endif

    reg done0;  // output 0 already took the current input beat
    reg done1;

    wire take0 = m0_axis_tvalid && m0_axis_tready;
    wire take1 = m1_axis_tvalid && m1_axis_tready;

    assign m0_axis_tdata  = s_axis_tdata;
    assign m1_axis_tdata  = s_axis_tdata;
    assign m0_axis_tvalid = s_axis_tvalid && !done0;
    assign m1_axis_tvalid = s_axis_tvalid && !done1;
    // the input beat completes when each output has taken it, now or earlier
    assign s_axis_tready  = (done0 || m0_axis_tready) && (done1 || m1_axis_tready);

    always @(posedge clk) begin
        if (!rst_n) begin
            done0 <= 1'b0;
            done1 <= 1'b0;
        end else if (s_axis_tvalid && s_axis_tready) begin
            done0 <= 1'b0;
            done1 <= 1'b0;
        end else begin
            if (take0) done0 <= 1'b1;
            if (take1) done1 <= 1'b1;
        end
    end

endmodule

`default_nettype wire
