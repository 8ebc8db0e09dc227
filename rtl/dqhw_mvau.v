`default_nettype none

// dqhw_mvau: LUT-based matrix-vector-activation unit with FINN's MVAU stream semantics.
//
// For every input vector x (MW IN_BITS elements, one output pixel of a conv layer or one FC input)
// it computes acc[o] = sum_i W[o, i] * x[i] (o < MH, exact in ACC_BITS two's complement; x unsigned
// or, with IN_SIGNED, two's complement) or, with XNOR = 1, the XNOR-popcount
// acc[o] = #{i : x[i] == w[o, i]} of 1-bit inputs and 1-bit (bipolar) weights (FINN's
// binaryXnorMode), and emits either out[o] = ACT_VAL + #{t : T[o, t] <= acc[o]}, stored in
// OUT_BITS bits (two's complement when negative) (USE_THRESHOLDS = 1), or acc[o] itself
// (USE_THRESHOLDS = 0, signed ACC_BITS; for the last layer).
//
// Folding (as FINN): SF = MW/SIMD synapse folds, NF = MH/PE neuron folds.
//   input : per vector SF beats of SIMD elements (element sf*SIMD+s at lane s, lane 0 in the LSBs)
//   output: per vector NF beats of PE elements (channel nf*PE+p at lane p)
// The vector is taken from the stream during neuron fold 0 and replayed from a buffer for the
// other folds (like FINN's MVAU); one SIMD-wide MAC step per cycle, so a vector takes NF*SF cycles
// with no bubbles between folds or vectors.
//
// Parameters
//   MW, MH, PE, SIMD  matrix width/height and folding (SIMD | MW, PE | MH)
//   IN_BITS           input element width, 1..8 (unsigned) or 2..8 (IN_SIGNED = 1)
//   IN_SIGNED         0: inputs are unsigned 0..2^IN_BITS-1; 1: two's complement
//                     -2^(IN_BITS-1)..2^(IN_BITS-1)-1
//   W_BITS            weight width: 2..8 signed (narrow range), or 1 = bipolar (bit 1 -> +1, 0 -> -1)
//   XNOR              1: XNOR-popcount (needs IN_BITS = 1, W_BITS = 1, IN_SIGNED = 0): input bit 1
//                     means +1 and 0 means -1, like the weight bits; lane value = (x == w) in {0, 1},
//                     acc = number of agreeing lanes, 0..MW (= (bipolar dot product + MW) / 2)
//   ACC_BITS          accumulator width (contract.signed_bits of contract.acc_range)
//   USE_THRESHOLDS    1: thresholds (NUM_THRESH = 2^OUT_BITS - 1 per channel), 0: raw accumulators
//   OUT_BITS          output element width with thresholds, 1..8
//   NUM_THRESH        thresholds per channel, 1..2^OUT_BITS-1 (default 2^OUT_BITS-1)
//   ACT_VAL           output offset (FINN's ActVal), only with thresholds: the output element is
//                     ACT_VAL + #{t : T[o, t] <= acc[o]} modulo 2^OUT_BITS; ACT_VAL..ACT_VAL+NUM_THRESH
//                     must fit OUT_BITS bits (unsigned when ACT_VAL >= 0, two's complement when < 0)
//   WEIGHT_FILE       $readmemh file, contract.mvau_weight_words: NF*SF words of PE*SIMD*W_BITS
//                     bits; word nf*SF+sf, bits [(p*SIMD+s)*W_BITS +: W_BITS] = W[nf*PE+p, sf*SIMD+s]
//   THRESH_FILE       $readmemh file, contract.mvau_threshold_words: NF words of
//                     PE*NUM_THRESH*ACC_BITS bits; word nf, bits [(p*NUM_THRESH+t)*ACC_BITS +:
//                     ACC_BITS] = T[nf*PE+p, t] (two's complement)
//   WEIGHT_ROM_BLOCK  1: (* rom_style = "block" *) on the weight ROM, 0: no attribute (the
//                     synthesis tool chooses: LUT ROM for small ones)
//   THRESH_ROM_BLOCK  same for the threshold ROM
// Ports: clk, synchronous active-low rst_n, s_axis_* (TDATA SIMD*IN_BITS bits padded to bytes),
//   m_axis_* (TDATA PE*OUT_BITS or PE*ACC_BITS bits padded to bytes; pad bits are zero).
// Timing: 5 cycles from the last input beat of a fold to the output beat. Results queue in an
//   8-entry output buffer; a fold's last MAC step is issued only when its result has a reserved
//   slot there, so the datapath never stalls and s_axis_tready is a function of registers only.
// Datapath: the products are shift-and-add LUT logic (no `*` operator, so no tool infers DSP
//   slices from it) and the module carries (* use_dsp = "no" *) for Vivado.
(* use_dsp = "no" *)
module dqhw_mvau #(
    parameter integer MW = 16,
    parameter integer MH = 8,
    parameter integer PE = 2,
    parameter integer SIMD = 4,
    parameter integer IN_BITS = 2,
    parameter integer IN_SIGNED = 0,
    parameter integer W_BITS = 2,
    parameter integer XNOR = 0,
    parameter integer ACC_BITS = 12,
    parameter integer USE_THRESHOLDS = 1,
    parameter integer OUT_BITS = 2,
    parameter integer NUM_THRESH = (1 << OUT_BITS) - 1,
    parameter integer ACT_VAL = 0,
    parameter WEIGHT_FILE = "",
    parameter THRESH_FILE = "",
    parameter integer WEIGHT_ROM_BLOCK = 1,
    parameter integer THRESH_ROM_BLOCK = 0
) (
    input  wire                                                          clk,
    input  wire                                                          rst_n,

    input  wire [((SIMD*IN_BITS+7)/8)*8-1:0]                             s_axis_tdata,
    input  wire                                                          s_axis_tvalid,
    output wire                                                          s_axis_tready,

    output wire [((PE*(USE_THRESHOLDS != 0 ? OUT_BITS : ACC_BITS)+7)/8)*8-1:0] m_axis_tdata,
    output wire                                                          m_axis_tvalid,
    input  wire                                                          m_axis_tready
);

    // ---------------------------------------------------------------------------------------------
    // derived sizes
    // ---------------------------------------------------------------------------------------------
    localparam integer SF = MW / SIMD;
    localparam integer NF = MH / PE;
    localparam integer WMEM = SF * NF;
    localparam integer SFW = (SF > 1) ? $clog2(SF) : 1;
    localparam integer NFW = (NF > 1) ? $clog2(NF) : 1;
    localparam integer WAW = (WMEM > 1) ? $clog2(WMEM) : 1;
    localparam integer SF_LAST_I = SF - 1;
    localparam integer NF_LAST_I = NF - 1;
    localparam integer WMEM_LAST_I = WMEM - 1;
    localparam [SFW-1:0] SF_LAST = SF_LAST_I[SFW-1:0];
    localparam [NFW-1:0] NF_LAST = NF_LAST_I[NFW-1:0];
    localparam [WAW-1:0] WADDR_LAST = WMEM_LAST_I[WAW-1:0];

    localparam integer IN_LW = SIMD * IN_BITS;                  // payload bits of an input beat
    localparam integer IN_DW = ((SIMD * IN_BITS + 7) / 8) * 8;
    localparam integer WW = PE * SIMD * W_BITS;                 // weight ROM word
    localparam integer NT = NUM_THRESH;                         // thresholds per channel
    localparam integer TWORD = PE * NT * ACC_BITS;              // threshold ROM word
    localparam integer OW = (USE_THRESHOLDS != 0) ? OUT_BITS : ACC_BITS;  // output element
    localparam integer OUT_LW = PE * OW;
    localparam integer OUT_DW = ((PE * OW + 7) / 8) * 8;
    // product of one lane: W_BITS x IN_BITS (signed x unsigned needs W_BITS + IN_BITS bits, signed x
    // signed as well), +-x for bipolar weights (IN_BITS + 1), or the XNOR bit {0, 1} (2 bits signed)
    localparam integer PW = (XNOR != 0) ? 2 : (W_BITS == 1) ? IN_BITS + 1 : W_BITS + IN_BITS;
    // the output offset in OUT_BITS bits (modulo 2^OUT_BITS: two's complement when negative);
    // OB keeps these widths small when OUT_BITS is unused (raw accumulators)
    localparam integer OB = (USE_THRESHOLDS != 0) ? OUT_BITS : 1;
    localparam integer ACT_VAL_I = ACT_VAL;
    localparam [OB-1:0] AV = ACT_VAL_I[OB-1:0];
    // largest output element: 2^OUT_BITS - 1 unsigned, 2^(OUT_BITS-1) - 1 signed (ACT_VAL < 0)
    localparam integer OUT_MAX = (ACT_VAL < 0) ? (1 << (OB - 1)) - 1 : (1 << OB) - 1;
    localparam integer LG = (SIMD > 1) ? $clog2(SIMD) : 0;
    localparam integer P2 = 1 << LG;                             // leaves of the adder tree
    // adder-tree width: exact dot product, or ACC_BITS (sums are exact modulo 2^ACC_BITS and the
    // final accumulator is in range, so truncating to ACC_BITS never changes the result)
    localparam integer TW = (PW + LG < ACC_BITS) ? PW + LG : ACC_BITS;
    // output queue: 8 entries; a result may be issued while fewer than 8 are reserved
    localparam integer QD = 8;
    localparam integer QAW = 3;
    localparam integer QCW = 4;
    localparam [QCW-1:0] QFULL = 4'd8;

`ifndef SYNTHESIS
    // illegal parameter combinations stop elaboration (elaboration-time $fatal in a generate-if)
    generate
        if (SIMD < 1 || PE < 1 || MW < 1 || MH < 1 || MW % SIMD != 0 || MH % PE != 0) begin : g_bad_folding
            $fatal(1, "dqhw_mvau: bad folding: SIMD=%0d must divide MW=%0d and PE=%0d must divide MH=%0d",
                   SIMD, MW, PE, MH);
        end
        if (IN_BITS < 1 || IN_BITS > 8 || W_BITS < 1 || W_BITS > 8) begin : g_bad_bits
            $fatal(1, "dqhw_mvau: bad element widths IN_BITS=%0d, W_BITS=%0d (each must be 1..8)",
                   IN_BITS, W_BITS);
        end
        if ((IN_SIGNED != 0 && IN_SIGNED != 1) || (IN_SIGNED == 1 && IN_BITS < 2)) begin : g_bad_signed
            $fatal(1, "dqhw_mvau: IN_SIGNED=%0d with IN_BITS=%0d (0 or 1; signed inputs need IN_BITS >= 2)",
                   IN_SIGNED, IN_BITS);
        end
        if ((XNOR != 0 && XNOR != 1) || (XNOR == 1 && (IN_BITS != 1 || W_BITS != 1 || IN_SIGNED != 0))) begin : g_bad_xnor
            $fatal(1, "dqhw_mvau: XNOR=%0d with IN_BITS=%0d, W_BITS=%0d, IN_SIGNED=%0d (XNOR-popcount needs 1-bit inputs and bipolar weights)",
                   XNOR, IN_BITS, W_BITS, IN_SIGNED);
        end
        if (ACC_BITS < 2) begin : g_bad_acc
            $fatal(1, "dqhw_mvau: ACC_BITS=%0d, must be >= 2", ACC_BITS);
        end
        if (USE_THRESHOLDS != 0 && (OUT_BITS < 1 || OUT_BITS > 8)) begin : g_bad_out
            $fatal(1, "dqhw_mvau: OUT_BITS=%0d with thresholds, must be 1..8", OUT_BITS);
        end else if (USE_THRESHOLDS != 0 && (NUM_THRESH < 1 || NUM_THRESH > (1 << OUT_BITS) - 1)) begin : g_bad_nt
            $fatal(1, "dqhw_mvau: NUM_THRESH=%0d, must be 1..2^OUT_BITS-1 (OUT_BITS=%0d)", NUM_THRESH, OUT_BITS);
        end else if (USE_THRESHOLDS != 0 && (ACT_VAL < -(1 << (OB - 1)) || ACT_VAL + NUM_THRESH > OUT_MAX)) begin : g_bad_actval
            $fatal(1, "dqhw_mvau: outputs ACT_VAL=%0d .. ACT_VAL+NUM_THRESH=%0d do not fit OUT_BITS=%0d",
                   ACT_VAL, ACT_VAL + NUM_THRESH, OUT_BITS);
        end
        if (USE_THRESHOLDS == 0 && ACT_VAL != 0) begin : g_bad_raw_actval
            $fatal(1, "dqhw_mvau: ACT_VAL=%0d without thresholds (raw accumulators have no offset)", ACT_VAL);
        end
    endgenerate
`endif

    // ---------------------------------------------------------------------------------------------
    // stage 0: step issue (sf, nf counters), input handshake, ROM / buffer reads
    // ---------------------------------------------------------------------------------------------
    reg  [SFW-1:0]  sf;
    reg  [NFW-1:0]  nf;
    reg  [WAW-1:0]  waddr;
    reg  [QCW-1:0]  pending;    // results issued (last step of a fold) and not yet sent

    wire sf_last = (sf == SF_LAST);
    wire sf_first = (sf == {SFW{1'b0}});
    wire nf_first = (nf == {NFW{1'b0}});
    wire nf_last = (nf == NF_LAST);
    wire step_ok = !sf_last || (pending != QFULL);
    assign s_axis_tready = nf_first && step_ok;
    wire fire = step_ok && (!nf_first || s_axis_tvalid);
    wire issue_result = fire && sf_last;
    wire pop;

    always @(posedge clk) begin
        if (!rst_n) begin
            sf <= {SFW{1'b0}};
            nf <= {NFW{1'b0}};
            waddr <= {WAW{1'b0}};
            pending <= {QCW{1'b0}};
        end else begin
            if (fire) begin
                sf <= sf_last ? {SFW{1'b0}} : sf + 1'b1;
                if (sf_last) nf <= nf_last ? {NFW{1'b0}} : nf + 1'b1;
                waddr <= (waddr == WADDR_LAST) ? {WAW{1'b0}} : waddr + 1'b1;
            end
            pending <= pending + {{(QCW-1){1'b0}}, issue_result} - {{(QCW-1){1'b0}}, pop};
        end
    end

    wire [IN_LW-1:0] in_payload = s_axis_tdata[IN_LW-1:0];
    reg  [IN_LW-1:0] in_q;      // stream beat (neuron fold 0)
    reg  [WW-1:0]    w_q;       // weight ROM output register

    always @(posedge clk) begin
        if (fire) in_q <= in_payload;
    end

    generate
        if (WEIGHT_ROM_BLOCK != 0) begin : g_wrom_block
            (* rom_style = "block" *) reg [WW-1:0] wrom [0:WMEM-1];
            initial $readmemh(WEIGHT_FILE, wrom);
            always @(posedge clk) begin
                if (fire) w_q <= wrom[waddr];
            end
        end else begin : g_wrom_auto
            reg [WW-1:0] wrom [0:WMEM-1];
            initial $readmemh(WEIGHT_FILE, wrom);
            always @(posedge clk) begin
                if (fire) w_q <= wrom[waddr];
            end
        end
    endgenerate

    // input vector buffer: written during neuron fold 0, read during the others
    wire [IN_LW-1:0] x1;        // stage-1 input vector slice
    reg              v1;
    reg              first1;
    reg              last1;
    reg  [NFW-1:0]   nf1;

    generate
        if (NF > 1) begin : g_ibuf
            reg [IN_LW-1:0] ibuf [0:SF-1];
            reg [IN_LW-1:0] ibuf_q;
            reg             use_buf;
            always @(posedge clk) begin
                if (fire && nf_first) ibuf[sf] <= in_payload;
                if (fire) begin
                    ibuf_q <= ibuf[sf];
                    use_buf <= !nf_first;
                end
            end
            assign x1 = use_buf ? ibuf_q : in_q;
        end else begin : g_no_ibuf
            assign x1 = in_q;
        end
        if (IN_DW > IN_LW) begin : g_in_pad
            wire unused_in_pad = ^s_axis_tdata[IN_DW-1:IN_LW];  // byte padding carries no data
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) v1 <= 1'b0;
        else v1 <= fire;
        if (fire) begin
            first1 <= sf_first;
            last1 <= sf_last;
            nf1 <= nf;
        end
    end

    // ---------------------------------------------------------------------------------------------
    // stage 1: SIMD products and adder tree per PE  ->  stage 2: accumulate
    // ---------------------------------------------------------------------------------------------
    reg              v2;
    reg              first2;
    reg              last2;
    reg  [NFW-1:0]   nf2;
    reg              v3;
    reg              v4;
    reg  [PE*ACC_BITS-1:0] acc;     // accumulators, PE lanes
    reg  [PE*TW-1:0]       dot_q;   // registered dot products (stage 2)

    genvar p, s, n;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            // heap-ordered adder tree: node n = node 2n+1 + node 2n+2, leaves P2-1 .. 2*P2-2
            wire [TW-1:0] node [0:2*P2-2];
            for (s = 0; s < P2; s = s + 1) begin : g_lane
                if (s < SIMD) begin : g_mac
                    wire [IN_BITS-1:0] xs = x1[s*IN_BITS +: IN_BITS];
                    wire [W_BITS-1:0]  ws = w_q[(p*SIMD+s)*W_BITS +: W_BITS];
                    wire [PW-1:0]      prod;
                    if (XNOR != 0) begin : g_xnor
                        // XNOR-popcount lane: 1 when input bit and weight bit agree
                        assign prod = {1'b0, ~(xs[0] ^ ws[0])};
                    end else if (W_BITS == 1) begin : g_bipolar
                        // sign (IN_SIGNED) or zero extension
                        wire          xsign = (IN_SIGNED != 0) ? xs[IN_BITS-1] : 1'b0;
                        wire [PW-1:0] xe = {xsign, xs};
                        assign prod = ws[0] ? xe : -xe;
                    end else if (IN_BITS == 1) begin : g_binary_in
                        assign prod = xs[0] ? {{(PW-W_BITS){ws[W_BITS-1]}}, ws} : {PW{1'b0}};
                    end else if (W_BITS < IN_BITS) begin : g_shift_add_w
                        // shift-and-add over the weight bits (two's complement: the MSB weighs
                        // -2^(W_BITS-1)); written out so that no tool maps it to a DSP multiplier.
                        // Exact modulo 2^PW, and the product fits PW bits.
                        wire          xsign = (IN_SIGNED != 0) ? xs[IN_BITS-1] : 1'b0;
                        wire [PW-1:0] xe = {{(PW-IN_BITS){xsign}}, xs};
                        reg  [PW-1:0] sum;
                        integer k;
                        always @* begin
                            sum = {PW{1'b0}};
                            for (k = 0; k < W_BITS - 1; k = k + 1)
                                if (ws[k]) sum = sum + (xe << k);
                            if (ws[W_BITS-1]) sum = sum - (xe << (W_BITS - 1));
                        end
                        assign prod = sum;
                    end else begin : g_shift_add_x
                        // shift-and-add over the input bits, no DSP multiplier; a signed input's
                        // MSB weighs -2^(IN_BITS-1)
                        wire [PW-1:0] we = {{(PW-W_BITS){ws[W_BITS-1]}}, ws};
                        reg  [PW-1:0] sum;
                        integer k;
                        always @* begin
                            sum = {PW{1'b0}};
                            for (k = 0; k < IN_BITS - 1; k = k + 1)
                                if (xs[k]) sum = sum + (we << k);
                            if (xs[IN_BITS-1]) begin
                                if (IN_SIGNED != 0) sum = sum - (we << (IN_BITS - 1));
                                else sum = sum + (we << (IN_BITS - 1));
                            end
                        end
                        assign prod = sum;
                    end
                    if (TW > PW) begin : g_sext
                        assign node[P2-1+s] = {{(TW-PW){prod[PW-1]}}, prod};
                    end else if (TW == PW) begin : g_same
                        assign node[P2-1+s] = prod;
                    end else begin : g_trunc
                        wire unused_prod_msbs = ^prod[PW-1:TW];  // modulo 2^ACC_BITS arithmetic
                        assign node[P2-1+s] = prod[TW-1:0];
                    end
                end else begin : g_zero
                    assign node[P2-1+s] = {TW{1'b0}};
                end
            end
            for (n = 0; n < P2 - 1; n = n + 1) begin : g_add
                assign node[n] = node[2*n+1] + node[2*n+2];
            end

            always @(posedge clk) begin
                if (v1) dot_q[p*TW +: TW] <= node[0];
            end

            wire [TW-1:0]       dot = dot_q[p*TW +: TW];
            wire [ACC_BITS-1:0] dot_ext;
            if (ACC_BITS > TW) begin : g_dot_sext
                assign dot_ext = {{(ACC_BITS-TW){dot[TW-1]}}, dot};
            end else begin : g_dot_same
                assign dot_ext = dot;
            end
            always @(posedge clk) begin
                if (v2) acc[p*ACC_BITS +: ACC_BITS] <= (first2 ? {ACC_BITS{1'b0}} : acc[p*ACC_BITS +: ACC_BITS]) + dot_ext;
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            v2 <= 1'b0;
            v3 <= 1'b0;
            v4 <= 1'b0;
        end else begin
            v2 <= v1;
            v3 <= v2 && last2;
            v4 <= v3;
        end
        if (v1) begin
            first2 <= first1;
            last2 <= last1;
            nf2 <= nf1;
        end
    end

    // ---------------------------------------------------------------------------------------------
    // stage 3: thresholds (or raw accumulators)  ->  stage 4: output element, into the queue
    // ---------------------------------------------------------------------------------------------
    wire [OUT_LW-1:0] result;   // stage-4 output beat payload

    generate
        if (USE_THRESHOLDS != 0) begin : g_thr
            reg [TWORD-1:0] t_q;        // thresholds of neuron fold nf2 (read at stage 2)
            reg [PE*NT-1:0] cmp_q;      // T[o, t] <= acc[o], registered (stage 4)
            if (THRESH_ROM_BLOCK != 0) begin : g_trom_block
                (* rom_style = "block" *) reg [TWORD-1:0] trom [0:NF-1];
                initial $readmemh(THRESH_FILE, trom);
                always @(posedge clk) begin
                    if (v2 && last2) t_q <= trom[nf2];
                end
            end else begin : g_trom_auto
                reg [TWORD-1:0] trom [0:NF-1];
                initial $readmemh(THRESH_FILE, trom);
                always @(posedge clk) begin
                    if (v2 && last2) t_q <= trom[nf2];
                end
            end
            for (p = 0; p < PE; p = p + 1) begin : g_pe_thr
                wire signed [ACC_BITS-1:0] a = acc[p*ACC_BITS +: ACC_BITS];
                for (n = 0; n < NT; n = n + 1) begin : g_cmp
                    wire signed [ACC_BITS-1:0] t = t_q[(p*NT+n)*ACC_BITS +: ACC_BITS];
                    always @(posedge clk) begin
                        if (v3) cmp_q[p*NT+n] <= (t <= a);
                    end
                end
                // out = ACT_VAL + number of thresholds passed (order-independent popcount), modulo
                // 2^OUT_BITS
                if (OUT_BITS == 1) begin : g_one
                    assign result[p] = cmp_q[p] ^ AV[0];
                end else begin : g_count
                    reg [OUT_BITS-1:0] cnt;
                    integer k;
                    always @* begin
                        cnt = AV;
                        for (k = 0; k < NT; k = k + 1)
                            cnt = cnt + {{(OUT_BITS-1){1'b0}}, cmp_q[p*NT+k]};
                    end
                    assign result[p*OUT_BITS +: OUT_BITS] = cnt;
                end
            end
        end else begin : g_raw
            wire [NFW-1:0] unused_nf2 = nf2;  // only addresses the threshold ROM
            reg [PE*ACC_BITS-1:0] res_q;
            always @(posedge clk) begin
                if (v3) res_q <= acc;
            end
            assign result = res_q;
        end
    endgenerate

    // ---------------------------------------------------------------------------------------------
    // output queue (QD entries, a slot is reserved for every issued result)
    // ---------------------------------------------------------------------------------------------
    reg  [OUT_LW-1:0] q [0:QD-1];
    reg  [QAW-1:0]    qw;
    reg  [QAW-1:0]    qr;
    reg  [QCW-1:0]    qcount;

    assign m_axis_tvalid = (qcount != {QCW{1'b0}});
    assign pop = m_axis_tvalid && m_axis_tready;

    always @(posedge clk) begin
        if (v4) q[qw] <= result;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            qw <= {QAW{1'b0}};
            qr <= {QAW{1'b0}};
            qcount <= {QCW{1'b0}};
        end else begin
            if (v4) qw <= qw + 1'b1;
            if (pop) qr <= qr + 1'b1;
            qcount <= qcount + {{(QCW-1){1'b0}}, v4} - {{(QCW-1){1'b0}}, pop};
        end
    end

    generate
        if (OUT_DW > OUT_LW) begin : g_out_pad
            assign m_axis_tdata = {{(OUT_DW-OUT_LW){1'b0}}, q[qr]};
        end else begin : g_out_nopad
            assign m_axis_tdata = q[qr];
        end
    endgenerate

endmodule

`default_nettype wire
