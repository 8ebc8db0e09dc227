`default_nettype none

// dqhw_gate_memtest: block memories in every mode Yosys' ECP5 mapping gives them here (36-, 18- and
// 9-bit ROMs, an 18-bit and a 36-bit RAM written and read in the same cycle), for checking the
// DP16KD simulation model (sim/gate/DP16KD.v) against this RTL (tests/test_gate.py).
module dqhw_gate_memtest (
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
    (* rom_style = "block" *) reg [35:0] rom36 [0:511];
    (* rom_style = "block" *) reg [17:0] rom18 [0:1023];
    (* rom_style = "block" *) reg [8:0] rom9 [0:2047];
    reg [17:0] ram18 [0:1023];
    reg [35:0] ram36 [0:511];
    initial $readmemh("rom36.memh", rom36);
    initial $readmemh("rom18.memh", rom18);
    initial $readmemh("rom9.memh", rom9);
    always @(posedge clk) begin
        q36 <= rom36[a[8:0]];
        q18 <= rom18[a[9:0]];
        q9 <= rom9[a];
        if (we) ram18[wa] <= d[17:0];
        qr <= ram18[a[9:0]];
        if (we) ram36[wa[8:0]] <= d;
        qw <= ram36[a[8:0]];
    end
endmodule

`default_nettype wire
