// Formal properties of dqhw_fifo (SymbiYosys: dqhw_fifo.sby). The wrapper instantiates the unit
// unchanged and reads its internal state through hierarchical references (yosys-slang flattens).
//
// Inputs (assumed): a legal AXI-Stream source (faxis_slave), any m_axis_tready, reset in the first
// cycle and at any later time.
// Asserted:
//   - both streams follow the AXI-Stream rules (faxis_master on the output);
//   - occupancy: count = beats in - beats out, never above DEPTH; peak >= count, peak <= DEPTH;
//   - readiness: LUT-RAM style s_axis_tready = (count != DEPTH), m_axis_tvalid = (count != 0);
//     block-RAM style: ready only below DEPTH and always below DEPTH - 1, valid only when count != 0
//     and one cycle after a beat is held at the latest;
//   - data: beat number f_idx (any, chosen by the solver) leaves as beat number f_idx with the data
//     it came in with (so no beat is lost, duplicated or reordered), plus the invariants that make
//     this inductive (pointer distance, the tracked word in the memory / output register).
// Covers: a full FIFO, a stalled output, the tracked beat leaving, peak = DEPTH, full then empty.

`default_nettype none

module dqhw_fifo_props #(
    parameter integer WIDTH = 4,
    parameter integer DEPTH = 4,
    parameter integer BRAM_MIN_DEPTH = 256
) (
    input wire             clk,
    input wire             rst_n,
    input wire [WIDTH-1:0] s_axis_tdata,
    input wire             s_axis_tvalid,
    input wire             m_axis_tready
);
    localparam integer CW = $clog2(DEPTH + 1);
    localparam integer F_CW = CW + 2;
    localparam [0:0] BRAM = (DEPTH >= BRAM_MIN_DEPTH) && (DEPTH >= 3);  // as in dqhw_fifo
    localparam integer MD = BRAM ? DEPTH - 1 : DEPTH;
    localparam integer AW = (MD > 1) ? $clog2(MD) : 1;

    wire             s_axis_tready;
    wire [WIDTH-1:0] m_axis_tdata;
    wire             m_axis_tvalid;
    wire [CW-1:0]    count;
    wire [CW-1:0]    peak;

    dqhw_fifo #(.WIDTH(WIDTH), .DEPTH(DEPTH), .BRAM_MIN_DEPTH(BRAM_MIN_DEPTH)) dut (
        .clk(clk), .rst_n(rst_n),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
        .count(count), .peak(peak)
    );

    reg f_past_valid = 1'b0;
    always @(posedge clk) f_past_valid <= 1'b1;
    always @(*) if (!f_past_valid) assume(!rst_n);

    wire [F_CW-1:0] f_in;
    wire [F_CW-1:0] f_out;
    faxis_slave #(.W(WIDTH), .F_CW(F_CW)) f_slave (
        .clk(clk), .rst_n(rst_n), .tdata(s_axis_tdata), .tvalid(s_axis_tvalid),
        .tready(s_axis_tready), .f_count(f_in));
    faxis_master #(.W(WIDTH), .F_CW(F_CW)) f_master (
        .clk(clk), .rst_n(rst_n), .tdata(m_axis_tdata), .tvalid(m_axis_tvalid),
        .tready(m_axis_tready), .f_count(f_out));

    wire [F_CW-1:0] f_held = f_in - f_out;
    wire [F_CW-1:0] f_count_ext = {{(F_CW-CW){1'b0}}, count};
    wire [F_CW-1:0] f_mem_cnt = {{(F_CW-CW){1'b0}}, dut.mem_cnt};
    wire            f_out_v;    // the block-RAM style's output register holds a beat
    generate
        if (BRAM) begin : g_bram_v
            assign f_out_v = dut.g_bram.out_v;
        end else begin : g_lut_v
            assign f_out_v = 1'b0;
        end
    endgenerate

    // ---------------------------------------------------------------------------------------------
    // occupancy and readiness
    // ---------------------------------------------------------------------------------------------
    always @(*) begin
        if (f_past_valid) begin
            assert(f_count_ext == f_held);
            assert(count <= DEPTH);
            assert(peak >= count);
            assert(peak <= DEPTH);
            assert(f_mem_cnt + f_out_v == f_held);
            assert(dut.wptr < MD && dut.rptr < MD);
            // pointer distance: wptr = rptr + mem_cnt modulo MD
            assert({{(F_CW-AW){1'b0}}, dut.wptr} == ((dut.rptr + f_mem_cnt >= MD)
                ? dut.rptr + f_mem_cnt - MD : dut.rptr + f_mem_cnt));
            if (!BRAM) begin
                assert(s_axis_tready == (count != DEPTH));
                assert(m_axis_tvalid == (count != 0));
            end else begin
                if (s_axis_tready) assert(count < DEPTH);
                if (count + 1 < DEPTH) assert(s_axis_tready);
                if (m_axis_tvalid) assert(count != 0);
            end
        end
    end

    // block-RAM style: a held beat is on the output one cycle later at the latest
    reg f_was_hidden = 1'b0;    // last cycle: running, a beat held and TVALID low
    always @(posedge clk) f_was_hidden <= f_past_valid && rst_n && count != 0 && !m_axis_tvalid;
    always @(*) if (f_was_hidden) assert(m_axis_tvalid);

    // ---------------------------------------------------------------------------------------------
    // data: beat f_idx (any) leaves as beat f_idx carrying f_data (any) -- in order, none lost
    // ---------------------------------------------------------------------------------------------
    reg [F_CW-1:0]  f_idx;      // anyconst
    reg [WIDTH-1:0] f_data;     // anyconst
    always @(posedge clk) begin
        f_idx <= f_idx;
        f_data <= f_data;
    end
    always @(*) begin
        if (s_axis_tvalid && s_axis_tready && f_in == f_idx) assume(s_axis_tdata == f_data);
    end

    wire [F_CW-1:0] f_pos = f_idx - f_out;          // places before the tracked beat
    wire            f_held_idx = f_pos < f_held;    // the tracked beat is inside the FIFO
    // memory place of the tracked beat: rptr + (pos - out_v) modulo MD
    wire [F_CW-1:0] f_mpos = f_pos - f_out_v;
    wire [F_CW:0]   f_msum = dut.rptr + f_mpos;
    wire [F_CW:0]   f_maddr = (f_msum >= MD) ? f_msum - MD : f_msum;

    wire [WIDTH-1:0] f_mem_word;    // the memory word at the tracked beat's place
    generate
        if (BRAM) begin : g_bram_mem
            assign f_mem_word = dut.g_bram.mem[f_maddr[AW-1:0]];
        end else begin : g_lut_mem
            assign f_mem_word = dut.g_lutram.mem[f_maddr[AW-1:0]];
        end
    endgenerate

    always @(*) begin
        if (f_past_valid && f_held_idx) begin
            if (m_axis_tvalid && f_pos == 0) assert(m_axis_tdata == f_data);
            if (f_out_v && f_pos == 0) begin
                assert(m_axis_tdata == f_data);
            end else begin
                assert(f_maddr < MD);
                assert(f_mem_word == f_data);
            end
        end
    end

    // ---------------------------------------------------------------------------------------------
    // covers
    // ---------------------------------------------------------------------------------------------
    reg f_was_full = 1'b0;
    always @(posedge clk) begin
        if (!rst_n) f_was_full <= 1'b0;
        else if (count == DEPTH) f_was_full <= 1'b1;
    end
    always @(*) begin
        if (f_past_valid && rst_n) begin
            cover(count == DEPTH);
            cover(m_axis_tvalid && !m_axis_tready && s_axis_tvalid && !s_axis_tready);
            cover(m_axis_tvalid && m_axis_tready && f_held_idx && f_pos == 0 && f_idx == DEPTH);
            cover(peak == DEPTH && count == 0);
            cover(f_was_full && count == 0 && f_out == DEPTH + 1);
        end
    end
endmodule

`default_nettype wire
