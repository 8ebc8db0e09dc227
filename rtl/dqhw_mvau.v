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
//   TREE_LEVELS_PER_STAGE  adder-tree levels between two pipeline registers (>= 1); 0 (default):
//                     derived, floor((LEVEL_BUDGET - ceil(TW/4)) / 2) (at least 1) for the tree width TW =
//                     min(PW + ceil(log2 SIMD), ACC_BITS), PW the product width; contract.mvau_pipeline
//                     is the same formula and DqhwMVAU.rtl_params() passes its value explicitly
// Ports: clk, synchronous active-low rst_n, s_axis_* (TDATA SIMD*IN_BITS bits padded to bytes),
//   m_axis_* (TDATA PE*OUT_BITS or PE*ACC_BITS bits padded to bytes; pad bits are zero).
// Timing by construction: every register-to-register path is at most LEVEL_BUDGET = 10 logic levels
//   (LUT, CARRY4, MUXF7/8 one level each; rtl/README.md: 100 MHz on xc7z020-1). Pipeline, per MAC
//   step: ROM read register (BRAM read port) -> ROM output register (BRAM DOB_REG) with the input
//   slice beside it -> per PE one adder tree over the SIMD lane products, a register every
//   TREE_LEVELS_PER_STAGE levels (TS stages, the last holds the dot product) -> accumulate; per
//   fold: compare with the thresholds -> popcount tree (+ ACT_VAL), a register every POP_K levels
//   (PSR registers) -> output queue. LATENCY (cycles from a fold's last input beat to its output
//   beat) = 5 + TS + PSR with thresholds, 4 + TS without. Results queue in a QD-entry output buffer
//   (QD = the power of two >= LATENCY + 2); a fold's last MAC step is issued only when its result has
//   a reserved slot there, so the datapath never stalls, a result per cycle (SF = 1) flows without
//   bubbles, and s_axis_tready is a function of registers only.
// Datapath: products of at most 6 input bits (W_BITS + IN_BITS <= 6, 1-bit inputs, XNOR) are one
//   LUT per product bit (a constant product table); a bipolar weight on a wider input is a
//   conditional negation (one tree level); wider products are shift-and-add terms that are leaves
//   of the adder tree (no `*` operator, so no tool infers DSP slices from it), and the module
//   carries (* use_dsp = "no" *) for Vivado.
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
    parameter integer THRESH_ROM_BLOCK = 0,
    parameter integer TREE_LEVELS_PER_STAGE = 0
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
    // pipeline sizing (constant functions; contract.mvau_pipeline is the same formula in Python)
    // ---------------------------------------------------------------------------------------------
    // logic levels allowed between two registers (LUT, CARRY4, MUXF7/8 one level each)
    localparam integer LEVEL_BUDGET = 10;

    // floor(log2(v)), v >= 1
    function integer flog2;
        input integer v;
        integer i;
        begin
            flog2 = 0;
            for (i = 1; i < 31; i = i + 1)
                if ((1 << i) <= v) flog2 = i;
        end
    endfunction

    // ceil(log2(v)), v >= 1 (0 for v = 1)
    function integer clog2;
        input integer v;
        begin
            clog2 = (v > 1) ? flog2(v - 1) + 1 : 0;
        end
    endfunction

    // adder levels that fit one pipeline stage when the widest adder of the stage has w bits:
    // an adder level costs a LUT and a CARRY4, the widest one's carry chain ceil(w/4) CARRY4s
    function integer stage_levels;
        input integer w;
        input integer budget;
        integer k;
        begin
            k = (budget - (w + 3) / 4) / 2;
            stage_levels = (k < 1) ? 1 : k;
        end
    endfunction

    // width of a tree node `h` adder levels above the leaves (pl of them inside a lane's product)
    function integer tree_w;
        input integer h;
        input integer pl;
        input integer pw;
        input integer tw;
        integer w;
        begin
            w = (h <= pl) ? pw : pw + h - pl;
            tree_w = (w < tw) ? w : tw;
        end
    endfunction

    // a pipeline register after adder level h of d, when the d levels are cut into ts stages of
    // at most ceil(d/ts) levels (the cuts at ceil(j*d/ts), j = 1..ts: more levels near the leaves)
    function integer is_boundary;
        input integer h;
        input integer d;
        input integer ts;
        begin
            if (h < 1 || d < 1) is_boundary = 0;
            else is_boundary = ((h * ts) / d > ((h - 1) * ts) / d) ? 1 : 0;
        end
    endfunction

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
    // partial products per lane (M): a lane whose product depends on at most 6 input bits (XNOR,
    // 1-bit inputs, W_BITS + IN_BITS <= 6) is one LUT per product bit (DIRECT: a constant product
    // table indexed by {weight, input}); a bipolar weight on a wider input is +x or -x (NEGATE: the
    // leaf is a conditional negation, one adder level); otherwise the product is a sum of
    // min(W_BITS, IN_BITS) shift-and-add terms in the adder tree. NEG: lane term 1 (the
    // shift-and-add MSB term of a two's complement operand) is subtracted at the first tree level.
    localparam integer DIRECT = (XNOR != 0 || IN_BITS == 1 || W_BITS + IN_BITS <= 6) ? 1 : 0;
    localparam integer NEGATE = (DIRECT == 0 && W_BITS == 1) ? 1 : 0;
    localparam integer TABLE = (DIRECT != 0 && XNOR == 0 && IN_BITS > 1) ? 1 : 0;
    localparam integer TAB_BITS = (TABLE != 0) ? W_BITS + IN_BITS : 1;
    localparam integer M = (DIRECT != 0 || NEGATE != 0) ? 1 : (W_BITS < IN_BITS) ? W_BITS : IN_BITS;
    localparam integer NEG = (M == 1) ? 0 : (W_BITS < IN_BITS) ? 1 : IN_SIGNED;
    // DIRECT products: entry {w, x} (W_BITS + IN_BITS bits) = the product, PW bits two's complement
    function [(1 << TAB_BITS) * PW - 1 : 0] prod_table;
        input integer unused;
        integer i, b, wv, xv;
        reg [31:0] pv;
        begin
            prod_table = {((1 << TAB_BITS) * PW){1'b0}};
            for (i = 0; i < (1 << TAB_BITS); i = i + 1) begin
                wv = i / (1 << IN_BITS);
                xv = i % (1 << IN_BITS);
                if (W_BITS == 1) wv = (wv != 0) ? 1 : -1;
                else if (wv >= (1 << (W_BITS - 1))) wv = wv - (1 << W_BITS);
                if (IN_SIGNED != 0 && xv >= (1 << (IN_BITS - 1))) xv = xv - (1 << IN_BITS);
                pv = wv * xv;
                for (b = 0; b < PW; b = b + 1) prod_table[i*PW + b] = pv[b];
            end
        end
    endfunction
    localparam [(1 << TAB_BITS) * PW - 1 : 0] PROD = prod_table(0);
    localparam integer MP2 = 1 << clog2(M);                     // leaves per lane
    localparam integer PL = clog2(M) + NEGATE;                  // product levels of the tree
    localparam integer NL = P2 * MP2;                           // leaves per PE
    localparam integer D = PL + LG;                             // adder levels per PE (leaves: NEGATE)
    localparam integer LFW = (PW < TW) ? PW : TW;               // leaf width
    localparam integer TREE_K = (TREE_LEVELS_PER_STAGE > 0) ? TREE_LEVELS_PER_STAGE
                                                            : stage_levels(TW, LEVEL_BUDGET);
    localparam integer TS = (D > 0) ? (D + TREE_K - 1) / TREE_K : 1;   // tree register stages
    localparam integer ROOT = 1 + TS;                           // stage of the dot products
    // threshold popcount: CD levels over CL leaves, one more for + ACT_VAL; POP_K per stage
    localparam integer CD = (NT > 1) ? clog2(NT) : 0;
    localparam integer CL = 1 << CD;
    localparam integer AV_NZ = (AV != {OB{1'b0}}) ? 1 : 0;
    localparam integer CDT = CD + AV_NZ;
    localparam integer POP_K = stage_levels(OB, LEVEL_BUDGET);
    localparam integer CTS = (CDT > 0) ? (CDT + POP_K - 1) / POP_K : 1;
    localparam integer PSR = CTS - 1;                           // popcount pipeline registers
    // cycles from a fold's last input beat to its output beat (queue empty, m_axis_tready high)
    localparam integer LATENCY = (USE_THRESHOLDS != 0) ? 5 + TS + PSR : 4 + TS;
    // output queue: every result in flight has a reserved slot, so full throughput (a result per
    // cycle when SF = 1) needs QD > LATENCY; QD = the power of two >= LATENCY + 2
    localparam integer QAW = clog2(LATENCY + 2);
    localparam integer QD = 1 << QAW;
    localparam integer QCW = QAW + 1;
    localparam [QCW-1:0] QFULL = QD[QCW-1:0];

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
        if (TREE_LEVELS_PER_STAGE < 0) begin : g_bad_tree_levels
            $fatal(1, "dqhw_mvau: TREE_LEVELS_PER_STAGE=%0d, must be >= 1 (or 0: derived)", TREE_LEVELS_PER_STAGE);
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

    // control pipeline, one bit per stage: stage 0 = ROM read register, 1 = ROM output register,
    // 2 .. ROOT = adder-tree registers (ROOT: the dot products); only the valid bits are reset
    reg  [ROOT:0]         pv;       // a MAC step is in this stage
    reg  [ROOT:0]         pfirst;   // ... and it is the first step of its fold
    reg  [ROOT:0]         plast;    // ... the last step of its fold
    reg  [(ROOT+1)*NFW-1:0] pnf;    // ... of neuron fold pnf[j*NFW +: NFW]

    always @(posedge clk) begin
        if (!rst_n) pv <= {(ROOT+1){1'b0}};
        else pv <= {pv[ROOT-1:0], fire};
        pfirst <= {pfirst[ROOT-1:0], sf_first};
        plast <= {plast[ROOT-1:0], sf_last};
        pnf <= {pnf[ROOT*NFW-1:0], nf};
    end

    wire [IN_LW-1:0] in_payload = s_axis_tdata[IN_LW-1:0];
    reg  [IN_LW-1:0] in_q;      // stream beat (neuron fold 0), stage 0
    reg  [WW-1:0]    w_rd;      // weight ROM read register (BRAM: the read port), stage 0
    reg  [WW-1:0]    w_q;       // weight ROM output register (BRAM: DOB_REG), stage 1
    reg  [IN_LW-1:0] x_q;       // input vector slice aligned with w_q, stage 1

    always @(posedge clk) begin
        if (fire) in_q <= in_payload;
        w_q <= w_rd;
    end

    generate
        if (WEIGHT_ROM_BLOCK != 0) begin : g_wrom_block
            (* rom_style = "block" *) reg [WW-1:0] wrom [0:WMEM-1];
            initial $readmemh(WEIGHT_FILE, wrom);
            always @(posedge clk) begin
                if (fire) w_rd <= wrom[waddr];
            end
        end else begin : g_wrom_auto
            reg [WW-1:0] wrom [0:WMEM-1];
            initial $readmemh(WEIGHT_FILE, wrom);
            always @(posedge clk) begin
                if (fire) w_rd <= wrom[waddr];
            end
        end
    endgenerate

    // input vector buffer: written during neuron fold 0, read during the others
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
                x_q <= use_buf ? ibuf_q : in_q;
            end
        end else begin : g_no_ibuf
            always @(posedge clk) x_q <= in_q;
        end
        if (IN_DW > IN_LW) begin : g_in_pad
            wire unused_in_pad = ^s_axis_tdata[IN_DW-1:IN_LW];  // byte padding carries no data
        end
    endgenerate

    // ---------------------------------------------------------------------------------------------
    // stages 2 .. ROOT: per PE one adder tree over the SIMD*M partial products (M per lane), with a
    // register every TREE_LEVELS_PER_STAGE levels; ROOT+1: accumulate
    // ---------------------------------------------------------------------------------------------
    reg  [PE*ACC_BITS-1:0] acc;     // accumulators, PE lanes
    reg                    v_acc;   // acc holds a finished fold (its last step was added)
    wire                   v_root = pv[ROOT];
    wire                   first_root = pfirst[ROOT];
    wire                   last_root = plast[ROOT];

    always @(posedge clk) begin
        if (!rst_n) v_acc <= 1'b0;
        else v_acc <= v_root && last_root;
    end

    genvar p, s, n, k;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            // partial products, leaf l = lane l / MP2, term l % MP2 (LFW bits each, two's complement)
            wire [NL*LFW-1:0] leaves;
            for (s = 0; s < P2; s = s + 1) begin : g_lane
                if (s < SIMD) begin : g_mac
                    wire [IN_BITS-1:0] xs = x_q[s*IN_BITS +: IN_BITS];
                    wire [W_BITS-1:0]  ws = w_q[(p*SIMD+s)*W_BITS +: W_BITS];
                    for (k = 0; k < MP2; k = k + 1) begin : g_term
                        // term k of the lane: shift-and-add order 0, M-1 (the negative one, if any,
                        // so that it is subtracted at the first tree level), 1, 2, .., M-2
                        localparam integer B = (k == 0) ? 0 : (k == 1) ? M - 1 : k - 1;
                        wire [PW-1:0] pp;
                        if (k >= M) begin : g_none
                            assign pp = {PW{1'b0}};
                        end else if (XNOR != 0) begin : g_xnor
                            // XNOR-popcount lane: 1 when input bit and weight bit agree
                            assign pp = {{(PW-1){1'b0}}, ~(xs[0] ^ ws[0])};
                        end else if (IN_BITS == 1) begin : g_binary_in
                            // input bit x (0 or 1) times the weight (bipolar: -1 or +1)
                            if (W_BITS == 1) begin : g_bip
                                assign pp = {xs[0] & ~ws[0], xs[0]};
                            end else begin : g_int
                                assign pp = xs[0] ? {{(PW-W_BITS){ws[W_BITS-1]}}, ws} : {PW{1'b0}};
                            end
                        end else if (TABLE != 0) begin : g_table
                            // at most 6 input bits: one LUT per product bit (no `*`, no DSP)
                            wire [TAB_BITS-1:0] idx = {ws, xs};
                            assign pp = PROD[idx*PW +: PW];
                        end else if (W_BITS == 1) begin : g_bipolar
                            // bipolar weight: +x (weight bit 1) or -x (bit 0), a tree level of its own
                            wire          xsign = (IN_SIGNED != 0) ? xs[IN_BITS-1] : 1'b0;
                            wire [PW-1:0] xe = {xsign, xs};
                            assign pp = ws[0] ? xe : -xe;
                        end else if (W_BITS < IN_BITS) begin : g_shift_w
                            // shift-and-add over the weight bits (two's complement: the MSB term
                            // weighs -2^(W_BITS-1), it is term 1 and subtracted); no `*`, so no tool
                            // maps it to a DSP multiplier
                            wire          xsign = (IN_SIGNED != 0) ? xs[IN_BITS-1] : 1'b0;
                            wire [PW-1:0] xe = {{(PW-IN_BITS){xsign}}, xs};
                            assign pp = ws[B] ? (xe << B) : {PW{1'b0}};
                        end else begin : g_shift_x
                            // shift-and-add over the input bits; a signed input's MSB term is subtracted
                            wire [PW-1:0] we = {{(PW-W_BITS){ws[W_BITS-1]}}, ws};
                            assign pp = xs[B] ? (we << B) : {PW{1'b0}};
                        end
                        if (LFW < PW) begin : g_trunc
                            wire unused_pp_msbs = ^pp[PW-1:LFW];  // modulo 2^ACC_BITS arithmetic
                        end
                        assign leaves[(s*MP2+k)*LFW +: LFW] = pp[LFW-1:0];
                    end
                end else begin : g_zero
                    assign leaves[s*MP2*LFW +: MP2*LFW] = {(MP2*LFW){1'b0}};
                end
            end

            // heap-ordered tree: node n = node 2n+1 +/- node 2n+2, leaves NL-1 .. 2*NL-2; each node is
            // stored sign-extended to TW bits, its value needs tree_w(height) of them
            wire [TW-1:0] node [0:2*NL-2];
            for (n = 0; n < 2 * NL - 1; n = n + 1) begin : g_node
                localparam integer H = D - flog2(n + 1);       // adder levels below this node
                localparam integer WN = tree_w(H, PL, PW, TW);
                wire [WN-1:0] val;
                wire [WN-1:0] out;
                if (n >= NL - 1) begin : g_leaf
                    assign val = leaves[(n-(NL-1))*LFW +: LFW];
                end else begin : g_add
                    wire [WN-1:0] a = node[2*n+1][WN-1:0];
                    wire [WN-1:0] b = node[2*n+2][WN-1:0];
                    // lane term 1 (the right child of the lane's first first-level node) is
                    // subtracted when negative
                    if (H == 1 && NEG != 0 && PL > 0 && (2 * n + 2 - (NL - 1)) % MP2 == 1) begin : g_sub
                        assign val = a - b;
                    end else begin : g_sum
                        assign val = a + b;
                    end
                end
                if (n == 0 || is_boundary(H, D, TS) != 0) begin : g_reg
                    reg [WN-1:0] r;
                    always @(posedge clk) r <= val;
                    assign out = r;
                end else begin : g_comb
                    assign out = val;
                end
                if (WN < TW) begin : g_sext
                    assign node[n] = {{(TW-WN){out[WN-1]}}, out};
                end else begin : g_full
                    assign node[n] = out;
                end
            end

            wire [ACC_BITS-1:0] dot_ext;
            if (ACC_BITS > TW) begin : g_dot_sext
                assign dot_ext = {{(ACC_BITS-TW){node[0][TW-1]}}, node[0]};
            end else begin : g_dot_same
                assign dot_ext = node[0];
            end
            always @(posedge clk) begin
                if (v_root) acc[p*ACC_BITS +: ACC_BITS] <= (first_root ? {ACC_BITS{1'b0}} : acc[p*ACC_BITS +: ACC_BITS]) + dot_ext;
            end
        end
    endgenerate

    // ---------------------------------------------------------------------------------------------
    // thresholds: compare, then the popcount of the comparisons (+ ACT_VAL) in a tree with a
    // register every POP_LEVELS levels; or the raw accumulators; then into the output queue
    // ---------------------------------------------------------------------------------------------
    wire [OUT_LW-1:0] result;   // output beat payload, written into the queue when v_out
    wire              v_out;

    generate
        if (USE_THRESHOLDS != 0) begin : g_thr
            reg [TWORD-1:0] t_q;        // thresholds of the fold in acc
            reg [PE*NT-1:0] cmp_q;      // T[o, t] <= acc[o], registered
            reg [PSR:0]     pop_v;      // valid bits: cmp_q, then the popcount registers
            if (THRESH_ROM_BLOCK != 0) begin : g_trom_block
                // read port register (read one stage early) + output register (BRAM DOB_REG)
                (* rom_style = "block" *) reg [TWORD-1:0] trom [0:NF-1];
                reg [TWORD-1:0] t_rd;
                initial $readmemh(THRESH_FILE, trom);
                always @(posedge clk) begin
                    if (pv[ROOT-1] && plast[ROOT-1]) t_rd <= trom[pnf[(ROOT-1)*NFW +: NFW]];
                    if (v_root && last_root) t_q <= t_rd;
                end
                wire [NFW-1:0] unused_nf = pnf[ROOT*NFW +: NFW];
            end else begin : g_trom_auto
                reg [TWORD-1:0] trom [0:NF-1];
                initial $readmemh(THRESH_FILE, trom);
                always @(posedge clk) begin
                    if (v_root && last_root) t_q <= trom[pnf[ROOT*NFW +: NFW]];
                end
            end
            if (PSR > 0) begin : g_pop_pipe
                always @(posedge clk) begin
                    if (!rst_n) pop_v <= {(PSR+1){1'b0}};
                    else pop_v <= {pop_v[PSR-1:0], v_acc};
                end
            end else begin : g_pop_one
                always @(posedge clk) begin
                    if (!rst_n) pop_v <= 1'b0;
                    else pop_v <= v_acc;
                end
            end
            assign v_out = pop_v[PSR];
            for (p = 0; p < PE; p = p + 1) begin : g_pe_thr
                wire signed [ACC_BITS-1:0] a = acc[p*ACC_BITS +: ACC_BITS];
                for (n = 0; n < NT; n = n + 1) begin : g_cmp
                    wire signed [ACC_BITS-1:0] t = t_q[(p*NT+n)*ACC_BITS +: ACC_BITS];
                    always @(posedge clk) cmp_q[p*NT+n] <= (t <= a);
                end
                // out = ACT_VAL + number of thresholds passed (order-independent popcount), modulo
                // 2^OUT_BITS: heap-ordered tree over the NT comparisons (leaves CL-1 .. 2*CL-2)
                wire [OUT_BITS-1:0] cnode [0:2*CL-2];
                for (n = 0; n < 2 * CL - 1; n = n + 1) begin : g_cnode
                    localparam integer H = CD - flog2(n + 1);
                    localparam integer WN = (H + 1 < OUT_BITS) ? H + 1 : OUT_BITS;
                    wire [WN-1:0] val;
                    wire [WN-1:0] out;
                    if (H == 0) begin : g_leaf
                        if (n - (CL - 1) < NT) begin : g_bit
                            assign val = cmp_q[p*NT+n-(CL-1)];
                        end else begin : g_pad
                            assign val = 1'b0;
                        end
                    end else begin : g_add
                        wire [WN-1:0] a2 = cnode[2*n+1][WN-1:0];
                        wire [WN-1:0] b2 = cnode[2*n+2][WN-1:0];
                        assign val = a2 + b2;
                    end
                    if (H > 0 && H < CDT && is_boundary(H, CDT, CTS) != 0) begin : g_reg
                        reg [WN-1:0] r;
                        always @(posedge clk) r <= val;
                        assign out = r;
                    end else begin : g_comb
                        assign out = val;
                    end
                    if (WN < OUT_BITS) begin : g_zext
                        assign cnode[n] = {{(OUT_BITS-WN){1'b0}}, out};
                    end else begin : g_full
                        assign cnode[n] = out;
                    end
                end
                if (AV_NZ != 0) begin : g_offset
                    assign result[p*OUT_BITS +: OUT_BITS] = cnode[0] + AV;
                end else begin : g_no_offset
                    assign result[p*OUT_BITS +: OUT_BITS] = cnode[0];
                end
            end
        end else begin : g_raw
            wire [NFW-1:0] unused_nf = pnf[ROOT*NFW +: NFW];  // only addresses the threshold ROM
            assign v_out = v_acc;
            assign result = acc;
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
        if (v_out) q[qw] <= result;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            qw <= {QAW{1'b0}};
            qr <= {QAW{1'b0}};
            qcount <= {QCW{1'b0}};
        end else begin
            if (v_out) qw <= qw + 1'b1;
            if (pop) qr <= qr + 1'b1;
            qcount <= qcount + {{(QCW-1){1'b0}}, v_out} - {{(QCW-1){1'b0}}, pop};
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
