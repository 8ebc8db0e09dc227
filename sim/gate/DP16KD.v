`default_nettype none

// DP16KD: a behavioural model of the ECP5 18 Kb block RAM for gate-level simulation of Yosys'
// synth_ecp5 netlists (dqhw.synth.gate). Yosys' own cells_sim_ecp5.v declares DP16KD without a
// behaviour (its outputs float); this model covers what Yosys' ECP5 memory mapping
// (share/lattice/brams_map_16kd.v) instantiates, and stops elaboration on anything else:
//
// - true dual port ($__DP16KD_): DATA_WIDTH_A/B 9 or 18; a W-bit port's word address is
//   AD[13:3] (W = 9) or AD[13:4] (W = 18), where W = 18 takes its two byte write enables on AD[1:0];
// - pseudo dual port ($__PDPW16KD_): DATA_WIDTH_A = 36, the write port: data {DIB, DIA}, word
//   address ADA[13:5], byte write enables ADA[3:0] (9 bits each); port B reads (WEB = 0) 36 bits on
//   {DOB, DOA} (address ADB[13:5]) or 18 bits on DOB (DATA_WIDTH_B = 18, address ADB[13:4]);
// - REGMODE NOREG (the read data is the array's output latch), CSDECODE matched against CS[2:0],
//   CLKxMUX "CLKx" or "INV", WRITEMODE NORMAL (the output keeps its value on a write),
//   WRITETHROUGH (the written data), READBEFOREWRITE (the old data); RSTx clears the output latch,
//   at the clock edge (RESETMODE "SYNC", whatever CEx) or at once ("ASYNC").
//
// Contents: 1,024 rows of 18 bits; INITVAL_xx (320 bits) holds rows 16 xx .. 16 xx + 15, row i's
// bits in [20 i +: 18] (brams_map_16kd.v's init_slice). A W-bit word at address a is bits
// [a W +: W] of the rows laid end to end (9: half a row, 36: two rows), as Yosys' INIT is laid out.
module DP16KD #(
    parameter DATA_WIDTH_A = 18,
    parameter DATA_WIDTH_B = 18,
    parameter REGMODE_A = "NOREG",
    parameter REGMODE_B = "NOREG",
    parameter RESETMODE = "SYNC",
    parameter ASYNC_RESET_RELEASE = "SYNC",
    parameter CSDECODE_A = "0b000",
    parameter CSDECODE_B = "0b000",
    parameter WRITEMODE_A = "NORMAL",
    parameter WRITEMODE_B = "NORMAL",
    parameter CLKAMUX = "CLKA",
    parameter CLKBMUX = "CLKB",
    parameter GSR = "ENABLED",
    parameter [319:0] INITVAL_00 = 320'd0, parameter [319:0] INITVAL_01 = 320'd0,
    parameter [319:0] INITVAL_02 = 320'd0, parameter [319:0] INITVAL_03 = 320'd0,
    parameter [319:0] INITVAL_04 = 320'd0, parameter [319:0] INITVAL_05 = 320'd0,
    parameter [319:0] INITVAL_06 = 320'd0, parameter [319:0] INITVAL_07 = 320'd0,
    parameter [319:0] INITVAL_08 = 320'd0, parameter [319:0] INITVAL_09 = 320'd0,
    parameter [319:0] INITVAL_0A = 320'd0, parameter [319:0] INITVAL_0B = 320'd0,
    parameter [319:0] INITVAL_0C = 320'd0, parameter [319:0] INITVAL_0D = 320'd0,
    parameter [319:0] INITVAL_0E = 320'd0, parameter [319:0] INITVAL_0F = 320'd0,
    parameter [319:0] INITVAL_10 = 320'd0, parameter [319:0] INITVAL_11 = 320'd0,
    parameter [319:0] INITVAL_12 = 320'd0, parameter [319:0] INITVAL_13 = 320'd0,
    parameter [319:0] INITVAL_14 = 320'd0, parameter [319:0] INITVAL_15 = 320'd0,
    parameter [319:0] INITVAL_16 = 320'd0, parameter [319:0] INITVAL_17 = 320'd0,
    parameter [319:0] INITVAL_18 = 320'd0, parameter [319:0] INITVAL_19 = 320'd0,
    parameter [319:0] INITVAL_1A = 320'd0, parameter [319:0] INITVAL_1B = 320'd0,
    parameter [319:0] INITVAL_1C = 320'd0, parameter [319:0] INITVAL_1D = 320'd0,
    parameter [319:0] INITVAL_1E = 320'd0, parameter [319:0] INITVAL_1F = 320'd0,
    parameter [319:0] INITVAL_20 = 320'd0, parameter [319:0] INITVAL_21 = 320'd0,
    parameter [319:0] INITVAL_22 = 320'd0, parameter [319:0] INITVAL_23 = 320'd0,
    parameter [319:0] INITVAL_24 = 320'd0, parameter [319:0] INITVAL_25 = 320'd0,
    parameter [319:0] INITVAL_26 = 320'd0, parameter [319:0] INITVAL_27 = 320'd0,
    parameter [319:0] INITVAL_28 = 320'd0, parameter [319:0] INITVAL_29 = 320'd0,
    parameter [319:0] INITVAL_2A = 320'd0, parameter [319:0] INITVAL_2B = 320'd0,
    parameter [319:0] INITVAL_2C = 320'd0, parameter [319:0] INITVAL_2D = 320'd0,
    parameter [319:0] INITVAL_2E = 320'd0, parameter [319:0] INITVAL_2F = 320'd0,
    parameter [319:0] INITVAL_30 = 320'd0, parameter [319:0] INITVAL_31 = 320'd0,
    parameter [319:0] INITVAL_32 = 320'd0, parameter [319:0] INITVAL_33 = 320'd0,
    parameter [319:0] INITVAL_34 = 320'd0, parameter [319:0] INITVAL_35 = 320'd0,
    parameter [319:0] INITVAL_36 = 320'd0, parameter [319:0] INITVAL_37 = 320'd0,
    parameter [319:0] INITVAL_38 = 320'd0, parameter [319:0] INITVAL_39 = 320'd0,
    parameter [319:0] INITVAL_3A = 320'd0, parameter [319:0] INITVAL_3B = 320'd0,
    parameter [319:0] INITVAL_3C = 320'd0, parameter [319:0] INITVAL_3D = 320'd0,
    parameter [319:0] INITVAL_3E = 320'd0, parameter [319:0] INITVAL_3F = 320'd0
) (
    input  wire DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4,
    input  wire DIA3, DIA2, DIA1, DIA0,
    input  wire ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
    input  wire CEA, OCEA, CLKA, WEA, RSTA,
    input  wire CSA2, CSA1, CSA0,
    output wire DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4,
    output wire DOA3, DOA2, DOA1, DOA0,
    input  wire DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4,
    input  wire DIB3, DIB2, DIB1, DIB0,
    input  wire ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
    input  wire CEB, OCEB, CLKB, WEB, RSTB,
    input  wire CSB2, CSB1, CSB0,
    output wire DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4,
    output wire DOB3, DOB2, DOB1, DOB0
);
    localparam integer PDP = (DATA_WIDTH_A == 36) ? 1 : 0;
    // the string parameters, decoded once (GSR and ASYNC_RESET_RELEASE do not change a simulation)
    /* verilator lint_off WIDTH */
    localparam integer ASYNC_RST = (RESETMODE == "ASYNC") ? 1 : 0;
    localparam integer WT_A = (WRITEMODE_A == "WRITETHROUGH") ? 1 : 0;
    localparam integer RBW_A = (WRITEMODE_A == "READBEFOREWRITE") ? 1 : 0;
    localparam integer WT_B = (WRITEMODE_B == "WRITETHROUGH") ? 1 : 0;
    localparam integer RBW_B = (WRITEMODE_B == "READBEFOREWRITE") ? 1 : 0;
    localparam integer INV_A = (CLKAMUX == "INV") ? 1 : 0;
    localparam integer INV_B = (CLKBMUX == "INV") ? 1 : 0;
    localparam integer NOREG = (REGMODE_A == "NOREG" && REGMODE_B == "NOREG") ? 1 : 0;
    localparam [2:0] CS_A = {CSDECODE_A[16], CSDECODE_A[8], CSDECODE_A[0]};  // "0bXYZ": the digits' LSBs
    localparam [2:0] CS_B = {CSDECODE_B[16], CSDECODE_B[8], CSDECODE_B[0]};
    /* verilator lint_on WIDTH */

`ifndef SYNTHESIS
    generate
        if (!((DATA_WIDTH_A == 9 || DATA_WIDTH_A == 18 || DATA_WIDTH_A == 36)
              && (DATA_WIDTH_B == 9 || DATA_WIDTH_B == 18 || (PDP == 1 && DATA_WIDTH_B == 36))
              && (PDP == 0 || DATA_WIDTH_B != 9)))
        begin : g_bad_width
            $fatal(1, "DP16KD model: DATA_WIDTH_A %0d / DATA_WIDTH_B %0d is not modelled (9, 18; 36 write + 18/36 read)",
                   DATA_WIDTH_A, DATA_WIDTH_B);
        end
        if (NOREG == 0) begin : g_bad_regmode
            $fatal(1, "DP16KD model: only REGMODE NOREG is modelled");
        end
    endgenerate
`endif

    wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5,
                       DIA4, DIA3, DIA2, DIA1, DIA0};
    wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5,
                       DIB4, DIB3, DIB2, DIB1, DIB0};
    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
    // OCEx (the output register's enable) does nothing in REGMODE NOREG; GSR, ASYNC_RESET_RELEASE
    // do not change a simulation
    wire unused = &{1'b0, OCEA, OCEB, adb[2], GSR != 0, ASYNC_RESET_RELEASE != 0};  // ADB2: a byte enable only on a 36-bit write port
    wire clka = (INV_A == 1) ? ~CLKA : CLKA;
    wire clkb = (INV_B == 1) ? ~CLKB : CLKB;
    wire sela = ({CSA2, CSA1, CSA0} == CS_A);
    wire selb = ({CSB2, CSB1, CSB0} == CS_B);

    // both ports write the array (true dual port), each from its own clock's process
    /* verilator lint_off MULTIDRIVEN */
    reg [17:0] mem [0:1023];
    /* verilator lint_on MULTIDRIVEN */
    reg [17:0] doa_q;  // port A's output latch (true dual port)
    reg [17:0] dob_q;  // port B's output latch (in PDP: bits 35:18 of a 36-bit read, or the 18-bit read)
    reg [17:0] pdp_lo;  // PDP: bits 17:0 of a 36-bit read (on DOA)

    integer r;
    initial begin
        for (r = 0; r < 16; r = r + 1) begin
            mem[16 * 0 + r] = INITVAL_00[20 * r +: 18]; mem[16 * 1 + r] = INITVAL_01[20 * r +: 18];
            mem[16 * 2 + r] = INITVAL_02[20 * r +: 18]; mem[16 * 3 + r] = INITVAL_03[20 * r +: 18];
            mem[16 * 4 + r] = INITVAL_04[20 * r +: 18]; mem[16 * 5 + r] = INITVAL_05[20 * r +: 18];
            mem[16 * 6 + r] = INITVAL_06[20 * r +: 18]; mem[16 * 7 + r] = INITVAL_07[20 * r +: 18];
            mem[16 * 8 + r] = INITVAL_08[20 * r +: 18]; mem[16 * 9 + r] = INITVAL_09[20 * r +: 18];
            mem[16 * 10 + r] = INITVAL_0A[20 * r +: 18]; mem[16 * 11 + r] = INITVAL_0B[20 * r +: 18];
            mem[16 * 12 + r] = INITVAL_0C[20 * r +: 18]; mem[16 * 13 + r] = INITVAL_0D[20 * r +: 18];
            mem[16 * 14 + r] = INITVAL_0E[20 * r +: 18]; mem[16 * 15 + r] = INITVAL_0F[20 * r +: 18];
            mem[16 * 16 + r] = INITVAL_10[20 * r +: 18]; mem[16 * 17 + r] = INITVAL_11[20 * r +: 18];
            mem[16 * 18 + r] = INITVAL_12[20 * r +: 18]; mem[16 * 19 + r] = INITVAL_13[20 * r +: 18];
            mem[16 * 20 + r] = INITVAL_14[20 * r +: 18]; mem[16 * 21 + r] = INITVAL_15[20 * r +: 18];
            mem[16 * 22 + r] = INITVAL_16[20 * r +: 18]; mem[16 * 23 + r] = INITVAL_17[20 * r +: 18];
            mem[16 * 24 + r] = INITVAL_18[20 * r +: 18]; mem[16 * 25 + r] = INITVAL_19[20 * r +: 18];
            mem[16 * 26 + r] = INITVAL_1A[20 * r +: 18]; mem[16 * 27 + r] = INITVAL_1B[20 * r +: 18];
            mem[16 * 28 + r] = INITVAL_1C[20 * r +: 18]; mem[16 * 29 + r] = INITVAL_1D[20 * r +: 18];
            mem[16 * 30 + r] = INITVAL_1E[20 * r +: 18]; mem[16 * 31 + r] = INITVAL_1F[20 * r +: 18];
            mem[16 * 32 + r] = INITVAL_20[20 * r +: 18]; mem[16 * 33 + r] = INITVAL_21[20 * r +: 18];
            mem[16 * 34 + r] = INITVAL_22[20 * r +: 18]; mem[16 * 35 + r] = INITVAL_23[20 * r +: 18];
            mem[16 * 36 + r] = INITVAL_24[20 * r +: 18]; mem[16 * 37 + r] = INITVAL_25[20 * r +: 18];
            mem[16 * 38 + r] = INITVAL_26[20 * r +: 18]; mem[16 * 39 + r] = INITVAL_27[20 * r +: 18];
            mem[16 * 40 + r] = INITVAL_28[20 * r +: 18]; mem[16 * 41 + r] = INITVAL_29[20 * r +: 18];
            mem[16 * 42 + r] = INITVAL_2A[20 * r +: 18]; mem[16 * 43 + r] = INITVAL_2B[20 * r +: 18];
            mem[16 * 44 + r] = INITVAL_2C[20 * r +: 18]; mem[16 * 45 + r] = INITVAL_2D[20 * r +: 18];
            mem[16 * 46 + r] = INITVAL_2E[20 * r +: 18]; mem[16 * 47 + r] = INITVAL_2F[20 * r +: 18];
            mem[16 * 48 + r] = INITVAL_30[20 * r +: 18]; mem[16 * 49 + r] = INITVAL_31[20 * r +: 18];
            mem[16 * 50 + r] = INITVAL_32[20 * r +: 18]; mem[16 * 51 + r] = INITVAL_33[20 * r +: 18];
            mem[16 * 52 + r] = INITVAL_34[20 * r +: 18]; mem[16 * 53 + r] = INITVAL_35[20 * r +: 18];
            mem[16 * 54 + r] = INITVAL_36[20 * r +: 18]; mem[16 * 55 + r] = INITVAL_37[20 * r +: 18];
            mem[16 * 56 + r] = INITVAL_38[20 * r +: 18]; mem[16 * 57 + r] = INITVAL_39[20 * r +: 18];
            mem[16 * 58 + r] = INITVAL_3A[20 * r +: 18]; mem[16 * 59 + r] = INITVAL_3B[20 * r +: 18];
            mem[16 * 60 + r] = INITVAL_3C[20 * r +: 18]; mem[16 * 61 + r] = INITVAL_3D[20 * r +: 18];
            mem[16 * 62 + r] = INITVAL_3E[20 * r +: 18]; mem[16 * 63 + r] = INITVAL_3F[20 * r +: 18];
        end
        doa_q = 18'd0;
        dob_q = 18'd0;
        pdp_lo = 18'd0;
    end

    // a W-bit word (W = 9, 18) at word address AD[13:3] (9) or AD[13:4] (18)
    function [17:0] read_word(input integer w, input [13:3] ad);
        reg [17:0] row;
        begin
            row = mem[ad[13:4]];
            if (w == 9) read_word = ad[3] ? {9'd0, row[17:9]} : {9'd0, row[8:0]};
            else read_word = row;
        end
    endfunction

    task port_a_clock;
        begin
            if (CEA && sela) begin
                if (PDP == 1) begin
                    if (ada[0]) mem[{ada[13:5], 1'b0}][8:0] <= dia[8:0];
                    if (ada[1]) mem[{ada[13:5], 1'b0}][17:9] <= dia[17:9];
                    if (ada[2]) mem[{ada[13:5], 1'b1}][8:0] <= dib[8:0];
                    if (ada[3]) mem[{ada[13:5], 1'b1}][17:9] <= dib[17:9];
                end else if (WEA) begin
                    if (DATA_WIDTH_A == 9 && ada[3]) mem[ada[13:4]][17:9] <= dia[8:0];
                    else if (DATA_WIDTH_A == 9) mem[ada[13:4]][8:0] <= dia[8:0];
                    else begin
                        if (ada[0]) mem[ada[13:4]][8:0] <= dia[8:0];
                        if (ada[1]) mem[ada[13:4]][17:9] <= dia[17:9];
                    end
                    if (WT_A == 1) doa_q <= dia;
                    else if (RBW_A == 1) doa_q <= read_word(DATA_WIDTH_A, ada[13:3]);
                end else begin
                    doa_q <= read_word(DATA_WIDTH_A, ada[13:3]);
                end
            end
        end
    endtask

    task port_b_clock;
        begin
            if (CEB && selb) begin
                if (PDP == 1 && DATA_WIDTH_B == 36) begin
                    pdp_lo <= mem[{adb[13:5], 1'b0}];
                    dob_q <= mem[{adb[13:5], 1'b1}];
                end else if (PDP == 1) begin
                    dob_q <= mem[adb[13:4]];
                end else if (WEB) begin
                    if (DATA_WIDTH_B == 9 && adb[3]) mem[adb[13:4]][17:9] <= dib[8:0];
                    else if (DATA_WIDTH_B == 9) mem[adb[13:4]][8:0] <= dib[8:0];
                    else begin
                        if (adb[0]) mem[adb[13:4]][8:0] <= dib[8:0];
                        if (adb[1]) mem[adb[13:4]][17:9] <= dib[17:9];
                    end
                    if (WT_B == 1) dob_q <= dib;
                    else if (RBW_B == 1) dob_q <= read_word(DATA_WIDTH_B, adb[13:3]);
                end else begin
                    dob_q <= read_word(DATA_WIDTH_B, adb[13:3]);
                end
            end
        end
    endtask

    generate
        if (ASYNC_RST == 1) begin : g_async_reset
            always @(posedge clka or posedge RSTA) begin
                if (RSTA) doa_q <= 18'd0;
                else port_a_clock;
            end
            always @(posedge clkb or posedge RSTB) begin
                if (RSTB) begin
                    dob_q <= 18'd0;
                    pdp_lo <= 18'd0;
                end else port_b_clock;
            end
        end else begin : g_sync_reset
            always @(posedge clka) begin
                if (RSTA) doa_q <= 18'd0;
                else port_a_clock;
            end
            always @(posedge clkb) begin
                if (RSTB) begin
                    dob_q <= 18'd0;
                    pdp_lo <= 18'd0;
                end else port_b_clock;
            end
        end
    endgenerate

    wire [17:0] doa = (PDP == 1) ? pdp_lo : doa_q;
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3,
            DOA2, DOA1, DOA0} = doa;
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3,
            DOB2, DOB1, DOB0} = dob_q;

endmodule

`default_nettype wire
