// Formal properties of dqhw_global_acc_pool (SymbiYosys: dqhw_global_acc_pool.sby).
//
// Inputs (assumed): a legal AXI-Stream source of NHWC beats (any data), any m_axis_tready, reset in
// the first cycle and at any later time.
// Asserted:
//   - both streams follow the AXI-Stream rules;
//   - beat accounting: a frame is PIXELS * NF input beats (NF = CHANNELS / PE) and gives NF output
//     beats, one per input beat of its last pixel: beats made = beats out + the waiting beat; the
//     unit's fold and pixel counters follow the input count;
//   - no stall before the last pixel (s_axis_tready high), and on it only while the output
//     register is full and not read;
//   - arithmetic, exact: output beat f of a frame holds, per lane, the sum over the frame's PIXELS
//     pixels of channel f * PE + lane (reference sums OUT_BITS + 2 bits wide, so a wrapped sum
//     fails); pad bits zero; the accumulator memory holds the reference's partial sums (the
//     inductive invariant).
// Covers: two whole frames through, a stalled output on the last pixel, a frame restarting.

`default_nettype none

module dqhw_global_acc_pool_props #(
    parameter integer CHANNELS = 4,
    parameter integer PE = 2,
    parameter integer PIXELS = 3,
    parameter integer IN_BITS = 2,
    parameter integer OUT_BITS = 4
) (
    input wire                            clk,
    input wire                            rst_n,
    input wire [((PE*IN_BITS+7)/8)*8-1:0] s_axis_tdata,
    input wire                            s_axis_tvalid,
    input wire                            m_axis_tready
);
    localparam integer IW = ((PE * IN_BITS + 7) / 8) * 8;
    localparam integer OW = ((PE * OUT_BITS + 7) / 8) * 8;
    localparam integer NF = CHANNELS / PE;
    localparam integer FW = (NF > 1) ? $clog2(NF) : 1;
    localparam integer PW = (PIXELS > 1) ? $clog2(PIXELS) : 1;
    localparam integer RW = OUT_BITS + 2;       // reference lane width (exact: no wrap)
    localparam integer F_CW = 6;
    localparam integer XMAX = (1 << IN_BITS) - 1;   // largest input element

    wire          s_axis_tready;
    wire [OW-1:0] m_axis_tdata;
    wire          m_axis_tvalid;

    dqhw_global_acc_pool #(.CHANNELS(CHANNELS), .PE(PE), .PIXELS(PIXELS), .IN_BITS(IN_BITS),
                           .OUT_BITS(OUT_BITS)) dut (
        .clk(clk), .rst_n(rst_n),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready)
    );

    reg f_past_valid = 1'b0;
    always @(posedge clk) f_past_valid <= 1'b1;
    always @(*) if (!f_past_valid) assume(!rst_n);

    wire [F_CW-1:0] f_in;
    wire [F_CW-1:0] f_out;
    faxis_slave #(.W(IW), .F_CW(F_CW)) f_slave (
        .clk(clk), .rst_n(rst_n), .tdata(s_axis_tdata), .tvalid(s_axis_tvalid),
        .tready(s_axis_tready), .f_count(f_in));
    faxis_master #(.W(OW), .F_CW(F_CW)) f_master (
        .clk(clk), .rst_n(rst_n), .tdata(m_axis_tdata), .tvalid(m_axis_tvalid),
        .tready(m_axis_tready), .f_count(f_out));

    wire               f_take = s_axis_tvalid && s_axis_tready;
    reg  [FW-1:0]      f_fold;      // channel fold of the next input beat
    reg  [PW-1:0]      f_pix;       // pixel of the next input beat
    reg  [F_CW-1:0]    f_made;      // output beats made
    reg  [F_CW-1:0]    f_frames;    // frames completed (cover)
    reg  [NF*PE*RW-1:0] f_sum;      // reference sums of the frame's pixels before the last one
    reg  [PE*RW-1:0]   f_res;       // reference sums of the last output beat made
    wire               f_last_pix = (f_pix == PIXELS - 1);

    // reference: the fold's running sums plus this beat, lane by lane, RW bits (exact)
    function [PE*RW-1:0] ref_add;
        input [PE*RW-1:0] s;
        input [IW-1:0]    d;
        integer p;
        begin
            for (p = 0; p < PE; p = p + 1)
                ref_add[p*RW +: RW] = s[p*RW +: RW] + {{(RW-IN_BITS){1'b0}}, d[p*IN_BITS +: IN_BITS]};
        end
    endfunction

    wire [PE*RW-1:0] f_base = (f_pix == 0) ? {(PE*RW){1'b0}} : f_sum[f_fold*PE*RW +: PE*RW];
    wire [PE*RW-1:0] f_next = ref_add(f_base, s_axis_tdata);

    always @(posedge clk) begin
        if (!rst_n) begin
            f_fold <= {FW{1'b0}};
            f_pix <= {PW{1'b0}};
            f_made <= {F_CW{1'b0}};
            f_frames <= {F_CW{1'b0}};
        end else if (f_take) begin
            f_fold <= (f_fold == NF - 1) ? {FW{1'b0}} : f_fold + 1'b1;
            if (f_fold == NF - 1) f_pix <= f_last_pix ? {PW{1'b0}} : f_pix + 1'b1;
            if (f_last_pix) f_made <= f_made + 1'b1;
            if (f_last_pix && f_fold == NF - 1) f_frames <= f_frames + 1'b1;
        end
        if (f_take && !f_last_pix) f_sum[f_fold*PE*RW +: PE*RW] <= f_next;
        if (f_take && f_last_pix) f_res <= f_next;
    end

    integer p;
    always @(*) begin
        if (f_past_valid) begin
            assert(f_fold < NF && f_pix < PIXELS);
            assert(dut.fold == f_fold && dut.pix == f_pix);
            assert(f_made == f_out + {{(F_CW-1){1'b0}}, m_axis_tvalid});
            if (!f_last_pix) assert(s_axis_tready);
            else assert(s_axis_tready == (!m_axis_tvalid || m_axis_tready));
            if (m_axis_tvalid) begin
                for (p = 0; p < PE; p = p + 1) begin
                    assert(f_res[p*RW +: RW] <= PIXELS * XMAX);
                    assert({2'b00, m_axis_tdata[p*OUT_BITS +: OUT_BITS]} == f_res[p*RW +: RW]);
                end
                if (OW > PE * OUT_BITS) assert((m_axis_tdata >> (PE * OUT_BITS)) == 0);
            end
        end
    end

    // the accumulator memory holds the reference's partial sums of every fold that has pixels
    genvar f, q;
    generate
        for (f = 0; f < NF; f = f + 1) begin : g_fold
            for (q = 0; q < PE; q = q + 1) begin : g_lane
                wire [RW-1:0] f_ref = f_sum[(f*PE+q)*RW +: RW];
                wire [OUT_BITS-1:0] f_dut = dut.acc[f][q*OUT_BITS +: OUT_BITS];
                // pixels summed so far for this fold, and the largest sum they allow
                wire [31:0] f_npix = f_pix + ((f < f_fold) ? 1 : 0);
                always @(*) begin
                    if (f_past_valid && PIXELS > 1 && (f_pix != 0 || f < f_fold)) begin
                        assert(f_ref <= f_npix * XMAX);
                        assert({2'b00, f_dut} == f_ref);
                    end
                end
            end
        end
    endgenerate

    always @(*) begin
        if (f_past_valid && rst_n) begin
            cover(f_frames == 2 && f_out == 2 * NF);
            cover(m_axis_tvalid && !m_axis_tready && s_axis_tvalid && !s_axis_tready);
            cover(f_frames == 1 && f_take && f_pix == 0 && f_fold == 0 && m_axis_tvalid);
        end
    end
endmodule

`default_nettype wire
