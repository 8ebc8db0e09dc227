// Formal properties of dqhw_mvau (SymbiYosys: dqhw_mvau.sby).
//
// The weight and threshold ROMs are read from formal/any.memh, which holds no words: every ROM
// word starts uninitialised, i.e. the solver picks it, and it never changes (a ROM is never
// written). So every check below holds for all weights and all thresholds at once.
//
// Inputs (assumed): a legal AXI-Stream source of SF-beat input vectors (any data), any
// m_axis_tready, reset in the first cycle and at any later time.
// Asserted:
//   - both streams follow the AXI-Stream rules;
//   - beat accounting: NF output beats per SF input beats exactly: results issued (beats out +
//     pending) = NF * vectors in - the neuron folds of the current vector still to run; pending =
//     results in the pipeline (the MAC, accumulate and popcount valid bits) + results queued; the
//     output queue never holds more than QD results (a result is never dropped or overwritten);
//     the step counters follow the input count (weight address = nf * SF + sf);
//   - readiness: input taken exactly during neuron fold 0 and, on a fold's last step, only with a
//     free queue slot; the queue's pointers and TVALID agree with its count;
//   - arithmetic (F_ARITH = 1): every output beat equals the reference, written here with loops
//     over the matrix (rtl/README.md): per output channel the dot product of the input vector with
//     the weight row as integers (bipolar, XNOR and signed inputs decoded as documented), exact in
//     a wider accumulator (so a too narrow ACC_BITS fails), then ACT_VAL + the number of thresholds
//     <= it (modulo 2^OUT_BITS), or the raw accumulator; pad bits zero. The reference runs beside
//     the unit: its own step counters (sf, nf) advance on each MAC step, its own copy of the input
//     vector feeds the replayed folds, a delay line of the unit's documented depth (ROOT = 1 + TS
//     stages to the dot products, PSR popcount registers) aligns it, and lemmas at the dot
//     products, the accumulators and the result written into the output queue make the check
//     local (and inductive); result number f_r (any, chosen by the solver) leaves the queue as
//     output beat f_r with the reference's value.
// Covers: two whole vectors through, a full output queue stalling the input, a stalled output.

`default_nettype none

module dqhw_mvau_props #(
    parameter integer MW = 4,
    parameter integer MH = 4,
    parameter integer PE = 2,
    parameter integer SIMD = 2,
    parameter integer IN_BITS = 2,
    parameter integer IN_SIGNED = 0,
    parameter integer W_BITS = 2,
    parameter integer XNOR = 0,
    parameter integer ACC_BITS = 6,
    parameter integer USE_THRESHOLDS = 1,
    parameter integer OUT_BITS = 2,
    parameter integer NUM_THRESH = (1 << OUT_BITS) - 1,
    parameter integer ACT_VAL = 0,
    parameter integer WEIGHT_ROM_BLOCK = 1,
    parameter integer THRESH_ROM_BLOCK = 0,
    parameter integer TREE_LEVELS_PER_STAGE = 0,
    parameter integer F_ARITH = 1      // 1: check the output values too (mvau_ref)
) (
    input wire                                clk,
    input wire                                rst_n,
    input wire [((SIMD*IN_BITS+7)/8)*8-1:0]   s_axis_tdata,
    input wire                                s_axis_tvalid,
    input wire                                m_axis_tready
);
    localparam integer SF = MW / SIMD;
    localparam integer NF = MH / PE;
    localparam integer WMEM = SF * NF;
    localparam integer SFW = (SF > 1) ? $clog2(SF) : 1;
    localparam integer IN_LW = SIMD * IN_BITS;
    localparam integer IN_DW = ((SIMD * IN_BITS + 7) / 8) * 8;
    localparam integer WW = PE * SIMD * W_BITS;
    localparam integer NT = NUM_THRESH;
    localparam integer TWORD = PE * NT * ACC_BITS;
    localparam integer OW = (USE_THRESHOLDS != 0) ? OUT_BITS : ACC_BITS;
    localparam integer OUT_LW = PE * OW;
    localparam integer OUT_DW = ((PE * OW + 7) / 8) * 8;
    localparam integer F_CW = 12;

    wire              s_axis_tready;
    wire [OUT_DW-1:0] m_axis_tdata;
    wire              m_axis_tvalid;

    dqhw_mvau #(.MW(MW), .MH(MH), .PE(PE), .SIMD(SIMD), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED),
                .W_BITS(W_BITS), .XNOR(XNOR), .ACC_BITS(ACC_BITS), .USE_THRESHOLDS(USE_THRESHOLDS),
                .OUT_BITS(OUT_BITS), .NUM_THRESH(NUM_THRESH), .ACT_VAL(ACT_VAL),
                .WEIGHT_FILE("any.memh"), .THRESH_FILE("any.memh"),
                .WEIGHT_ROM_BLOCK(WEIGHT_ROM_BLOCK), .THRESH_ROM_BLOCK(THRESH_ROM_BLOCK),
                .TREE_LEVELS_PER_STAGE(TREE_LEVELS_PER_STAGE)) dut (
        .clk(clk), .rst_n(rst_n),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready)
    );

    reg f_past_valid = 1'b0;
    always @(posedge clk) f_past_valid <= 1'b1;
    always @(*) if (!f_past_valid) assume(!rst_n);

    wire [F_CW-1:0] f_in;
    wire [F_CW-1:0] f_out;
    faxis_slave #(.W(IN_DW), .F_CW(F_CW)) f_slave (
        .clk(clk), .rst_n(rst_n), .tdata(s_axis_tdata), .tvalid(s_axis_tvalid),
        .tready(s_axis_tready), .f_count(f_in));
    faxis_master #(.W(OUT_DW), .F_CW(F_CW)) f_master (
        .clk(clk), .rst_n(rst_n), .tdata(m_axis_tdata), .tvalid(m_axis_tvalid),
        .tready(m_axis_tready), .f_count(f_out));

    function [F_CW-1:0] popcount;
        input [63:0] v;
        integer i;
        begin
            popcount = 0;
            for (i = 0; i < 64; i = i + 1) popcount = popcount + v[i];
        end
    endfunction

    // ---------------------------------------------------------------------------------------------
    // beat accounting
    // ---------------------------------------------------------------------------------------------
    wire            f_take = s_axis_tvalid && s_axis_tready;
    reg  [SFW-1:0]  f_sfi;          // beat of the vector of the next input beat
    reg  [F_CW-1:0] f_vec;          // vectors whose last beat was taken
    always @(posedge clk) begin
        if (!rst_n) begin
            f_sfi <= {SFW{1'b0}};
            f_vec <= {F_CW{1'b0}};
        end else if (f_take) begin
            f_sfi <= (f_sfi == SF - 1) ? {SFW{1'b0}} : f_sfi + 1'b1;
            if (f_sfi == SF - 1) f_vec <= f_vec + 1'b1;
        end
    end

    wire [F_CW-1:0] f_nf = dut.nf;
    wire [F_CW-1:0] f_pending = dut.pending;
    wire [F_CW-1:0] f_qcount = dut.qcount;
    wire [63:0]     f_mac_last = dut.pv & dut.plast;    // fold-final MAC steps in the pipeline
    wire [63:0]     f_pop_v;                            // results in the popcount stages
    generate
        if (USE_THRESHOLDS != 0) begin : g_thr_v
            assign f_pop_v = dut.g_thr.pop_v;
        end else begin : g_raw_v
            assign f_pop_v = 64'd0;
        end
    endgenerate
    wire [F_CW-1:0] f_inflight = popcount(f_mac_last) + dut.v_acc + popcount(f_pop_v);
    // results issued so far: NF per vector in, less the folds of the current vector still to run
    wire [F_CW-1:0] f_issued = NF * f_vec - ((f_nf != 0) ? NF - f_nf : 0);

    always @(*) begin
        if (f_past_valid) begin
            assert(f_sfi < SF && dut.sf < SF && dut.nf < NF);
            if (dut.nf == 0) assert(dut.sf == f_sfi);
            else assert(f_sfi == 0);
            assert(dut.waddr == dut.nf * SF + dut.sf);
            assert(f_out + f_pending == f_issued);
            assert(f_pending == f_qcount + f_inflight);
            assert(f_pending <= dut.QD);
            assert(dut.qw == ((dut.qr + dut.qcount) & (dut.QD - 1)));
            assert(m_axis_tvalid == (f_qcount != 0));
            assert(s_axis_tready == (dut.nf == 0 && (dut.sf != SF - 1 || f_pending != dut.QD)));
        end
    end

    // ---------------------------------------------------------------------------------------------
    // arithmetic: the reference pipeline
    // ---------------------------------------------------------------------------------------------
    generate
        if (F_ARITH != 0) begin : g_arith
            mvau_ref #(.MW(MW), .MH(MH), .PE(PE), .SIMD(SIMD), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED),
                       .W_BITS(W_BITS), .XNOR(XNOR), .ACC_BITS(ACC_BITS), .USE_THRESHOLDS(USE_THRESHOLDS),
                       .OUT_BITS(OUT_BITS), .NT(NT), .ACT_VAL(ACT_VAL), .WEIGHT_ROM_BLOCK(WEIGHT_ROM_BLOCK),
                       .THRESH_ROM_BLOCK(THRESH_ROM_BLOCK), .ROOT(dut.ROOT), .PSR(dut.PSR), .QD(dut.QD),
                       .F_CW(F_CW)) f_ref (
                .clk(clk), .rst_n(rst_n), .f_past_valid(f_past_valid), .take(f_take),
                .in_data(s_axis_tdata[IN_LW-1:0]), .sfi(f_sfi), .out_valid(m_axis_tvalid),
                .out_data(m_axis_tdata), .out_count(f_out));
        end
    endgenerate

    // ---------------------------------------------------------------------------------------------
    // covers
    // ---------------------------------------------------------------------------------------------
    always @(*) begin
        if (f_past_valid && rst_n) begin
            cover(f_out == 2 * NF && f_vec == 2);
            cover(f_pending == dut.QD && s_axis_tvalid && !s_axis_tready);
            cover(m_axis_tvalid && !m_axis_tready && f_out == 1);
        end
    end
endmodule

// The reference of dqhw_mvau beside the unit (see the header). Instantiated in dqhw_mvau_props; it
// reads the unit's ROMs and a few of its signals through hierarchical references that start at the
// top module's name (dqhw_mvau_props.dut).
module mvau_ref #(
    parameter integer MW = 4,
    parameter integer MH = 4,
    parameter integer PE = 2,
    parameter integer SIMD = 2,
    parameter integer IN_BITS = 2,
    parameter integer IN_SIGNED = 0,
    parameter integer W_BITS = 2,
    parameter integer XNOR = 0,
    parameter integer ACC_BITS = 6,
    parameter integer USE_THRESHOLDS = 1,
    parameter integer OUT_BITS = 2,
    parameter integer NT = 3,
    parameter integer ACT_VAL = 0,
    parameter integer WEIGHT_ROM_BLOCK = 1,
    parameter integer THRESH_ROM_BLOCK = 0,
    parameter integer ROOT = 2,
    parameter integer PSR = 0,
    parameter integer QD = 8,
    parameter integer F_CW = 12,
    localparam integer SF = MW / SIMD,
    localparam integer NF = MH / PE,
    localparam integer SFW = (SF > 1) ? $clog2(SF) : 1,
    localparam integer NFW = (NF > 1) ? $clog2(NF) : 1,
    localparam integer QAW = $clog2(QD),
    localparam integer IN_LW = SIMD * IN_BITS,
    localparam integer WW = PE * SIMD * W_BITS,
    localparam integer TWORD = PE * NT * ACC_BITS,
    localparam integer OW = (USE_THRESHOLDS != 0) ? OUT_BITS : ACC_BITS,
    localparam integer OUT_LW = PE * OW,
    localparam integer OUT_DW = ((PE * OW + 7) / 8) * 8,
    // reference accumulator: the exact sum of MW products of W_BITS + IN_BITS + 1 bits, wider
    // than ACC_BITS (a too narrow ACC_BITS shows as a mismatch)
    localparam integer AW0 = W_BITS + IN_BITS + 1 + $clog2(MW + 1),
    localparam integer AW = ((AW0 > ACC_BITS) ? AW0 : ACC_BITS) + 1
) (
    input wire               clk,
    input wire               rst_n,
    input wire               f_past_valid,
    input wire               take,
    input wire [IN_LW-1:0]   in_data,
    input wire [SFW-1:0]     sfi,
    input wire               out_valid,
    input wire [OUT_DW-1:0]  out_data,
    input wire [F_CW-1:0]    out_count
);
    // smallest and largest product of one lane (corners of the weight and input ranges)
    function integer prod_bound;
        input integer want_max;
        integer wlo, whi, xlo, xhi, c0, c1, c2, c3, lo, hi;
        begin
            wlo = (W_BITS == 1) ? -1 : -(1 << (W_BITS - 1));
            whi = (W_BITS == 1) ? 1 : (1 << (W_BITS - 1)) - 1;
            xlo = (IN_SIGNED != 0) ? -(1 << (IN_BITS - 1)) : 0;
            xhi = (IN_SIGNED != 0) ? (1 << (IN_BITS - 1)) - 1 : (1 << IN_BITS) - 1;
            c0 = wlo * xlo; c1 = wlo * xhi; c2 = whi * xlo; c3 = whi * xhi;
            lo = c0; hi = c0;
            if (c1 < lo) lo = c1; if (c1 > hi) hi = c1;
            if (c2 < lo) lo = c2; if (c2 > hi) hi = c2;
            if (c3 < lo) lo = c3; if (c3 > hi) hi = c3;
            if (XNOR != 0) begin lo = 0; hi = 1; end
            prod_bound = want_max ? hi : lo;
        end
    endfunction
    localparam integer PMIN = prod_bound(0);
    localparam integer PMAX = prod_bound(1);

    // dot product of one MAC step for PE lane p: sum over the SIMD lanes of weight * input
    function signed [AW-1:0] ref_dot;
        input [IN_LW-1:0] x;
        input [WW-1:0]    word;
        input integer     p;
        integer s;
        reg signed [W_BITS:0]  wv;      // one bit wider than the weight and the input:
        reg signed [IN_BITS:0] xv;      // every value of either signedness fits
        reg signed [W_BITS+IN_BITS+1:0] prod;
        begin
            ref_dot = 0;
            for (s = 0; s < SIMD; s = s + 1) begin
                wv = {1'b0, word[(p * SIMD + s) * W_BITS +: W_BITS]};
                xv = {1'b0, x[s * IN_BITS +: IN_BITS]};
                if (XNOR != 0) begin
                    prod = (wv[0] == xv[0]) ? 1 : 0;
                end else begin
                    if (W_BITS == 1) wv = wv[0] ? 1 : -1;
                    else wv[W_BITS] = wv[W_BITS-1];                     // two's complement
                    if (IN_SIGNED != 0) xv[IN_BITS] = xv[IN_BITS-1];
                    prod = wv * xv;
                end
                ref_dot = ref_dot + prod;
            end
        end
    endfunction

    // output element of lane p: ACT_VAL + #{t : T[t] <= acc} (modulo 2^OUT_BITS), or acc itself
    function [OW-1:0] ref_out;
        input signed [AW-1:0] acc;
        input [TWORD-1:0]     tword;
        input integer         p;
        integer t;
        reg signed [AW-1:0] th;
        reg signed [OW:0]   cnt;
        begin
            if (USE_THRESHOLDS != 0) begin
                cnt = ACT_VAL;
                for (t = 0; t < NT; t = t + 1) begin
                    th = $signed(tword[(p * NT + t) * ACC_BITS +: ACC_BITS]);   // sign-extended
                    if (th <= acc) cnt = cnt + 1;
                end
                ref_out = cnt[OW-1:0];
            end else begin
                ref_out = acc[OW-1:0];
            end
        end
    endfunction

    // ---------------------------------------------------------------------------------------------
    // issue: own step counters, own copy of the vector, the ROM word of the step
    // ---------------------------------------------------------------------------------------------
    wire            fire = dqhw_mvau_props.dut.fire;
    reg  [SFW-1:0]  f_ssf;
    reg  [NFW-1:0]  f_snf;
    reg  [SF*IN_LW-1:0] f_vecbuf;               // the vector of neuron fold 0 (own copy)
    wire [IN_LW-1:0] f_xs = (f_snf == 0) ? in_data : f_vecbuf[f_ssf * IN_LW +: IN_LW];
    wire [31:0]     f_waddr = f_snf * SF + f_ssf;
    wire [WW-1:0]   f_wword;
    generate
        if (WEIGHT_ROM_BLOCK != 0) begin : g_wblk
            assign f_wword = dqhw_mvau_props.dut.g_wrom_block.wrom[f_waddr];
        end else begin : g_wauto
            assign f_wword = dqhw_mvau_props.dut.g_wrom_auto.wrom[f_waddr];
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            f_ssf <= {SFW{1'b0}};
            f_snf <= {NFW{1'b0}};
        end else if (fire) begin
            f_ssf <= (f_ssf == SF - 1) ? {SFW{1'b0}} : f_ssf + 1'b1;
            if (f_ssf == SF - 1) f_snf <= (f_snf == NF - 1) ? {NFW{1'b0}} : f_snf + 1'b1;
        end
        if (take) f_vecbuf[sfi * IN_LW +: IN_LW] <= in_data;
    end

    // ---------------------------------------------------------------------------------------------
    // delay line to the dot products (stage j: j + 1 cycles after the step was issued)
    // ---------------------------------------------------------------------------------------------
    reg [ROOT:0]   f_pv;
    reg [ROOT:0]   f_pfirst;
    reg [ROOT:0]   f_plast;
    reg [NFW-1:0]  f_pnf [0:ROOT];
    reg [IN_LW-1:0] f_px [0:ROOT];
    reg [WW-1:0]   f_pw [0:ROOT];
    integer j;
    always @(posedge clk) begin
        if (!rst_n) f_pv <= {(ROOT+1){1'b0}};
        else f_pv <= (f_pv << 1) | fire;
        f_pfirst <= (f_pfirst << 1) | (f_ssf == 0);
        f_plast <= (f_plast << 1) | (f_ssf == SF - 1);
        f_pnf[0] <= f_snf;
        f_px[0] <= f_xs;
        f_pw[0] <= f_wword;
        for (j = 1; j <= ROOT; j = j + 1) begin
            f_pnf[j] <= f_pnf[j-1];
            f_px[j] <= f_px[j-1];
            f_pw[j] <= f_pw[j-1];
        end
    end

    // ---------------------------------------------------------------------------------------------
    // dot products, accumulators, results
    // ---------------------------------------------------------------------------------------------
    wire              f_root = f_pv[ROOT];
    reg  [SFW-1:0]    f_rsf;            // steps of the fold at the root accumulated so far
    reg               f_vacc;           // a finished fold is in the accumulators
    reg  [NFW-1:0]    f_accnf;          // ... of neuron fold f_accnf
    reg  [PE*AW-1:0]  f_acc;            // reference accumulators (exact)
    reg  [OUT_LW-1:0] f_rq [0:PSR];     // reference result, delayed to the queue write
    reg  [PSR:0]      f_rqv;
    wire [TWORD-1:0]  f_tword;          // thresholds of the finished fold
    generate
        if (USE_THRESHOLDS == 0) begin : g_tnone
            assign f_tword = {TWORD{1'b0}};
        end else if (THRESH_ROM_BLOCK != 0) begin : g_tblk
            assign f_tword = dqhw_mvau_props.dut.g_thr.g_trom_block.trom[f_accnf];
        end else begin : g_tauto
            assign f_tword = dqhw_mvau_props.dut.g_thr.g_trom_auto.trom[f_accnf];
        end
    endgenerate

    reg [OUT_LW-1:0] f_res;             // reference result of the fold in the accumulators
    integer p;
    always @(*) begin
        for (p = 0; p < PE; p = p + 1)
            f_res[p * OW +: OW] = ref_out($signed(f_acc[p * AW +: AW]), f_tword, p);
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            f_rsf <= {SFW{1'b0}};
            f_vacc <= 1'b0;
            f_rqv <= {(PSR+1){1'b0}};
        end else begin
            if (f_root) f_rsf <= f_plast[ROOT] ? {SFW{1'b0}} : f_rsf + 1'b1;
            f_vacc <= f_root && f_plast[ROOT];
            f_rqv <= (f_rqv << 1) | f_vacc;
        end
        if (f_root) begin
            for (p = 0; p < PE; p = p + 1)
                f_acc[p * AW +: AW] <= (f_pfirst[ROOT] ? 0 : $signed(f_acc[p * AW +: AW]))
                                       + ref_dot(f_px[ROOT], f_pw[ROOT], p);
            f_accnf <= f_pnf[ROOT];
        end
        f_rq[0] <= f_res;
        for (j = 1; j <= PSR; j = j + 1) f_rq[j] <= f_rq[j-1];
    end

    // the result written into the queue: with thresholds PSR + 1 cycles after the accumulators
    wire              f_vout = (USE_THRESHOLDS != 0) ? f_rqv[PSR] : f_vacc;
    wire [OUT_LW-1:0] f_vres = (USE_THRESHOLDS != 0) ? f_rq[PSR] : f_res;

    // ---------------------------------------------------------------------------------------------
    // the queue: result number f_r (any) leaves as output beat number f_r
    // ---------------------------------------------------------------------------------------------
    reg  [F_CW-1:0]   f_pushed;
    reg  [F_CW-1:0]   f_r;              // anyconst
    reg  [OUT_LW-1:0] f_rval;           // its reference value, once pushed
    always @(posedge clk) begin
        f_r <= f_r;
        if (!rst_n) f_pushed <= {F_CW{1'b0}};
        else if (f_vout) f_pushed <= f_pushed + 1'b1;
        if (f_vout && f_pushed == f_r) f_rval <= f_vres;
    end
    wire [F_CW-1:0] f_qpos = f_r - out_count;
    wire [QAW-1:0]  f_qaddr = dqhw_mvau_props.dut.qr + f_qpos[QAW-1:0];
    wire [F_CW-1:0] f_qcount = dqhw_mvau_props.dut.qcount;

    // ---------------------------------------------------------------------------------------------
    // assertions
    // ---------------------------------------------------------------------------------------------
    reg [31:0] f_inline;                // MAC steps in the delay line
    always @(*) begin
        f_inline = 0;
        for (j = 0; j <= ROOT; j = j + 1) f_inline = f_inline + f_pv[j];
    end

    wire signed [31:0] f_nacc = f_vacc ? SF : f_rsf;    // steps in the accumulators

    genvar q;
    generate
        for (q = 0; q < PE; q = q + 1) begin : g_lane
            wire signed [AW-1:0]      f_lacc = f_acc[q * AW +: AW];
            wire signed [AW-1:0]      f_ldot = ref_dot(f_px[ROOT], f_pw[ROOT], q);
            wire        [ACC_BITS-1:0] f_dut_dot = dqhw_mvau_props.dut.g_pe[q].dot_ext;
            wire        [ACC_BITS-1:0] f_dut_acc = dqhw_mvau_props.dut.acc[q * ACC_BITS +: ACC_BITS];
            always @(*) begin
                if (f_past_valid) begin
                    if (f_root) assert(f_dut_dot == f_ldot[ACC_BITS-1:0]);
                    if (f_rsf != 0 || f_vacc) begin
                        // within n steps' products (the invariant), exact: it fits ACC_BITS
                        assert(f_lacc >= f_nacc * SIMD * PMIN && f_lacc <= f_nacc * SIMD * PMAX);
                        assert(f_lacc >= -(1 <<< (ACC_BITS - 1)) && f_lacc < (1 <<< (ACC_BITS - 1)));
                        assert(f_dut_acc == f_lacc[ACC_BITS-1:0]);
                    end
                end
            end
        end
    endgenerate

    // the unit's replay buffer holds the vector's beats taken so far (the inductive invariant)
    generate
        if (NF > 1) begin : g_ibuf_inv
            for (q = 0; q < SF; q = q + 1) begin : g_slot
                wire [IN_LW-1:0] f_dut_x = dqhw_mvau_props.dut.g_ibuf.ibuf[q];
                always @(*) begin
                    if (f_past_valid && (f_snf != 0 || q < f_ssf))
                        assert(f_dut_x == f_vecbuf[q * IN_LW +: IN_LW]);
                end
            end
        end
    endgenerate

    always @(*) begin
        if (f_past_valid) begin
            assert(dqhw_mvau_props.dut.sf == f_ssf && dqhw_mvau_props.dut.nf == f_snf);
            if (f_snf == 0) assert(fire == take && (!take || sfi == f_ssf));
            assert(dqhw_mvau_props.dut.pv == f_pv);
            assert(dqhw_mvau_props.dut.v_acc == f_vacc);
            assert(f_ssf == (f_rsf + f_inline) % SF);
            for (j = 0; j <= ROOT; j = j + 1) begin
                if (f_pv[j]) begin
                    assert(dqhw_mvau_props.dut.plast[j] == f_plast[j]);
                    assert(dqhw_mvau_props.dut.pfirst[j] == f_pfirst[j]);
                    assert(dqhw_mvau_props.dut.pnf[j * NFW +: NFW] == f_pnf[j]);
                end
            end
            if (f_vout) assert(dqhw_mvau_props.dut.v_out && dqhw_mvau_props.dut.result == f_vres);
            assert(f_pushed == out_count + f_qcount);
            if (f_qpos < f_qcount) assert(dqhw_mvau_props.dut.q[f_qaddr] == f_rval);
            if (out_valid && out_count == f_r) assert(out_data == {{(OUT_DW-OUT_LW){1'b0}}, f_rval});
        end
    end
endmodule

`default_nettype wire
