`default_nettype none

// RAMB18E1 / RAMB36E1: behavioural models of the 7-series block RAMs for gate-level simulation of
// Yosys' synth_xilinx netlists (dqhw.synth.gate). Yosys' own cells_sim.v declares both without a
// behaviour (their outputs would float); these models cover what Yosys' xc7 memory mapping
// (share/xilinx/brams_xc6v_map.v) instantiates, and stop elaboration on anything else:
//
// - RAM_MODE "TDP": each port reads and writes 1, 2, 4, 9, 18 (and 36: RAMB36E1) bits; a W-bit
//   word's address is ADDR[AB-1:log2(W')] (W' = W without its parity bits), the byte write enables
//   are WEA / WEBWE[W'/8 - 1:0] (one for W <= 9);
// - RAM_MODE "SDP": port A reads 36 (RAMB18E1) or 72 (RAMB36E1) bits on {DOB, DOA} / {DOPB, DOPA},
//   port B writes {DIB, DIA} / {DIPB, DIPA} with a write enable per byte (WEBWE);
// - WRITE_MODE READ_FIRST (a writing port outputs the old word), WRITE_FIRST (the new one),
//   NO_CHANGE (its output keeps its value); DOx_REG 0 or 1 (REGCE, RSTREG); RSTRAM sets the output
//   latch to SRVAL (the parity bits above the data bits, as Yosys' ival lays them out); the IS_*_INVERTED
//   options of clocks, enables and resets. Not modelled: cascading (RAM_EXTENSION), ECC, collisions
//   between the two ports' writes.
//
// Contents: the INIT_xx strings laid end to end are the data bits, the INITP_xx the parity bits; a
// W-bit word i has data bits [i W' +: W'] and parity bits [i W/9 +: W/9]. The array is kept as
// rows of 16 data + 2 parity bits (row r: data INIT[16 r +: 16], parity INITP[2 r +: 2]).
module dqhw_gate_bram #(
    parameter integer AB = 14,          // address bits: 14 (18 Kb), 15 (36 Kb)
    parameter integer HALF = 16,        // data bits of one port at SDP's full width: 16 (18 Kb), 32 (36 Kb)
    parameter NAME = "RAMB18E1",        // the primitive, for the elaboration error
    parameter RAM_MODE = "TDP",
    parameter integer RWA = 0, parameter integer RWB = 0,  // read / write widths in bits (0: unused)
    parameter integer WWA = 0, parameter integer WWB = 0,
    parameter WRITE_MODE_A = "WRITE_FIRST", parameter WRITE_MODE_B = "WRITE_FIRST",
    parameter integer REGA = 0, parameter integer REGB = 0,
    parameter [71:0] SRVAL_A = 72'd0, parameter [71:0] SRVAL_B = 72'd0,  // the primitive's, parity above data
    parameter [71:0] INIT_A = 72'd0, parameter [71:0] INIT_B = 72'd0,    // the outputs at start, same layout
    parameter [(1 << AB) - 1:0] INIT_D = 0,
    parameter [(1 << (AB - 3)) - 1:0] INIT_P = 0
) (
    input  wire clka, ena, rsta, rstrega, regcea,
    input  wire [AB-1:0] adda,
    input  wire [71:0] dia,  // {parity[7:0], data[63:0]}
    input  wire [7:0] wea,
    output wire [71:0] doa,
    input  wire clkb, enb, rstb, rstregb, regceb,
    input  wire [AB-1:0] addb,
    input  wire [71:0] dib,
    input  wire [7:0] web,
    output wire [71:0] dob
);
    /* verilator lint_off WIDTH */
    localparam integer SDP = (RAM_MODE == "SDP") ? 1 : 0;
    localparam integer WMA = (WRITE_MODE_A == "READ_FIRST") ? 0 : (WRITE_MODE_A == "WRITE_FIRST") ? 1 : 2;
    localparam integer WMB = (WRITE_MODE_B == "READ_FIRST") ? 0 : (WRITE_MODE_B == "WRITE_FIRST") ? 1 : 2;
    /* verilator lint_on WIDTH */
    localparam integer FULL = 2 * (HALF + HALF / 8);  // SDP's full width: both ports' data and parity

    // a port's SRVAL / INIT value (parity above data) as {parity at 64, data at 0}
    function [71:0] pack(input integer w, input [71:0] v);
        integer d;
        begin
            d = (w < 9) ? w : w / 9 * 8;
            pack = (w < 9) ? (v & ((72'd1 << w) - 1)) : (((v >> d) & ((72'd1 << (w / 9)) - 1)) << 64)
                   | (v & ((72'd1 << d) - 1));
        end
    endfunction
    // SDP at full width: port A's value is the low half, port B's the high half
    /* verilator lint_off WIDTH */
    function [71:0] pack2(input [71:0] a, input [71:0] b);
        pack2 = ({b[HALF +: HALF / 8], a[HALF +: HALF / 8]} << 64) | {b[HALF-1:0], a[HALF-1:0]};
    endfunction
    /* verilator lint_on WIDTH */
    localparam [71:0] SRA = (SDP == 1 && RWA == FULL) ? pack2(SRVAL_A, SRVAL_B) : pack(RWA, SRVAL_A);
    localparam [71:0] INA = (SDP == 1 && RWA == FULL) ? pack2(INIT_A, INIT_B) : pack(RWA, INIT_A);
    localparam [71:0] SRB = pack(RWB, SRVAL_B);
    localparam [71:0] INB = pack(RWB, INIT_B);

`ifndef SYNTHESIS
    generate
        if (!(SDP == 1 || RAM_MODE == "TDP") || WMA == 2 && WRITE_MODE_A != "NO_CHANGE"
            || WMB == 2 && WRITE_MODE_B != "NO_CHANGE") begin : g_bad_mode
            $fatal(1, "%s model: RAM_MODE / WRITE_MODE not modelled", NAME);
        end
    endgenerate
`endif

    localparam integer ROWS = 1 << (AB - 4);
    /* verilator lint_off MULTIDRIVEN */
    reg [17:0] mem [0:ROWS-1];  // {parity[1:0], data[15:0]}
    /* verilator lint_on MULTIDRIVEN */
    reg [71:0] lat_a, lat_b, reg_a, reg_b;

    integer r;
    initial begin
        for (r = 0; r < ROWS; r = r + 1) mem[r] = {INIT_P[2 * r +: 2], INIT_D[16 * r +: 16]};
        lat_a = INA; lat_b = INB; reg_a = INA; reg_b = INB;
    end

    // a W-bit word at ad, packed {parity at 64.., data at 0..}
    function [71:0] rd(input integer w, input [AB-1:0] ad);
        reg [17:0] r0, r1, r2, r3;
        reg [AB-1:0] a6;
        begin
            rd = 72'd0;
            a6 = ad;
            a6[5:0] = 6'd0;
            r0 = mem[a6[AB-1:4]]; r1 = mem[a6[AB-1:4] + 1]; r2 = mem[a6[AB-1:4] + 2]; r3 = mem[a6[AB-1:4] + 3];
            if (w == 72) rd = {r3[17:16], r2[17:16], r1[17:16], r0[17:16], r3[15:0], r2[15:0], r1[15:0], r0[15:0]};
            else if (w == 36) begin
                r0 = mem[{ad[AB-1:5], 1'b0}]; r1 = mem[{ad[AB-1:5], 1'b1}];
                rd = {4'd0, r1[17:16], r0[17:16], 32'd0, r1[15:0], r0[15:0]};
            end else begin
                r0 = mem[ad[AB-1:4]];
                if (w == 18) rd = {6'd0, r0[17:16], 48'd0, r0[15:0]};
                else if (w == 9) rd = {7'd0, r0[16 + ad[3]], 56'd0, r0[8 * ad[3] +: 8]};
                else if (w == 4) rd = {68'd0, r0[4 * ad[3:2] +: 4]};
                else if (w == 2) rd = {70'd0, r0[2 * ad[3:1] +: 2]};
                else rd = {71'd0, r0[ad[3:0]]};
            end
        end
    endfunction

    // the written bits of a word (WRITE_FIRST's output): byte b's data and parity bit where we[b]
    function [71:0] wmask(input integer w, input [7:0] we);
        integer b;
        begin
            wmask = 72'd0;
            if (w < 9) wmask = we[0] ? {72{1'b1}} : 72'd0;
            else for (b = 0; b < w / 9; b = b + 1) if (we[b]) begin
                wmask[8 * b +: 8] = 8'hff;
                wmask[64 + b] = 1'b1;
            end
        end
    endfunction

    task wr(input integer w, input [AB-1:0] ad, input [71:0] d, input [7:0] we);
        integer b;
        reg [AB-1:0] row;
        begin
            if (w >= 18) begin  // whole bytes over w / 18 rows from the word's first row
                row = ad;
                row[AB-1:4] = (w == 72) ? {ad[AB-1:6], 2'b00} : (w == 36) ? {ad[AB-1:5], 1'b0} : ad[AB-1:4];
                for (b = 0; b < w / 9; b = b + 1) if (we[b]) begin
                    mem[row[AB-1:4] + b / 2][8 * (b % 2) +: 8] <= d[8 * b +: 8];
                    mem[row[AB-1:4] + b / 2][16 + b % 2] <= d[64 + b];
                end
            end else if (we[0]) begin
                if (w == 9) begin
                    mem[ad[AB-1:4]][8 * ad[3] +: 8] <= d[7:0];
                    mem[ad[AB-1:4]][16 + ad[3]] <= d[64];
                end else if (w == 4) mem[ad[AB-1:4]][4 * ad[3:2] +: 4] <= d[3:0];
                else if (w == 2) mem[ad[AB-1:4]][2 * ad[3:1] +: 2] <= d[1:0];
                else mem[ad[AB-1:4]][ad[3:0]] <= d[0];
            end
        end
    endtask

    // SDP: port A reads, port B writes
    always @(posedge clka) begin
        if (ena) begin
            if (SDP == 0 && WWA != 0 && |wea) begin
                wr(WWA, adda, dia, wea);
                if (WMA == 0) lat_a <= rd(RWA, adda);
                else if (WMA == 1) lat_a <= (rd(RWA, adda) & ~wmask(WWA, wea)) | (dia & wmask(WWA, wea));
            end else if (RWA != 0) lat_a <= rd(RWA, adda);
            if (rsta) lat_a <= SRA;
        end
        if (rstrega) reg_a <= SRA;
        else if (regcea) reg_a <= lat_a;
    end
    always @(posedge clkb) begin
        if (enb) begin
            if (WWB != 0 && |web) begin
                wr(WWB, addb, dib, web);
                if (SDP == 0 && WMB == 0) lat_b <= rd(RWB, addb);
                else if (SDP == 0 && WMB == 1) lat_b <= (rd(RWB, addb) & ~wmask(WWB, web)) | (dib & wmask(WWB, web));
            end else if (SDP == 0 && RWB != 0) lat_b <= rd(RWB, addb);
            if (rstb && SDP == 0) lat_b <= SRB;
        end
        if (rstregb) reg_b <= SRB;
        else if (regceb) reg_b <= lat_b;
    end
    assign doa = (REGA != 0) ? reg_a : lat_a;
    assign dob = (REGB != 0) ? reg_b : lat_b;
endmodule

module RAMB18E1 #(
    parameter integer DOA_REG = 0, parameter integer DOB_REG = 0,
    parameter [71:0] INIT_A = 72'd0, parameter [71:0] INIT_B = 72'd0,
    parameter [71:0] SRVAL_A = 72'd0, parameter [71:0] SRVAL_B = 72'd0,
    parameter RAM_MODE = "TDP",
    parameter integer READ_WIDTH_A = 0, parameter integer READ_WIDTH_B = 0,
    parameter integer WRITE_WIDTH_A = 0, parameter integer WRITE_WIDTH_B = 0,
    parameter WRITE_MODE_A = "WRITE_FIRST", parameter WRITE_MODE_B = "WRITE_FIRST",
    parameter RDADDR_COLLISION_HWCONFIG = "DELAYED_WRITE", parameter SIM_COLLISION_CHECK = "ALL",
    parameter SIM_DEVICE = "7SERIES",
    parameter RSTREG_PRIORITY_A = "RSTREG", parameter RSTREG_PRIORITY_B = "RSTREG",
    parameter [0:0] IS_CLKARDCLK_INVERTED = 1'b0, parameter [0:0] IS_CLKBWRCLK_INVERTED = 1'b0,
    parameter [0:0] IS_ENARDEN_INVERTED = 1'b0, parameter [0:0] IS_ENBWREN_INVERTED = 1'b0,
    parameter [0:0] IS_RSTRAMARSTRAM_INVERTED = 1'b0, parameter [0:0] IS_RSTRAMB_INVERTED = 1'b0,
    parameter [0:0] IS_RSTREGARSTREG_INVERTED = 1'b0, parameter [0:0] IS_RSTREGB_INVERTED = 1'b0,
    parameter [255:0] INITP_00 = 256'd0, parameter [255:0] INITP_01 = 256'd0,
    parameter [255:0] INITP_02 = 256'd0, parameter [255:0] INITP_03 = 256'd0,
    parameter [255:0] INITP_04 = 256'd0, parameter [255:0] INITP_05 = 256'd0,
    parameter [255:0] INITP_06 = 256'd0, parameter [255:0] INITP_07 = 256'd0,
    parameter [255:0] INIT_00 = 256'd0, parameter [255:0] INIT_01 = 256'd0,
    parameter [255:0] INIT_02 = 256'd0, parameter [255:0] INIT_03 = 256'd0,
    parameter [255:0] INIT_04 = 256'd0, parameter [255:0] INIT_05 = 256'd0,
    parameter [255:0] INIT_06 = 256'd0, parameter [255:0] INIT_07 = 256'd0,
    parameter [255:0] INIT_08 = 256'd0, parameter [255:0] INIT_09 = 256'd0,
    parameter [255:0] INIT_0A = 256'd0, parameter [255:0] INIT_0B = 256'd0,
    parameter [255:0] INIT_0C = 256'd0, parameter [255:0] INIT_0D = 256'd0,
    parameter [255:0] INIT_0E = 256'd0, parameter [255:0] INIT_0F = 256'd0,
    parameter [255:0] INIT_10 = 256'd0, parameter [255:0] INIT_11 = 256'd0,
    parameter [255:0] INIT_12 = 256'd0, parameter [255:0] INIT_13 = 256'd0,
    parameter [255:0] INIT_14 = 256'd0, parameter [255:0] INIT_15 = 256'd0,
    parameter [255:0] INIT_16 = 256'd0, parameter [255:0] INIT_17 = 256'd0,
    parameter [255:0] INIT_18 = 256'd0, parameter [255:0] INIT_19 = 256'd0,
    parameter [255:0] INIT_1A = 256'd0, parameter [255:0] INIT_1B = 256'd0,
    parameter [255:0] INIT_1C = 256'd0, parameter [255:0] INIT_1D = 256'd0,
    parameter [255:0] INIT_1E = 256'd0, parameter [255:0] INIT_1F = 256'd0,
    parameter [255:0] INIT_20 = 256'd0, parameter [255:0] INIT_21 = 256'd0,
    parameter [255:0] INIT_22 = 256'd0, parameter [255:0] INIT_23 = 256'd0,
    parameter [255:0] INIT_24 = 256'd0, parameter [255:0] INIT_25 = 256'd0,
    parameter [255:0] INIT_26 = 256'd0, parameter [255:0] INIT_27 = 256'd0,
    parameter [255:0] INIT_28 = 256'd0, parameter [255:0] INIT_29 = 256'd0,
    parameter [255:0] INIT_2A = 256'd0, parameter [255:0] INIT_2B = 256'd0,
    parameter [255:0] INIT_2C = 256'd0, parameter [255:0] INIT_2D = 256'd0,
    parameter [255:0] INIT_2E = 256'd0, parameter [255:0] INIT_2F = 256'd0,
    parameter [255:0] INIT_30 = 256'd0, parameter [255:0] INIT_31 = 256'd0,
    parameter [255:0] INIT_32 = 256'd0, parameter [255:0] INIT_33 = 256'd0,
    parameter [255:0] INIT_34 = 256'd0, parameter [255:0] INIT_35 = 256'd0,
    parameter [255:0] INIT_36 = 256'd0, parameter [255:0] INIT_37 = 256'd0,
    parameter [255:0] INIT_38 = 256'd0, parameter [255:0] INIT_39 = 256'd0,
    parameter [255:0] INIT_3A = 256'd0, parameter [255:0] INIT_3B = 256'd0,
    parameter [255:0] INIT_3C = 256'd0, parameter [255:0] INIT_3D = 256'd0,
    parameter [255:0] INIT_3E = 256'd0, parameter [255:0] INIT_3F = 256'd0
) (
    input  wire CLKARDCLK, CLKBWRCLK, ENARDEN, ENBWREN, REGCEAREGCE, REGCEB,
    input  wire RSTRAMARSTRAM, RSTRAMB, RSTREGARSTREG, RSTREGB,
    input  wire [13:0] ADDRARDADDR, ADDRBWRADDR,
    input  wire [15:0] DIADI, DIBDI,
    input  wire [1:0] DIPADIP, DIPBDIP,
    input  wire [1:0] WEA,
    input  wire [3:0] WEBWE,
    output wire [15:0] DOADO, DOBDO,
    output wire [1:0] DOPADOP, DOPBDOP
);
    /* verilator lint_off WIDTH */
    localparam integer SDP = (RAM_MODE == "SDP") ? 1 : 0;
    /* verilator lint_on WIDTH */
    localparam integer FULL = 36;  // SDP's full width (the core's decoding of the mode parameters)

    wire clka = CLKARDCLK ^ IS_CLKARDCLK_INVERTED;
    wire clkb = CLKBWRCLK ^ IS_CLKBWRCLK_INVERTED;
    /* verilator lint_off WIDTH */
    wire [71:0] di_a = ({DIPADIP} << 64) | DIADI;
    wire [71:0] di_b = (SDP == 1 && WRITE_WIDTH_B == FULL) ? (({DIPBDIP, DIPADIP} << 64) | {DIBDI, DIADI})
                                                           : (({DIPBDIP} << 64) | DIBDI);
    wire [7:0] we_a = WEA;
    wire [7:0] we_b = WEBWE;
    /* verilator lint_on WIDTH */
    wire [71:0] doa, dob;

    dqhw_gate_bram #(
        .AB(14), .HALF(16), .NAME("RAMB18E1"), .RAM_MODE(RAM_MODE), .RWA(READ_WIDTH_A), .RWB(READ_WIDTH_B),
        .WWA(WRITE_WIDTH_A), .WWB(WRITE_WIDTH_B), .WRITE_MODE_A(WRITE_MODE_A), .WRITE_MODE_B(WRITE_MODE_B),
        .REGA(DOA_REG), .REGB(DOB_REG), .SRVAL_A(SRVAL_A), .SRVAL_B(SRVAL_B), .INIT_A(INIT_A), .INIT_B(INIT_B),
        .INIT_D({INIT_3F, INIT_3E, INIT_3D, INIT_3C, INIT_3B, INIT_3A, INIT_39, INIT_38,
                INIT_37, INIT_36, INIT_35, INIT_34, INIT_33, INIT_32, INIT_31, INIT_30,
                INIT_2F, INIT_2E, INIT_2D, INIT_2C, INIT_2B, INIT_2A, INIT_29, INIT_28,
                INIT_27, INIT_26, INIT_25, INIT_24, INIT_23, INIT_22, INIT_21, INIT_20,
                INIT_1F, INIT_1E, INIT_1D, INIT_1C, INIT_1B, INIT_1A, INIT_19, INIT_18,
                INIT_17, INIT_16, INIT_15, INIT_14, INIT_13, INIT_12, INIT_11, INIT_10,
                INIT_0F, INIT_0E, INIT_0D, INIT_0C, INIT_0B, INIT_0A, INIT_09, INIT_08,
                INIT_07, INIT_06, INIT_05, INIT_04, INIT_03, INIT_02, INIT_01, INIT_00}),
        .INIT_P({INITP_07, INITP_06, INITP_05, INITP_04, INITP_03, INITP_02, INITP_01, INITP_00})
    ) u_core (
        .clka(clka), .ena(ENARDEN ^ IS_ENARDEN_INVERTED), .rsta(RSTRAMARSTRAM ^ IS_RSTRAMARSTRAM_INVERTED),
        .rstrega(RSTREGARSTREG ^ IS_RSTREGARSTREG_INVERTED), .regcea(REGCEAREGCE),
        .adda(ADDRARDADDR[13:0]), .dia(di_a), .wea(we_a), .doa(doa),
        .clkb(clkb), .enb(ENBWREN ^ IS_ENBWREN_INVERTED), .rstb(RSTRAMB ^ IS_RSTRAMB_INVERTED),
        .rstregb(RSTREGB ^ IS_RSTREGB_INVERTED), .regceb(REGCEB),
        .addb(ADDRBWRADDR[13:0]), .dib(di_b), .web(we_b), .dob(dob)
    );
    assign DOADO = doa[15:0];
    assign DOPADOP = doa[65:64];
    // SDP: port B's outputs carry the upper half of port A's read
    assign DOBDO = (SDP == 1) ? doa[31:16] : dob[15:0];
    assign DOPBDOP = (SDP == 1) ? doa[67:66] : dob[65:64];
    wire unused = &{1'b0, doa, dob, ADDRARDADDR, ADDRBWRADDR};
endmodule

module RAMB36E1 #(
    parameter integer DOA_REG = 0, parameter integer DOB_REG = 0,
    parameter [71:0] INIT_A = 72'd0, parameter [71:0] INIT_B = 72'd0,
    parameter [71:0] SRVAL_A = 72'd0, parameter [71:0] SRVAL_B = 72'd0,
    parameter RAM_MODE = "TDP",
    parameter integer READ_WIDTH_A = 0, parameter integer READ_WIDTH_B = 0,
    parameter integer WRITE_WIDTH_A = 0, parameter integer WRITE_WIDTH_B = 0,
    parameter WRITE_MODE_A = "WRITE_FIRST", parameter WRITE_MODE_B = "WRITE_FIRST",
    parameter RDADDR_COLLISION_HWCONFIG = "DELAYED_WRITE", parameter SIM_COLLISION_CHECK = "ALL",
    parameter SIM_DEVICE = "7SERIES",
    parameter RSTREG_PRIORITY_A = "RSTREG", parameter RSTREG_PRIORITY_B = "RSTREG",
    parameter EN_ECC_READ = "FALSE", parameter EN_ECC_WRITE = "FALSE",
    parameter RAM_EXTENSION_A = "NONE", parameter RAM_EXTENSION_B = "NONE",
    parameter [0:0] IS_CLKARDCLK_INVERTED = 1'b0, parameter [0:0] IS_CLKBWRCLK_INVERTED = 1'b0,
    parameter [0:0] IS_ENARDEN_INVERTED = 1'b0, parameter [0:0] IS_ENBWREN_INVERTED = 1'b0,
    parameter [0:0] IS_RSTRAMARSTRAM_INVERTED = 1'b0, parameter [0:0] IS_RSTRAMB_INVERTED = 1'b0,
    parameter [0:0] IS_RSTREGARSTREG_INVERTED = 1'b0, parameter [0:0] IS_RSTREGB_INVERTED = 1'b0,
    parameter [255:0] INITP_00 = 256'd0, parameter [255:0] INITP_01 = 256'd0,
    parameter [255:0] INITP_02 = 256'd0, parameter [255:0] INITP_03 = 256'd0,
    parameter [255:0] INITP_04 = 256'd0, parameter [255:0] INITP_05 = 256'd0,
    parameter [255:0] INITP_06 = 256'd0, parameter [255:0] INITP_07 = 256'd0,
    parameter [255:0] INITP_08 = 256'd0, parameter [255:0] INITP_09 = 256'd0,
    parameter [255:0] INITP_0A = 256'd0, parameter [255:0] INITP_0B = 256'd0,
    parameter [255:0] INITP_0C = 256'd0, parameter [255:0] INITP_0D = 256'd0,
    parameter [255:0] INITP_0E = 256'd0, parameter [255:0] INITP_0F = 256'd0,
    parameter [255:0] INIT_00 = 256'd0, parameter [255:0] INIT_01 = 256'd0,
    parameter [255:0] INIT_02 = 256'd0, parameter [255:0] INIT_03 = 256'd0,
    parameter [255:0] INIT_04 = 256'd0, parameter [255:0] INIT_05 = 256'd0,
    parameter [255:0] INIT_06 = 256'd0, parameter [255:0] INIT_07 = 256'd0,
    parameter [255:0] INIT_08 = 256'd0, parameter [255:0] INIT_09 = 256'd0,
    parameter [255:0] INIT_0A = 256'd0, parameter [255:0] INIT_0B = 256'd0,
    parameter [255:0] INIT_0C = 256'd0, parameter [255:0] INIT_0D = 256'd0,
    parameter [255:0] INIT_0E = 256'd0, parameter [255:0] INIT_0F = 256'd0,
    parameter [255:0] INIT_10 = 256'd0, parameter [255:0] INIT_11 = 256'd0,
    parameter [255:0] INIT_12 = 256'd0, parameter [255:0] INIT_13 = 256'd0,
    parameter [255:0] INIT_14 = 256'd0, parameter [255:0] INIT_15 = 256'd0,
    parameter [255:0] INIT_16 = 256'd0, parameter [255:0] INIT_17 = 256'd0,
    parameter [255:0] INIT_18 = 256'd0, parameter [255:0] INIT_19 = 256'd0,
    parameter [255:0] INIT_1A = 256'd0, parameter [255:0] INIT_1B = 256'd0,
    parameter [255:0] INIT_1C = 256'd0, parameter [255:0] INIT_1D = 256'd0,
    parameter [255:0] INIT_1E = 256'd0, parameter [255:0] INIT_1F = 256'd0,
    parameter [255:0] INIT_20 = 256'd0, parameter [255:0] INIT_21 = 256'd0,
    parameter [255:0] INIT_22 = 256'd0, parameter [255:0] INIT_23 = 256'd0,
    parameter [255:0] INIT_24 = 256'd0, parameter [255:0] INIT_25 = 256'd0,
    parameter [255:0] INIT_26 = 256'd0, parameter [255:0] INIT_27 = 256'd0,
    parameter [255:0] INIT_28 = 256'd0, parameter [255:0] INIT_29 = 256'd0,
    parameter [255:0] INIT_2A = 256'd0, parameter [255:0] INIT_2B = 256'd0,
    parameter [255:0] INIT_2C = 256'd0, parameter [255:0] INIT_2D = 256'd0,
    parameter [255:0] INIT_2E = 256'd0, parameter [255:0] INIT_2F = 256'd0,
    parameter [255:0] INIT_30 = 256'd0, parameter [255:0] INIT_31 = 256'd0,
    parameter [255:0] INIT_32 = 256'd0, parameter [255:0] INIT_33 = 256'd0,
    parameter [255:0] INIT_34 = 256'd0, parameter [255:0] INIT_35 = 256'd0,
    parameter [255:0] INIT_36 = 256'd0, parameter [255:0] INIT_37 = 256'd0,
    parameter [255:0] INIT_38 = 256'd0, parameter [255:0] INIT_39 = 256'd0,
    parameter [255:0] INIT_3A = 256'd0, parameter [255:0] INIT_3B = 256'd0,
    parameter [255:0] INIT_3C = 256'd0, parameter [255:0] INIT_3D = 256'd0,
    parameter [255:0] INIT_3E = 256'd0, parameter [255:0] INIT_3F = 256'd0,
    parameter [255:0] INIT_40 = 256'd0, parameter [255:0] INIT_41 = 256'd0,
    parameter [255:0] INIT_42 = 256'd0, parameter [255:0] INIT_43 = 256'd0,
    parameter [255:0] INIT_44 = 256'd0, parameter [255:0] INIT_45 = 256'd0,
    parameter [255:0] INIT_46 = 256'd0, parameter [255:0] INIT_47 = 256'd0,
    parameter [255:0] INIT_48 = 256'd0, parameter [255:0] INIT_49 = 256'd0,
    parameter [255:0] INIT_4A = 256'd0, parameter [255:0] INIT_4B = 256'd0,
    parameter [255:0] INIT_4C = 256'd0, parameter [255:0] INIT_4D = 256'd0,
    parameter [255:0] INIT_4E = 256'd0, parameter [255:0] INIT_4F = 256'd0,
    parameter [255:0] INIT_50 = 256'd0, parameter [255:0] INIT_51 = 256'd0,
    parameter [255:0] INIT_52 = 256'd0, parameter [255:0] INIT_53 = 256'd0,
    parameter [255:0] INIT_54 = 256'd0, parameter [255:0] INIT_55 = 256'd0,
    parameter [255:0] INIT_56 = 256'd0, parameter [255:0] INIT_57 = 256'd0,
    parameter [255:0] INIT_58 = 256'd0, parameter [255:0] INIT_59 = 256'd0,
    parameter [255:0] INIT_5A = 256'd0, parameter [255:0] INIT_5B = 256'd0,
    parameter [255:0] INIT_5C = 256'd0, parameter [255:0] INIT_5D = 256'd0,
    parameter [255:0] INIT_5E = 256'd0, parameter [255:0] INIT_5F = 256'd0,
    parameter [255:0] INIT_60 = 256'd0, parameter [255:0] INIT_61 = 256'd0,
    parameter [255:0] INIT_62 = 256'd0, parameter [255:0] INIT_63 = 256'd0,
    parameter [255:0] INIT_64 = 256'd0, parameter [255:0] INIT_65 = 256'd0,
    parameter [255:0] INIT_66 = 256'd0, parameter [255:0] INIT_67 = 256'd0,
    parameter [255:0] INIT_68 = 256'd0, parameter [255:0] INIT_69 = 256'd0,
    parameter [255:0] INIT_6A = 256'd0, parameter [255:0] INIT_6B = 256'd0,
    parameter [255:0] INIT_6C = 256'd0, parameter [255:0] INIT_6D = 256'd0,
    parameter [255:0] INIT_6E = 256'd0, parameter [255:0] INIT_6F = 256'd0,
    parameter [255:0] INIT_70 = 256'd0, parameter [255:0] INIT_71 = 256'd0,
    parameter [255:0] INIT_72 = 256'd0, parameter [255:0] INIT_73 = 256'd0,
    parameter [255:0] INIT_74 = 256'd0, parameter [255:0] INIT_75 = 256'd0,
    parameter [255:0] INIT_76 = 256'd0, parameter [255:0] INIT_77 = 256'd0,
    parameter [255:0] INIT_78 = 256'd0, parameter [255:0] INIT_79 = 256'd0,
    parameter [255:0] INIT_7A = 256'd0, parameter [255:0] INIT_7B = 256'd0,
    parameter [255:0] INIT_7C = 256'd0, parameter [255:0] INIT_7D = 256'd0,
    parameter [255:0] INIT_7E = 256'd0, parameter [255:0] INIT_7F = 256'd0
) (
    input  wire CLKARDCLK, CLKBWRCLK, ENARDEN, ENBWREN, REGCEAREGCE, REGCEB,
    input  wire RSTRAMARSTRAM, RSTRAMB, RSTREGARSTREG, RSTREGB,
    input  wire [15:0] ADDRARDADDR, ADDRBWRADDR,
    input  wire [31:0] DIADI, DIBDI,
    input  wire [3:0] DIPADIP, DIPBDIP,
    input  wire [3:0] WEA,
    input  wire [7:0] WEBWE,
    output wire [31:0] DOADO, DOBDO,
    output wire [3:0] DOPADOP, DOPBDOP,
    output wire CASCADEOUTA, CASCADEOUTB, SBITERR, DBITERR,
    output wire [7:0] ECCPARITY,
    output wire [8:0] RDADDRECC,
    input  wire CASCADEINA, CASCADEINB, INJECTDBITERR, INJECTSBITERR
);
    /* verilator lint_off WIDTH */
    localparam integer SDP = (RAM_MODE == "SDP") ? 1 : 0;
    /* verilator lint_on WIDTH */
    localparam integer FULL = 72;  // SDP's full width (the core's decoding of the mode parameters)

    wire clka = CLKARDCLK ^ IS_CLKARDCLK_INVERTED;
    wire clkb = CLKBWRCLK ^ IS_CLKBWRCLK_INVERTED;
    /* verilator lint_off WIDTH */
    wire [71:0] di_a = ({DIPADIP} << 64) | DIADI;
    wire [71:0] di_b = (SDP == 1 && WRITE_WIDTH_B == FULL) ? (({DIPBDIP, DIPADIP} << 64) | {DIBDI, DIADI})
                                                           : (({DIPBDIP} << 64) | DIBDI);
    wire [7:0] we_a = WEA;
    wire [7:0] we_b = WEBWE;
    /* verilator lint_on WIDTH */
    wire [71:0] doa, dob;

    dqhw_gate_bram #(
        .AB(15), .HALF(32), .NAME("RAMB36E1"), .RAM_MODE(RAM_MODE), .RWA(READ_WIDTH_A), .RWB(READ_WIDTH_B),
        .WWA(WRITE_WIDTH_A), .WWB(WRITE_WIDTH_B), .WRITE_MODE_A(WRITE_MODE_A), .WRITE_MODE_B(WRITE_MODE_B),
        .REGA(DOA_REG), .REGB(DOB_REG), .SRVAL_A(SRVAL_A), .SRVAL_B(SRVAL_B), .INIT_A(INIT_A), .INIT_B(INIT_B),
        .INIT_D({INIT_7F, INIT_7E, INIT_7D, INIT_7C, INIT_7B, INIT_7A, INIT_79, INIT_78,
                INIT_77, INIT_76, INIT_75, INIT_74, INIT_73, INIT_72, INIT_71, INIT_70,
                INIT_6F, INIT_6E, INIT_6D, INIT_6C, INIT_6B, INIT_6A, INIT_69, INIT_68,
                INIT_67, INIT_66, INIT_65, INIT_64, INIT_63, INIT_62, INIT_61, INIT_60,
                INIT_5F, INIT_5E, INIT_5D, INIT_5C, INIT_5B, INIT_5A, INIT_59, INIT_58,
                INIT_57, INIT_56, INIT_55, INIT_54, INIT_53, INIT_52, INIT_51, INIT_50,
                INIT_4F, INIT_4E, INIT_4D, INIT_4C, INIT_4B, INIT_4A, INIT_49, INIT_48,
                INIT_47, INIT_46, INIT_45, INIT_44, INIT_43, INIT_42, INIT_41, INIT_40,
                INIT_3F, INIT_3E, INIT_3D, INIT_3C, INIT_3B, INIT_3A, INIT_39, INIT_38,
                INIT_37, INIT_36, INIT_35, INIT_34, INIT_33, INIT_32, INIT_31, INIT_30,
                INIT_2F, INIT_2E, INIT_2D, INIT_2C, INIT_2B, INIT_2A, INIT_29, INIT_28,
                INIT_27, INIT_26, INIT_25, INIT_24, INIT_23, INIT_22, INIT_21, INIT_20,
                INIT_1F, INIT_1E, INIT_1D, INIT_1C, INIT_1B, INIT_1A, INIT_19, INIT_18,
                INIT_17, INIT_16, INIT_15, INIT_14, INIT_13, INIT_12, INIT_11, INIT_10,
                INIT_0F, INIT_0E, INIT_0D, INIT_0C, INIT_0B, INIT_0A, INIT_09, INIT_08,
                INIT_07, INIT_06, INIT_05, INIT_04, INIT_03, INIT_02, INIT_01, INIT_00}),
        .INIT_P({INITP_0F, INITP_0E, INITP_0D, INITP_0C, INITP_0B, INITP_0A, INITP_09, INITP_08,
                INITP_07, INITP_06, INITP_05, INITP_04, INITP_03, INITP_02, INITP_01, INITP_00})
    ) u_core (
        .clka(clka), .ena(ENARDEN ^ IS_ENARDEN_INVERTED), .rsta(RSTRAMARSTRAM ^ IS_RSTRAMARSTRAM_INVERTED),
        .rstrega(RSTREGARSTREG ^ IS_RSTREGARSTREG_INVERTED), .regcea(REGCEAREGCE),
        .adda(ADDRARDADDR[14:0]), .dia(di_a), .wea(we_a), .doa(doa),
        .clkb(clkb), .enb(ENBWREN ^ IS_ENBWREN_INVERTED), .rstb(RSTRAMB ^ IS_RSTRAMB_INVERTED),
        .rstregb(RSTREGB ^ IS_RSTREGB_INVERTED), .regceb(REGCEB),
        .addb(ADDRBWRADDR[14:0]), .dib(di_b), .web(we_b), .dob(dob)
    );
    assign DOADO = doa[31:0];
    assign DOPADOP = doa[67:64];
    // SDP: port B's outputs carry the upper half of port A's read
    assign DOBDO = (SDP == 1) ? doa[63:32] : dob[31:0];
    assign DOPBDOP = (SDP == 1) ? doa[71:68] : dob[67:64];
    wire unused = &{1'b0, doa, dob, ADDRARDADDR, ADDRBWRADDR};
endmodule

`default_nettype wire
