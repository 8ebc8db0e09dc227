// AXI4-Stream interface properties in the style of ZipCPU's faxis_slave / faxis_master
// (https://github.com/ZipCPU/wb2axip, bench/formal): one checker per stream port, read by
// read_slang (yosys-slang) for SymbiYosys. dqhw streams have no TLAST/TKEEP/TUSER; a frame is a
// parameter-given number of beats, checked by the module wrappers (<module>_props.sv).
//
// faxis_slave  - a stream INTO the design under test: the rules are assumptions (the environment
//                is any legal AXI-Stream source).
// faxis_master - a stream OUT OF the design under test: the same rules are assertions.
// Rules: after reset TVALID is low (an input's also in the first cycle); once TVALID is high without TREADY,
// TVALID stays high and TDATA stays stable until the transfer. Both checkers count transfers
// (f_count, modulo 2^F_CW, cleared by reset) for the wrappers' beat-accounting properties.
//
// The "anyconst" values of the wrappers are registers without reset or initial value that hold
// their value (yosys-slang ignores the (* anyconst *) attribute and has no $anyconst).

`default_nettype none

module faxis_slave #(
    parameter integer W = 8,
    parameter integer F_CW = 8
) (
    input  wire            clk,
    input  wire            rst_n,
    input  wire [W-1:0]    tdata,
    input  wire            tvalid,
    input  wire            tready,
    output reg  [F_CW-1:0] f_count
);
    // the previous cycle, in registers (so the checks are immediate, in the cycle they are about)
    reg         f_past_valid = 1'b0;
    reg         f_past_rst_n;
    reg         f_past_stall;   // TVALID without TREADY
    reg [W-1:0] f_past_data;
    always @(posedge clk) begin
        f_past_valid <= 1'b1;
        f_past_rst_n <= rst_n;
        f_past_stall <= tvalid && !tready;
        f_past_data <= tdata;
    end

    always @(*) begin
        if (!f_past_valid || !f_past_rst_n) begin
            assume(!tvalid);
        end else if (f_past_stall) begin
            assume(tvalid);
            assume(tdata == f_past_data);
        end
    end

    always @(posedge clk) begin
        if (!rst_n) f_count <= {F_CW{1'b0}};
        else if (tvalid && tready) f_count <= f_count + 1'b1;
    end
endmodule

module faxis_master #(
    parameter integer W = 8,
    parameter integer F_CW = 8
) (
    input  wire            clk,
    input  wire            rst_n,
    input  wire [W-1:0]    tdata,
    input  wire            tvalid,
    input  wire            tready,
    output reg  [F_CW-1:0] f_count
);
    reg         f_past_valid = 1'b0;
    reg         f_past_rst_n;
    reg         f_past_stall;
    reg [W-1:0] f_past_data;
    always @(posedge clk) begin
        f_past_valid <= 1'b1;
        f_past_rst_n <= rst_n;
        f_past_stall <= tvalid && !tready;
        f_past_data <= tdata;
    end

    // the first cycle is a reset cycle (the wrappers assume it): registers without an initial
    // value hold anything until the first clock edge, so the checks start after it
    always @(*) begin
        if (f_past_valid && !f_past_rst_n) begin
            assert(!tvalid);
        end else if (f_past_valid && f_past_stall) begin
            assert(tvalid);
            assert(tdata == f_past_data);
        end
    end

    always @(posedge clk) begin
        if (!rst_n) f_count <= {F_CW{1'b0}};
        else if (tvalid && tready) f_count <= f_count + 1'b1;
    end
endmodule

`default_nettype wire
