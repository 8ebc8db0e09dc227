`default_nettype none

// dqhw_frame: the framing layer of dqhw's host link (docs/board.md, "Host link protocol"), between
// the byte streams of a UART bridge (dqhw_uart_axis with 1-byte beats) and the accelerator's streams.
// No vendor IP.
//
// Framing is HDLC-like byte stuffing (RFC 1662): 0x7E is the sync byte and appears nowhere else; a
// 0x7E or 0x7D inside a frame is sent as 0x7D followed by the byte XOR 0x20. A frame is everything
// between two sync bytes (empty frames are ignored, so frames may share a sync byte):
//   host -> board   7E | SEQ | LEN[7:0] | LEN[15:8] | LEN payload bytes | 7E
//   board -> host   7E | SEQ | STATUS | RLEN[7:0] | RLEN[15:8] | RLEN result bytes | 7E
// (all but the sync bytes stuffed). Because the sync byte is unique, a lost or extra byte can only
// change the count of bytes between two sync bytes (or the header): every frame is checked at its
// closing sync byte and the receiver is in step again from that byte on.
//
// Every non-empty frame gives the accelerator exactly FRAME_BYTES bytes (IN_BYTES per m_axis beat,
// first byte in bits 7:0): the payload as it arrives, cut at FRAME_BYTES, and zeros for whatever
// is missing when the frame closes short. So the accelerator never leaves frame step, and every
// frame gets exactly one response, in order. STATUS 0: the frame was whole, the response carries
// the accelerator's OUT_BEATS beats of OUT_BYTES bytes (RLEN = OUT_BEATS*OUT_BYTES, each beat
// bits 7:0 first). Otherwise the accelerator's result is consumed and dropped, RLEN = 0 and
//   STATUS bit 0  LEN field is not FRAME_BYTES, or the frame ended inside the header
//          bit 1  bytes between the sync bytes are not 3 + LEN (a lost or an extra byte)
//          bit 2  bad stuffing (0x7D not followed by 0x5E / 0x5D)
//
// Parameters
//   IN_BYTES     bytes per m_axis beat (>= 1)
//   FRAME_BYTES  payload bytes per frame, a multiple of IN_BYTES (>= 1, < 65536)
//   OUT_BYTES    bytes per s_axis beat (>= 1)
//   OUT_BEATS    s_axis beats per frame (>= 1)
//   QW           log2 of the status queue depth: frames closed whose response is not yet sent
//                (>= 1); a closing sync byte waits while the queue is full
// `bad_frame` pulses for a cycle when a frame with a non-zero STATUS closes.
module dqhw_frame #(
    parameter integer IN_BYTES = 1,
    parameter integer FRAME_BYTES = 4,
    parameter integer OUT_BYTES = 1,
    parameter integer OUT_BEATS = 1,
    parameter integer QW = 2
) (
    input  wire                     clk,
    input  wire                     rst_n,

    input  wire [7:0]               s_byte_tdata,
    input  wire                     s_byte_tvalid,
    output wire                     s_byte_tready,

    output wire [7:0]               m_byte_tdata,
    output wire                     m_byte_tvalid,
    input  wire                     m_byte_tready,

    output wire [8*IN_BYTES-1:0]    m_axis_tdata,
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready,

    input  wire [8*OUT_BYTES-1:0]   s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,

    output reg                      bad_frame
);
    localparam [7:0] SYNC = 8'h7E;
    localparam [7:0] ESC = 8'h7D;
    localparam integer RESP_BYTES = OUT_BYTES * OUT_BEATS;
    // decoded bytes of a frame, saturating just above a whole frame (3 + FRAME_BYTES)
    localparam integer CNT_MAX_I = FRAME_BYTES + 4;
    localparam integer CW = $clog2(CNT_MAX_I + 1);
    localparam integer FW = $clog2(FRAME_BYTES + 1);
    localparam integer IW = (IN_BYTES > 1) ? $clog2(IN_BYTES) : 1;
    localparam integer OW = (OUT_BYTES > 1) ? $clog2(OUT_BYTES) : 1;
    localparam integer BW = (OUT_BEATS > 1) ? $clog2(OUT_BEATS) : 1;
    localparam [CW-1:0] CNT_MAX = CNT_MAX_I[CW-1:0];
    localparam integer CNT_OK_I = FRAME_BYTES + 3;
    localparam [CW-1:0] CNT_OK = CNT_OK_I[CW-1:0];
    localparam [FW-1:0] FRAME = FRAME_BYTES[FW-1:0];
    localparam [15:0] FRAME_LEN = FRAME_BYTES[15:0];
    localparam [15:0] RLEN = RESP_BYTES[15:0];
    localparam integer ILAST_I = IN_BYTES - 1;
    localparam integer OLAST_I = OUT_BYTES - 1;
    localparam integer BLAST_I = OUT_BEATS - 1;
    localparam [IW-1:0] ILAST = ILAST_I[IW-1:0];
    localparam [OW-1:0] OLAST = OLAST_I[OW-1:0];
    localparam [BW-1:0] BLAST = BLAST_I[BW-1:0];

`ifndef SYNTHESIS
    generate
        if (IN_BYTES < 1 || OUT_BYTES < 1 || OUT_BEATS < 1 || QW < 1 || FRAME_BYTES < 1
                || FRAME_BYTES > 65535 || FRAME_BYTES % IN_BYTES != 0 || RESP_BYTES > 65535) begin : g_bad_params
            $fatal(1, "dqhw_frame: FRAME_BYTES must be a multiple of IN_BYTES in 1..65535, other sizes >= 1");
        end
    endgenerate
`endif

    // ---------------------------------------------------------------- status queue
    // one entry per closed frame: {STATUS[2:0], SEQ}
    reg [10:0] q_mem [0:(1<<QW)-1];
    reg [QW:0] q_wr;
    reg [QW:0] q_rd;
    wire q_empty = (q_wr == q_rd);
    wire q_full = (q_wr[QW-1:0] == q_rd[QW-1:0]) && (q_wr[QW] != q_rd[QW]);
    wire [10:0] q_head = q_mem[q_rd[QW-1:0]];

    // ---------------------------------------------------------------- receive
    reg r_esc;           // the last byte was 0x7D
    reg r_bad_esc;
    reg [CW-1:0] r_cnt;  // decoded bytes in the frame so far (saturating at CNT_MAX)
    reg [7:0] r_seq;
    reg [15:0] r_len;
    reg [FW-1:0] r_fwd;  // bytes given to the accelerator in this frame
    reg r_pad;           // filling the frame with zeros after it closed short

    // bytes -> beats: the beat's bytes so far wait in a shift register (the first one ends up in
    // bits 7:0); the byte that completes a beat goes straight into the output register
    reg [IW-1:0] asm_count;
    reg [8*IN_BYTES-1:0] out_data;
    reg out_valid;
    wire room = !out_valid || m_axis_tready;  // a byte may complete a beat this cycle

    assign s_byte_tready = rst_n && !r_pad && room && !q_full;
    wire take = s_byte_tvalid && s_byte_tready;
    wire is_sync = (s_byte_tdata == SYNC);
    wire is_esc = (s_byte_tdata == ESC);
    wire [7:0] value = r_esc ? (s_byte_tdata ^ 8'h20) : s_byte_tdata;
    wire value_bad = r_esc && (value != SYNC) && (value != ESC);
    wire data_in = take && !is_sync && !is_esc;
    wire closing = take && is_sync && (r_cnt != 0 || r_esc || r_bad_esc);
    wire payload = data_in && (r_cnt >= 3) && (r_fwd != FRAME);
    wire pad_push = r_pad && room;
    wire push = payload || pad_push;
    wire [7:0] push_byte = r_pad ? 8'd0 : value;

    wire hdr_bad = (r_cnt < 3) || (r_len != FRAME_LEN);
    wire cnt_bad = (r_cnt != CNT_OK);
    wire [2:0] status = {r_bad_esc || r_esc, cnt_bad, hdr_bad};

    always @(posedge clk) begin
        bad_frame <= 1'b0;
        if (!rst_n) begin
            r_esc <= 1'b0;
            r_bad_esc <= 1'b0;
            r_cnt <= {CW{1'b0}};
            r_seq <= 8'd0;
            r_len <= 16'd0;
            r_pad <= 1'b0;
            q_wr <= {QW+1{1'b0}};
        end else begin
            if (take && is_sync) begin
                r_esc <= 1'b0;
                r_bad_esc <= 1'b0;
                r_cnt <= {CW{1'b0}};
                r_seq <= 8'd0;
                r_len <= 16'd0;
                if (closing) begin
                    q_mem[q_wr[QW-1:0]] <= {status, r_seq};
                    q_wr <= q_wr + 1'b1;
                    bad_frame <= (status != 3'd0);
                    r_pad <= (r_fwd != FRAME);
                end
            end else if (take && is_esc) begin
                if (r_esc) r_bad_esc <= 1'b1;  // 7D 7D
                r_esc <= 1'b1;
            end else if (data_in) begin
                r_esc <= 1'b0;
                if (value_bad) r_bad_esc <= 1'b1;
                if (r_cnt != CNT_MAX) r_cnt <= r_cnt + 1'b1;
                if (r_cnt == 0) r_seq <= value;
                if (r_cnt == 1) r_len[7:0] <= value;
                if (r_cnt == 2) r_len[15:8] <= value;
            end
            if (pad_push && r_fwd == FRAME - 1'b1) r_pad <= 1'b0;
        end
    end

    // payload bytes and zero padding into beats; r_fwd counts them and restarts once a frame's
    // FRAME_BYTES are given and the frame has closed
    wire asm_last = (asm_count == ILAST);
    wire [8*IN_BYTES-1:0] asm_next;
    generate
        if (IN_BYTES == 1) begin : g_asm_one
            assign asm_next = push_byte;
        end else begin : g_asm_shift
            reg [8*IN_BYTES-9:0] asm_hold;
            always @(posedge clk) begin
                if (!rst_n) asm_hold <= {8*IN_BYTES-8{1'b0}};
                else if (push) asm_hold <= asm_next[8*IN_BYTES-1:8];
            end
            assign asm_next = {push_byte, asm_hold};
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            asm_count <= {IW{1'b0}};
            out_data <= {8*IN_BYTES{1'b0}};
            out_valid <= 1'b0;
            r_fwd <= {FW{1'b0}};
        end else begin
            if (push && asm_last) begin
                out_data <= asm_next;
                out_valid <= 1'b1;
            end else if (out_valid && m_axis_tready) begin
                out_valid <= 1'b0;
            end
            if (push) asm_count <= asm_last ? {IW{1'b0}} : asm_count + 1'b1;
            // a closed frame starts the count again at its closing byte (when whole) or after its padding
            if (closing && r_fwd == FRAME) r_fwd <= {FW{1'b0}};
            else if (pad_push && r_fwd == FRAME - 1'b1) r_fwd <= {FW{1'b0}};
            else if (push) r_fwd <= r_fwd + 1'b1;
        end
    end

    assign m_axis_tdata = out_data;
    assign m_axis_tvalid = out_valid;

    // ---------------------------------------------------------------- transmit
    localparam [2:0] T_IDLE = 3'd0, T_OPEN = 3'd1, T_SEQ = 3'd2, T_STAT = 3'd3, T_LEN0 = 3'd4,
                     T_LEN1 = 3'd5, T_DATA = 3'd6, T_CLOSE = 3'd7;
    reg [2:0] t_state;
    reg [8*OUT_BYTES-1:0] t_beat;
    reg t_have;           // t_beat holds an accelerator beat
    reg [OW-1:0] t_byte;  // the byte of t_beat on the line next
    reg [BW-1:0] t_beats; // beats of this frame taken so far
    reg t_esc;            // 0x7D went out, the stuffed byte is next
    wire t_ok = (q_head[10:8] == 3'd0);
    wire [15:0] t_rlen = t_ok ? RLEN : 16'd0;

    reg [7:0] t_lb;       // the logical byte of this state
    always @(*) begin
        case (t_state)
            T_SEQ: t_lb = q_head[7:0];
            T_STAT: t_lb = {5'd0, q_head[10:8]};
            T_LEN0: t_lb = t_rlen[7:0];
            T_LEN1: t_lb = t_rlen[15:8];
            T_DATA: t_lb = t_beat[8*t_byte +: 8];
            default: t_lb = SYNC;
        endcase
    end
    wire t_raw = (t_state == T_OPEN) || (t_state == T_CLOSE);
    wire t_stuff = !t_raw && (t_lb == SYNC || t_lb == ESC);
    // in T_DATA an error frame's beats are dropped, not sent
    wire t_emit = (t_state != T_IDLE) && (t_state != T_DATA || (t_have && t_ok));
    assign m_byte_tvalid = t_emit;
    assign m_byte_tdata = t_esc ? (t_lb ^ 8'h20) : (t_stuff ? ESC : t_lb);
    wire t_sent = t_emit && m_byte_tready;
    wire t_done = t_sent && (!t_stuff || t_esc);  // the logical byte is complete on the line
    assign s_axis_tready = (t_state == T_DATA) && !t_have;
    wire t_take = s_axis_tvalid && s_axis_tready;
    wire t_beat_end = (t_state == T_DATA) && t_have && (!t_ok || (t_done && t_byte == OLAST));

    always @(posedge clk) begin
        if (!rst_n) begin
            t_state <= T_IDLE;
            t_beat <= {8*OUT_BYTES{1'b0}};
            t_have <= 1'b0;
            t_byte <= {OW{1'b0}};
            t_beats <= {BW{1'b0}};
            t_esc <= 1'b0;
            q_rd <= {QW+1{1'b0}};
        end else begin
            if (t_sent) t_esc <= t_stuff && !t_esc;
            if (t_take) begin
                t_beat <= s_axis_tdata;
                t_have <= 1'b1;
                t_byte <= {OW{1'b0}};
            end
            case (t_state)
                T_IDLE: if (!q_empty) t_state <= T_OPEN;
                T_OPEN: if (t_done) t_state <= T_SEQ;
                T_SEQ: if (t_done) t_state <= T_STAT;
                T_STAT: if (t_done) t_state <= T_LEN0;
                T_LEN0: if (t_done) t_state <= T_LEN1;
                T_LEN1: if (t_done) begin
                    t_state <= T_DATA;
                    t_beats <= {BW{1'b0}};
                end
                T_DATA: if (t_beat_end) begin
                    t_have <= 1'b0;
                    t_beats <= t_beats + 1'b1;
                    if (t_beats == BLAST) t_state <= T_CLOSE;
                end else if (t_done) begin
                    t_byte <= t_byte + 1'b1;
                end
                default: if (t_done) begin
                    t_state <= T_IDLE;
                    q_rd <= q_rd + 1'b1;
                end
            endcase
        end
    end

endmodule

`default_nettype wire
