// Formal properties of dqhw_add (SymbiYosys: dqhw_add.sby).
//
// Inputs (assumed): two legal AXI-Stream sources (any data, any timing, independent of each
// other), any m_axis_tready, reset in the first cycle and at any later time.
// Asserted:
//   - all three streams follow the AXI-Stream rules;
//   - join: a beat is taken from both inputs in the same cycle or from neither (beats in on s0 =
//     beats in on s1), one output beat per joined pair: pairs = beats out + the beat waiting in the
//     output register; no needless stall (both inputs valid and the output register free => taken);
//   - arithmetic, exact: every output beat, read as an OUT_BITS integer (two's complement when an
//     input is signed), equals WA * a + WB * b per lane as a 64-bit integer (so no wrap-around),
//     for the pair it came from; pad bits zero.
// Covers: a stalled output with both inputs waiting, a pair that waits on one input, two pairs.

`default_nettype none

module dqhw_add_props #(
    parameter integer CHANNELS = 4,
    parameter integer PE = 2,
    parameter integer A_BITS = 2,
    parameter integer A_SIGNED = 0,
    parameter integer B_BITS = 2,
    parameter integer B_SIGNED = 0,
    parameter integer WA = 1,
    parameter integer WB = 1,
    parameter integer OUT_BITS = 4
) (
    input wire                             clk,
    input wire                             rst_n,
    input wire [((PE*A_BITS+7)/8)*8-1:0]   s0_axis_tdata,
    input wire                             s0_axis_tvalid,
    input wire [((PE*B_BITS+7)/8)*8-1:0]   s1_axis_tdata,
    input wire                             s1_axis_tvalid,
    input wire                             m_axis_tready
);
    localparam integer AW = ((PE * A_BITS + 7) / 8) * 8;
    localparam integer BW = ((PE * B_BITS + 7) / 8) * 8;
    localparam integer OW = ((PE * OUT_BITS + 7) / 8) * 8;
    localparam integer LW = PE * OUT_BITS;
    localparam integer F_CW = 4;
    localparam integer OUT_SIGNED = (A_SIGNED != 0 || B_SIGNED != 0) ? 1 : 0;

    wire          s0_axis_tready;
    wire          s1_axis_tready;
    wire [OW-1:0] m_axis_tdata;
    wire          m_axis_tvalid;

    dqhw_add #(.CHANNELS(CHANNELS), .PE(PE), .A_BITS(A_BITS), .A_SIGNED(A_SIGNED), .B_BITS(B_BITS),
               .B_SIGNED(B_SIGNED), .WA(WA), .WB(WB), .OUT_BITS(OUT_BITS)) dut (
        .clk(clk), .rst_n(rst_n),
        .s0_axis_tdata(s0_axis_tdata), .s0_axis_tvalid(s0_axis_tvalid), .s0_axis_tready(s0_axis_tready),
        .s1_axis_tdata(s1_axis_tdata), .s1_axis_tvalid(s1_axis_tvalid), .s1_axis_tready(s1_axis_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready)
    );

    reg f_past_valid = 1'b0;
    always @(posedge clk) f_past_valid <= 1'b1;
    always @(*) if (!f_past_valid) assume(!rst_n);

    wire [F_CW-1:0] f_in0;
    wire [F_CW-1:0] f_in1;
    wire [F_CW-1:0] f_out;
    faxis_slave #(.W(AW), .F_CW(F_CW)) f_slave0 (
        .clk(clk), .rst_n(rst_n), .tdata(s0_axis_tdata), .tvalid(s0_axis_tvalid),
        .tready(s0_axis_tready), .f_count(f_in0));
    faxis_slave #(.W(BW), .F_CW(F_CW)) f_slave1 (
        .clk(clk), .rst_n(rst_n), .tdata(s1_axis_tdata), .tvalid(s1_axis_tvalid),
        .tready(s1_axis_tready), .f_count(f_in1));
    faxis_master #(.W(OW), .F_CW(F_CW)) f_master (
        .clk(clk), .rst_n(rst_n), .tdata(m_axis_tdata), .tvalid(m_axis_tvalid),
        .tready(m_axis_tready), .f_count(f_out));

    // reference: lane p of the output as a 64-bit integer, and the integer the output bits stand for
    function signed [63:0] ref_sum;
        input [AW-1:0] a;
        input [BW-1:0] b;
        input integer p;
        reg signed [63:0] av, bv;
        begin
            av = a[p*A_BITS +: A_BITS];
            bv = b[p*B_BITS +: B_BITS];
            if (A_SIGNED != 0 && a[p*A_BITS + A_BITS - 1]) av = av - (64'sd1 <<< A_BITS);
            if (B_SIGNED != 0 && b[p*B_BITS + B_BITS - 1]) bv = bv - (64'sd1 <<< B_BITS);
            ref_sum = WA * av + WB * bv;
        end
    endfunction

    function signed [63:0] out_value;
        input [OW-1:0] d;
        input integer p;
        reg signed [63:0] v;
        begin
            v = d[p*OUT_BITS +: OUT_BITS];
            if (OUT_SIGNED != 0 && d[p*OUT_BITS + OUT_BITS - 1]) v = v - (64'sd1 <<< OUT_BITS);
            out_value = v;
        end
    endfunction

    wire f_take0 = s0_axis_tvalid && s0_axis_tready;
    wire f_take1 = s1_axis_tvalid && s1_axis_tready;
    reg [AW-1:0] f_a;       // the last pair taken
    reg [BW-1:0] f_b;
    always @(posedge clk) begin
        if (f_take0) f_a <= s0_axis_tdata;
        if (f_take1) f_b <= s1_axis_tdata;
    end

    integer p;
    always @(*) begin
        if (f_past_valid) begin
            assert(f_take0 == f_take1);
            assert(f_in0 == f_in1);
            assert(f_in0 == f_out + {{(F_CW-1){1'b0}}, m_axis_tvalid});
            if (s0_axis_tvalid && s1_axis_tvalid && (!m_axis_tvalid || m_axis_tready)) assert(f_take0);
            if (m_axis_tvalid) begin
                for (p = 0; p < PE; p = p + 1) assert(out_value(m_axis_tdata, p) == ref_sum(f_a, f_b, p));
                if (OW > LW) assert((m_axis_tdata >> LW) == 0);
            end
        end
    end

    reg f_waited;   // s0 offered a beat while s1 had none
    always @(posedge clk) begin
        if (!rst_n) f_waited <= 1'b0;
        else if (s0_axis_tvalid && !s1_axis_tvalid) f_waited <= 1'b1;
    end
    always @(*) begin
        if (f_past_valid && rst_n) begin
            cover(m_axis_tvalid && !m_axis_tready && s0_axis_tvalid && s1_axis_tvalid);
            cover(f_waited && f_take0);
            cover(f_out == 2);
        end
    end
endmodule

`default_nettype wire
