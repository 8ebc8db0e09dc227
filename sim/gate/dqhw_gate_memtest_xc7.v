`default_nettype none

// dqhw_gate_memtest_xc7: the block-memory modes of Yosys' xc7 mapping that dqhw_gate_memtest.v does
// not reach (there: RAMB18E1 in TDP 9/18 and SDP 36): RAMB36E1 ROMs 36 and 18 bits wide, a 4-bit ROM,
// single-port RAMs that read the new word on a write (WRITE_FIRST) or keep their output (NO_CHANGE).
// Same ports as dqhw_gate_memtest, for sim/test_gate_memtest.py; checked against its synth_xilinx
// netlist with sim/gate/RAMB_xc7.v in tests/test_gate.py.
module dqhw_gate_memtest_xc7 (
    input  wire        clk,
    input  wire [10:0] a,
    input  wire [35:0] d,
    input  wire        we,
    input  wire [9:0]  wa,
    output reg  [35:0] q36,
    output reg  [17:0] q18,
    output reg  [8:0]  q9,
    output reg  [17:0] qr,
    output reg  [35:0] qw
);
    (* rom_style = "block" *) reg [35:0] rom36 [0:1023];
    (* rom_style = "block" *) reg [17:0] rom18 [0:2047];
    (* rom_style = "block" *) reg [3:0] rom4 [0:2047];
    (* ram_style = "block" *) reg [17:0] ram18 [0:1023];
    (* ram_style = "block" *) reg [35:0] ram36 [0:1023];
    initial $readmemh("rom36k.memh", rom36);
    initial $readmemh("rom18k.memh", rom18);
    initial $readmemh("rom4k.memh", rom4);
    always @(posedge clk) begin
        q36 <= rom36[a[9:0]];
        q18 <= rom18[a];
        q9 <= {5'd0, rom4[a]};
        if (we) begin
            ram18[wa] <= d[17:0];
            qr <= d[17:0];
        end else begin
            qr <= ram18[wa];
        end
        if (we) ram36[a[9:0]] <= d;
        else qw <= ram36[a[9:0]];
    end
endmodule

`default_nettype wire
