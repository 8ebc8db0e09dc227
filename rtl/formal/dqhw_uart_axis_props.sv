// Formal properties of dqhw_uart_axis (SymbiYosys: dqhw_uart_axis.sby).
//
// Inputs (assumed): a legal AXI-Stream source on s_axis (any data), any m_axis_tready, reset in the
// first cycle and at any later time; uart_rx any waveform (F_UART_SRC = 0) or the 8N1 frames of a
// reference transmitter below with any bytes and any idle gaps, back to back included (F_UART_SRC = 1).
// Asserted:
//   - both streams follow the AXI-Stream rules;
//   - receive side, any uart_rx: bytes received = IN_BYTES * (beats out + the beats waiting in the
//     output and assembly registers) + bytes of the beat being assembled + bytes dropped, and
//     `overrun` is set exactly when a byte was dropped; the bytes of beat f_b (any beat, chosen by
//     the solver) leave in it in arrival order, the first in bits 7:0 (with the invariants on the
//     assembly register that make this inductive);
//   - transmit side: after each s_axis beat, uart_tx is exactly OUT_BYTES 8N1 frames of its bytes,
//     low byte first (start bit 0, data LSB first, stop bit 1, CLKS_PER_BIT cycles each), back to
//     back, and high otherwise; s_axis_tready is high exactly when no frame is on the line;
//   - F_UART_SRC = 1: every frame is received as one byte equal to the byte sent, frame_error stays
//     low (bounded: the receiver's bit timing against the transmitter's is not made inductive).
// Covers: a beat out, a stalled output, a whole transmitted beat and the next one taken (an
//   overrun needs three received bytes, over 120 cycles: beyond the cover depth; `overrun` is proven).

`default_nettype none

module dqhw_uart_axis_props #(
    parameter integer CLKS_PER_BIT = 4,
    parameter integer IN_BYTES = 2,
    parameter integer OUT_BYTES = 2,
    parameter integer F_UART_SRC = 0
) (
    input wire                   clk,
    input wire                   rst_n,
    input wire                   uart_rx,
    input wire                   m_axis_tready,
    input wire [8*OUT_BYTES-1:0] s_axis_tdata,
    input wire                   s_axis_tvalid,
    input wire                   f_src_start,       // reference transmitter: start a frame now
    input wire [7:0]             f_src_byte         // ... with this byte
);
    localparam integer F_CW = 6;
    localparam integer IW = (IN_BYTES > 1) ? $clog2(IN_BYTES) : 1;
    localparam integer CW = $clog2(CLKS_PER_BIT + 1);

    wire                  uart_tx;
    wire [8*IN_BYTES-1:0] m_axis_tdata;
    wire                  m_axis_tvalid;
    wire                  s_axis_tready;
    wire                  overrun;
    wire                  frame_error;

    dqhw_uart_axis #(.CLKS_PER_BIT(CLKS_PER_BIT), .IN_BYTES(IN_BYTES), .OUT_BYTES(OUT_BYTES)) dut (
        .clk(clk), .rst_n(rst_n), .uart_rx(uart_rx), .uart_tx(uart_tx),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .overrun(overrun), .frame_error(frame_error)
    );

    reg f_past_valid = 1'b0;
    always @(posedge clk) f_past_valid <= 1'b1;
    always @(*) if (!f_past_valid) assume(!rst_n);

    wire [F_CW-1:0] f_in;
    wire [F_CW-1:0] f_out;
    faxis_slave #(.W(8 * OUT_BYTES), .F_CW(F_CW)) f_slave (
        .clk(clk), .rst_n(rst_n), .tdata(s_axis_tdata), .tvalid(s_axis_tvalid),
        .tready(s_axis_tready), .f_count(f_in));
    faxis_master #(.W(8 * IN_BYTES), .F_CW(F_CW)) f_master (
        .clk(clk), .rst_n(rst_n), .tdata(m_axis_tdata), .tvalid(m_axis_tvalid),
        .tready(m_axis_tready), .f_count(f_out));

    // ---------------------------------------------------------------------------------------------
    // receive side: byte and beat accounting, the bytes of beat f_b
    // ---------------------------------------------------------------------------------------------
    wire            f_byte = dut.r_done;                     // a byte was received (r_shift)
    wire            f_drop = f_byte && dut.asm_full && !dut.move;
    wire            f_kept = f_byte && !f_drop;
    wire [IW-1:0]   f_acount = dut.asm_count;
    reg  [F_CW-1:0] f_bytes;        // bytes received and kept
    reg  [F_CW-1:0] f_formed;       // beats assembled
    reg             f_dropped;
    reg  [F_CW-1:0] f_b;            // anyconst: the tracked beat
    reg  [8*IN_BYTES-1:0] f_bdata;  // its bytes as they came, byte i in bits 8i+7:8i

    always @(posedge clk) begin
        f_b <= f_b;
        if (!rst_n) begin
            f_bytes <= {F_CW{1'b0}};
            f_formed <= {F_CW{1'b0}};
            f_dropped <= 1'b0;
        end else begin
            if (f_kept) f_bytes <= f_bytes + 1'b1;
            if (f_kept && f_acount == IN_BYTES - 1) f_formed <= f_formed + 1'b1;
            if (f_drop) f_dropped <= 1'b1;
        end
        if (f_kept && f_formed == f_b) f_bdata[8 * f_acount +: 8] <= dut.r_shift;
    end

    wire [F_CW-1:0] f_waiting = f_out + m_axis_tvalid + dut.asm_full;    // beats formed, by place
    wire [F_CW-1:0] f_nbytes = IN_BYTES * f_formed + f_acount;            // (modulo 2^F_CW)
    integer i;
    always @(*) begin
        if (f_past_valid) begin
            assert(f_acount < IN_BYTES);
            if (dut.asm_full) assert(f_acount == 0);
            assert(f_formed == f_waiting);
            assert(f_bytes == f_nbytes);
            assert(overrun == f_dropped);
            // beat f_b in the assembly register, partly or whole, and on the output
            if (f_formed == f_b) begin
                for (i = 0; i < IN_BYTES; i = i + 1)
                    if (i < f_acount)
                        assert(dut.asm_data[8 * (IN_BYTES - f_acount + i) +: 8] == f_bdata[8 * i +: 8]);
            end
            if (dut.asm_full && f_formed - 1'b1 == f_b) assert(dut.asm_data == f_bdata);
            if (m_axis_tvalid && f_out == f_b) assert(m_axis_tdata == f_bdata);
        end
    end

    // ---------------------------------------------------------------------------------------------
    // transmit side: the expected line after each s_axis beat
    // ---------------------------------------------------------------------------------------------
    localparam integer OBW = (OUT_BYTES > 1) ? $clog2(OUT_BYTES) : 1;
    wire                  f_tload = s_axis_tvalid && s_axis_tready;
    reg                   f_tact;           // a beat is on the line
    reg  [8*OUT_BYTES-1:0] f_tbeat;
    reg  [OBW-1:0]        f_tbyte;          // byte of the beat
    reg  [3:0]            f_tbit;           // 0 start, 1..8 data, 9 stop
    reg  [CW-1:0]         f_tcyc;           // cycle of the bit
    reg  [F_CW-1:0]       f_tbeats;         // beats sent completely
    wire                  f_tbit_end = f_tcyc == CLKS_PER_BIT - 1;
    wire [7:0]            f_tcur = f_tbeat[8 * f_tbyte +: 8];
    wire                  f_tline = !f_tact ? 1'b1 : (f_tbit == 0) ? 1'b0 : (f_tbit == 9) ? 1'b1
                                    : f_tcur[f_tbit - 1];

    always @(posedge clk) begin
        if (!rst_n) begin
            f_tact <= 1'b0;
            f_tbeats <= {F_CW{1'b0}};
        end else if (f_tload) begin
            f_tact <= 1'b1;
            f_tbeat <= s_axis_tdata;
            f_tbyte <= {OBW{1'b0}};
            f_tbit <= 4'd0;
            f_tcyc <= {CW{1'b0}};
        end else if (f_tact) begin
            f_tcyc <= f_tbit_end ? {CW{1'b0}} : f_tcyc + 1'b1;
            if (f_tbit_end) begin
                f_tbit <= (f_tbit == 9) ? 4'd0 : f_tbit + 1'b1;
                if (f_tbit == 9) begin
                    f_tbyte <= f_tbyte + 1'b1;
                    if (f_tbyte == OUT_BYTES - 1) begin
                        f_tact <= 1'b0;
                        f_tbeats <= f_tbeats + 1'b1;
                    end
                end
            end
        end
    end

    always @(*) begin
        if (f_past_valid) begin
            assert(uart_tx == f_tline);
            assert(s_axis_tready == !f_tact);
            if (f_tact) begin
                assert(f_tbyte < OUT_BYTES && f_tbit <= 9 && f_tcyc < CLKS_PER_BIT);
                assert(dut.t_bit == f_tbit && dut.t_byte == f_tbyte);
                assert(dut.t_count == CLKS_PER_BIT - 1 - f_tcyc);
                assert(dut.t_frame == {1'b1, f_tcur, 1'b0});
            end
        end
    end
    generate
        if (OUT_BYTES > 1) begin : g_trest
            // the bytes after the one on the line, next in bits 7:0
            always @(*) begin
                if (f_past_valid && f_tact)
                    assert(dut.g_tx_rest.t_rest == (f_tbeat >> (8 * (f_tbyte + 1))));
            end
        end
    endgenerate

    // ---------------------------------------------------------------------------------------------
    // F_UART_SRC: a reference 8N1 transmitter drives uart_rx (bounded check of the receiver)
    // ---------------------------------------------------------------------------------------------
    reg             f_sact;
    reg  [7:0]      f_sbyte;
    reg  [3:0]      f_sbit;
    reg  [CW-1:0]   f_scyc;
    reg  [F_CW-1:0] f_sent;         // frames whose stop bit began
    reg  [F_CW-1:0] f_rcvd;         // bytes the unit received
    reg  [7:0]      f_sbytes [0:3]; // bytes of the last frames, by frame number modulo 4
    wire            f_sline = !f_sact ? 1'b1 : (f_sbit == 0) ? 1'b0 : (f_sbit == 9) ? 1'b1
                              : f_sbyte[f_sbit - 1];
    always @(posedge clk) begin
        if (!rst_n) begin
            f_sact <= 1'b0;
            f_sent <= {F_CW{1'b0}};
            f_rcvd <= {F_CW{1'b0}};
        end else begin
            if (f_byte) f_rcvd <= f_rcvd + 1'b1;
            if ((!f_sact || (f_sbit == 9 && f_scyc == CLKS_PER_BIT - 1)) && f_src_start) begin
                f_sact <= 1'b1;
                f_sbyte <= f_src_byte;
                f_sbit <= 4'd0;
                f_scyc <= {CW{1'b0}};
            end else if (f_sact) begin
                f_scyc <= (f_scyc == CLKS_PER_BIT - 1) ? {CW{1'b0}} : f_scyc + 1'b1;
                if (f_scyc == CLKS_PER_BIT - 1) begin
                    if (f_sbit == 9) f_sact <= 1'b0;
                    else f_sbit <= f_sbit + 1'b1;
                end
            end
            if (f_sact && f_sbit == 8 && f_scyc == CLKS_PER_BIT - 1) begin
                f_sent <= f_sent + 1'b1;
                f_sbytes[f_sent[1:0]] <= f_sbyte;
            end
        end
    end

    generate
        if (F_UART_SRC != 0) begin : g_src
            always @(*) begin
                assume(uart_rx == f_sline);
                if (f_past_valid) begin
                    assert(!frame_error);
                    if (f_byte) assert(f_rcvd < f_sent && dut.r_shift == f_sbytes[f_rcvd[1:0]]);
                    assert(f_sent - f_rcvd <= 1);
                end
            end
        end else begin : g_any_rx
            wire unused_src = ^{f_src_start, f_src_byte, f_sline};
        end
    endgenerate

    // ---------------------------------------------------------------------------------------------
    // covers
    // ---------------------------------------------------------------------------------------------
    always @(*) begin
        if (f_past_valid && rst_n) begin
            cover(f_out == 1);
            cover(m_axis_tvalid && !m_axis_tready);
            cover(f_tbeats == 1 && f_in == 2);
        end
    end
endmodule

`default_nettype wire
