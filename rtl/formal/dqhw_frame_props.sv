// Formal properties of dqhw_frame (SymbiYosys: dqhw_frame.sby), the framing layer of the host link.
//
// Inputs (assumed): legal AXI-Stream sources on s_byte (any bytes: good, damaged or junk frames)
// and s_axis (any accelerator results), any m_byte_tready / m_axis_tready, reset in the first cycle.
// Asserted:
//   - all four streams follow the AXI-Stream rules (faxis.sv);
//   - frame step: bytes given to the accelerator = FRAME_BYTES * (frames closed, less the one being
//     padded) + the open frame's bytes, never more than FRAME_BYTES of a frame; the m_axis beats
//     carry them IN_BYTES at a time (beats out + waiting beat + bytes being assembled);
//   - responses: frames closed = responses sent + frames queued (never more than 2^QW), every
//     response takes exactly OUT_BEATS s_axis beats, and a 0x7E on m_byte is only ever a response's
//     first or last byte (so the host can always find the next response);
//   - detection, against a reference decoder of the s_byte stream written here: a frame closes with
//     STATUS 0 exactly when it held FRAME_BYTES + 3 bytes after unstuffing, LEN was FRAME_BYTES and
//     the stuffing was good; the queued SEQ is the frame's first byte.
// Covers: a whole response sent, a damaged frame reported.

`default_nettype none

module dqhw_frame_props #(
    parameter integer IN_BYTES = 1,
    parameter integer FRAME_BYTES = 2,
    parameter integer OUT_BYTES = 1,
    parameter integer OUT_BEATS = 1,
    parameter integer QW = 1
) (
    input wire                   clk,
    input wire                   rst_n,
    input wire [7:0]             s_byte_tdata,
    input wire                   s_byte_tvalid,
    input wire                   m_byte_tready,
    input wire                   m_axis_tready,
    input wire [8*OUT_BYTES-1:0] s_axis_tdata,
    input wire                   s_axis_tvalid
);
    localparam integer F_CW = 8;

    wire                   s_byte_tready;
    wire [7:0]             m_byte_tdata;
    wire                   m_byte_tvalid;
    wire [8*IN_BYTES-1:0]  m_axis_tdata;
    wire                   m_axis_tvalid;
    wire                   s_axis_tready;
    wire                   bad_frame;

    dqhw_frame #(.IN_BYTES(IN_BYTES), .FRAME_BYTES(FRAME_BYTES), .OUT_BYTES(OUT_BYTES), .OUT_BEATS(OUT_BEATS),
                 .QW(QW)) dut (
        .clk(clk), .rst_n(rst_n),
        .s_byte_tdata(s_byte_tdata), .s_byte_tvalid(s_byte_tvalid), .s_byte_tready(s_byte_tready),
        .m_byte_tdata(m_byte_tdata), .m_byte_tvalid(m_byte_tvalid), .m_byte_tready(m_byte_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .bad_frame(bad_frame)
    );

    reg f_past_valid = 1'b0;
    always @(posedge clk) f_past_valid <= 1'b1;
    always @(*) if (!f_past_valid) assume(!rst_n);

    wire [F_CW-1:0] f_bytes_in;
    wire [F_CW-1:0] f_bytes_out;
    wire [F_CW-1:0] f_beats_out;
    wire [F_CW-1:0] f_results_in;
    faxis_slave #(.W(8), .F_CW(F_CW)) f_sb (
        .clk(clk), .rst_n(rst_n), .tdata(s_byte_tdata), .tvalid(s_byte_tvalid), .tready(s_byte_tready),
        .f_count(f_bytes_in));
    faxis_master #(.W(8), .F_CW(F_CW)) f_mb (
        .clk(clk), .rst_n(rst_n), .tdata(m_byte_tdata), .tvalid(m_byte_tvalid), .tready(m_byte_tready),
        .f_count(f_bytes_out));
    faxis_master #(.W(8 * IN_BYTES), .F_CW(F_CW)) f_ma (
        .clk(clk), .rst_n(rst_n), .tdata(m_axis_tdata), .tvalid(m_axis_tvalid), .tready(m_axis_tready),
        .f_count(f_beats_out));
    faxis_slave #(.W(8 * OUT_BYTES), .F_CW(F_CW)) f_sa (
        .clk(clk), .rst_n(rst_n), .tdata(s_axis_tdata), .tvalid(s_axis_tvalid), .tready(s_axis_tready),
        .f_count(f_results_in));

    // ---------------------------------------------------------------------------------------------
    // reference decoder of the s_byte stream (independent of the DUT's receiver)
    // ---------------------------------------------------------------------------------------------
    wire f_take = s_byte_tvalid && s_byte_tready;
    reg f_esc, f_bad;
    reg [F_CW-1:0] f_n;       // unstuffed bytes of the open frame (saturating)
    reg [7:0] f_seq;
    reg [15:0] f_len;
    always @(posedge clk) begin
        if (!rst_n) begin
            f_esc <= 1'b0;
            f_bad <= 1'b0;
            f_n <= 0;
            f_seq <= 8'd0;
            f_len <= 16'd0;
        end else if (f_take) begin
            if (s_byte_tdata == 8'h7E) begin
                f_esc <= 1'b0;
                f_bad <= 1'b0;
                f_n <= 0;
                f_seq <= 8'd0;
                f_len <= 16'd0;
            end else if (s_byte_tdata == 8'h7D) begin
                f_bad <= f_bad || f_esc;
                f_esc <= 1'b1;
            end else begin
                f_esc <= 1'b0;
                if (f_esc && s_byte_tdata != 8'h5E && s_byte_tdata != 8'h5D) f_bad <= 1'b1;
                if (f_n != {F_CW{1'b1}}) f_n <= f_n + 1'b1;
                if (f_n == 0) f_seq <= f_esc ? s_byte_tdata ^ 8'h20 : s_byte_tdata;
                if (f_n == 1) f_len[7:0] <= f_esc ? s_byte_tdata ^ 8'h20 : s_byte_tdata;
                if (f_n == 2) f_len[15:8] <= f_esc ? s_byte_tdata ^ 8'h20 : s_byte_tdata;
            end
        end
    end
    wire f_close = f_take && s_byte_tdata == 8'h7E && (f_n != 0 || f_esc || f_bad);
    wire f_good = (f_n == FRAME_BYTES + 3) && (f_len == FRAME_BYTES) && !f_bad && !f_esc;

    // ---------------------------------------------------------------------------------------------
    // accounting
    // ---------------------------------------------------------------------------------------------
    reg [F_CW-1:0] f_closed;   // frames closed
    reg [F_CW-1:0] f_pushed;   // bytes given to the accelerator
    reg [F_CW-1:0] f_resp;     // responses finished (closing 0x7E sent)
    wire f_push = dut.push;
    wire f_resp_end = m_byte_tvalid && m_byte_tready && dut.t_state == 3'd7;
    always @(posedge clk) begin
        if (!rst_n) begin
            f_closed <= 0;
            f_pushed <= 0;
            f_resp <= 0;
        end else begin
            if (f_close) f_closed <= f_closed + 1'b1;
            if (f_push) f_pushed <= f_pushed + 1'b1;
            if (f_resp_end) f_resp <= f_resp + 1'b1;
        end
    end
    wire [F_CW-1:0] f_full_frames = f_closed - {{F_CW-1{1'b0}}, dut.r_pad};
    wire [QW:0] f_q_diff = dut.q_wr - dut.q_rd;  // queue pointers count modulo 2^(QW+1)
    wire [F_CW-1:0] f_q_used = {{F_CW-QW-1{1'b0}}, f_q_diff};
    // the counts as the accounting expects them, modulo 2^F_CW like the counters
    wire [F_CW-1:0] f_want_pushed = FRAME_BYTES * f_full_frames + dut.r_fwd;
    wire [F_CW-1:0] f_want_beats = IN_BYTES * (f_beats_out + dut.out_valid) + dut.asm_count;
    // s_axis beats of the response being sent
    wire [F_CW-1:0] f_cur_beats = (dut.t_state == 3'd6) ? dut.t_beats + dut.t_have :
                                  (dut.t_state == 3'd7) ? OUT_BEATS : 0;
    wire [F_CW-1:0] f_want_results = OUT_BEATS * f_resp + f_cur_beats;

    always @(*) begin
        if (f_past_valid && rst_n) begin
            // frame step
            assert(dut.r_fwd <= FRAME_BYTES);
            if (dut.r_pad) assert(dut.r_fwd < FRAME_BYTES && dut.r_cnt == 0 && !dut.r_esc);
            assert(f_pushed == f_want_pushed);
            assert(dut.asm_count == dut.r_fwd % IN_BYTES);
            assert(f_pushed == f_want_beats);
            // responses
            assert(f_q_used <= (1 << QW));
            assert(f_closed == f_resp + f_q_used);
            assert(f_results_in == f_want_results);
            if (dut.t_state == 3'd0) assert(!dut.t_have && !dut.t_esc);
            if (dut.t_esc) assert(dut.t_stuff && dut.t_emit);
            if (dut.t_state != 3'd6) assert(!dut.t_have);
            if (dut.t_state == 3'd6) assert(dut.t_beats < OUT_BEATS);
            if (dut.t_state != 3'd0) assert(f_q_used != 0);
            if (m_byte_tvalid && m_byte_tdata == 8'h7E) assert(dut.t_state == 3'd1 || dut.t_state == 3'd7);
            // the receiver against the reference decoder
            assert(dut.r_esc == f_esc && dut.r_bad_esc == f_bad && dut.r_seq == f_seq);
            assert(dut.r_cnt == (f_n > FRAME_BYTES + 4 ? FRAME_BYTES + 4 : f_n));
            assert(dut.r_len == f_len);
            if (dut.r_pad) assert(f_n == 0 && !f_esc && !f_bad);
            if (f_close) assert(dut.closing && ((dut.status == 3'd0) == f_good));
            if (dut.closing) assert(f_close);
        end
    end

    // covers
    always @(*) begin
        if (f_past_valid && rst_n) begin
            cover(f_resp == 1 && f_closed == 1);
            cover(bad_frame);
        end
    end
endmodule

`default_nettype wire
