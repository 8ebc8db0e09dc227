`default_nettype none

// dqhw_uart_axis: a UART (8 data bits, no parity, 1 stop bit) <-> AXI4-Stream byte bridge, the host
// link of dqhw's board tops (flows/ecp5/dqhw_board_top.v.in). No vendor IP.
//
// Receive: bytes from the host, IN_BYTES of them per m_axis beat, the first byte in bits 7:0
// (little-endian, the order of dqhw's uint8 NHWC frames in a beat). A beat waits in an output
// register while the next one is assembled; a byte that completes a third beat while two wait is
// dropped and sets `overrun` (sticky until reset): the host must not send faster than the
// accelerator takes its input.
// Transmit: every s_axis beat as OUT_BYTES bytes, bits 7:0 first.
//
// Parameters
//   CLKS_PER_BIT  clock cycles per UART bit (clock / baud rate, rounded; >= 4)
//   IN_BYTES      bytes per m_axis beat (>= 1)
//   OUT_BYTES     bytes per s_axis beat (>= 1)
// The receiver samples the middle of each bit (CLKS_PER_BIT/2 after the start edge, then every
// CLKS_PER_BIT) after a two-flop synchronizer; a start bit that is high again at its middle is a
// glitch and ignored, a byte without its stop bit is dropped and sets `frame_error` (sticky).
module dqhw_uart_axis #(
    parameter integer CLKS_PER_BIT = 50,
    parameter integer IN_BYTES = 1,
    parameter integer OUT_BYTES = 1
) (
    input  wire                     clk,
    input  wire                     rst_n,

    input  wire                     uart_rx,
    output wire                     uart_tx,

    output wire [8*IN_BYTES-1:0]    m_axis_tdata,
    output wire                     m_axis_tvalid,
    input  wire                     m_axis_tready,

    input  wire [8*OUT_BYTES-1:0]   s_axis_tdata,
    input  wire                     s_axis_tvalid,
    output wire                     s_axis_tready,

    output reg                      overrun,
    output reg                      frame_error
);
    localparam integer CW = $clog2(CLKS_PER_BIT + 1);
    localparam integer IW = (IN_BYTES > 1) ? $clog2(IN_BYTES) : 1;
    localparam integer OW = (OUT_BYTES > 1) ? $clog2(OUT_BYTES) : 1;
    localparam integer HALF_I = CLKS_PER_BIT / 2;
    localparam integer FULL_I = CLKS_PER_BIT - 1;
    localparam integer ILAST_I = IN_BYTES - 1;
    localparam integer OLAST_I = OUT_BYTES - 1;
    localparam [CW-1:0] HALF = HALF_I[CW-1:0];
    localparam [CW-1:0] FULL = FULL_I[CW-1:0];
    localparam [IW-1:0] ILAST = ILAST_I[IW-1:0];
    localparam [OW-1:0] OLAST = OLAST_I[OW-1:0];

`ifndef SYNTHESIS
    generate
        if (CLKS_PER_BIT < 4 || IN_BYTES < 1 || OUT_BYTES < 1) begin : g_bad_params
            $fatal(1, "dqhw_uart_axis: CLKS_PER_BIT must be >= 4, IN_BYTES and OUT_BYTES >= 1");
        end
    endgenerate
`endif

    // ---------------------------------------------------------------- receive
    reg [1:0] rx_sync;
    wire rx = rx_sync[1];
    always @(posedge clk) begin
        if (!rst_n) rx_sync <= 2'b11;
        else rx_sync <= {rx_sync[0], uart_rx};
    end

    localparam [1:0] R_IDLE = 2'd0, R_START = 2'd1, R_DATA = 2'd2, R_STOP = 2'd3;
    reg [1:0] r_state;
    reg [CW-1:0] r_count;
    reg [2:0] r_bit;
    reg [7:0] r_shift;
    reg r_done;  // one cycle: r_shift holds a received byte

    always @(posedge clk) begin
        r_done <= 1'b0;
        if (!rst_n) begin
            r_state <= R_IDLE;
            r_count <= {CW{1'b0}};
            r_bit <= 3'd0;
            r_shift <= 8'd0;
            frame_error <= 1'b0;
        end else begin
            case (r_state)
                R_IDLE: if (!rx) begin
                    r_state <= R_START;
                    r_count <= HALF;
                end
                R_START: if (r_count != 0) r_count <= r_count - 1'b1;
                    else if (rx) r_state <= R_IDLE;  // a glitch, not a start bit
                    else begin
                        r_state <= R_DATA;
                        r_count <= FULL;
                        r_bit <= 3'd0;
                    end
                R_DATA: if (r_count != 0) r_count <= r_count - 1'b1;
                    else begin
                        r_shift <= {rx, r_shift[7:1]};
                        r_count <= FULL;
                        r_bit <= r_bit + 1'b1;
                        if (r_bit == 3'd7) r_state <= R_STOP;
                    end
                default: if (r_count != 0) r_count <= r_count - 1'b1;
                    else begin
                        r_state <= R_IDLE;
                        if (rx) r_done <= 1'b1;
                        else frame_error <= 1'b1;
                    end
            endcase
        end
    end

    // bytes -> beats: an assembly register (bytes enter at the top and move down: after IN_BYTES
    // bytes the first is in bits 7:0) and an output register
    reg [8*IN_BYTES-1:0] asm_data;
    wire [8*IN_BYTES-1:0] asm_next;
    generate
        if (IN_BYTES == 1) begin : g_asm_one
            assign asm_next = r_shift;
        end else begin : g_asm_shift
            assign asm_next = {r_shift, asm_data[8*IN_BYTES-1:8]};
        end
    endgenerate
    reg [IW-1:0] asm_count;
    reg asm_full;
    reg [8*IN_BYTES-1:0] out_data;
    reg out_valid;
    wire out_take = out_valid && m_axis_tready;
    wire move = asm_full && (!out_valid || out_take);
    wire asm_last = (asm_count == ILAST);

    always @(posedge clk) begin
        if (!rst_n) begin
            asm_data <= {8*IN_BYTES{1'b0}};
            asm_count <= {IW{1'b0}};
            asm_full <= 1'b0;
            out_data <= {8*IN_BYTES{1'b0}};
            out_valid <= 1'b0;
            overrun <= 1'b0;
        end else begin
            if (move) begin
                out_data <= asm_data;
                out_valid <= 1'b1;
            end else if (out_take) begin
                out_valid <= 1'b0;
            end
            if (r_done && asm_full && !move) begin
                overrun <= 1'b1;  // two beats wait already: the byte is lost
            end else begin
                if (move) asm_full <= 1'b0;
                if (r_done) begin
                    asm_data <= asm_next;
                    asm_count <= asm_last ? {IW{1'b0}} : asm_count + 1'b1;
                    if (asm_last) asm_full <= 1'b1;
                end
            end
        end
    end

    assign m_axis_tdata = out_data;
    assign m_axis_tvalid = out_valid;

    // ---------------------------------------------------------------- transmit
    reg [OW-1:0] t_byte;
    reg t_busy;
    reg [9:0] t_frame;  // stop, data[7:0], start: shifted out LSB first
    reg [3:0] t_bit;
    reg [CW-1:0] t_count;
    reg t_line;
    wire t_load = !t_busy && s_axis_tvalid;
    wire t_bit_end = t_busy && (t_count == 0);
    wire t_next = t_bit_end && (t_bit == 4'd9) && (t_byte != OLAST);  // the beat's next byte
    wire [7:0] t_next_byte;
    generate
        if (OUT_BYTES == 1) begin : g_tx_one
            assign t_next_byte = 8'd0;
        end else begin : g_tx_rest
            reg [8*OUT_BYTES-9:0] t_rest;  // the beat's bytes after the one on the line, next in 7:0
            always @(posedge clk) begin
                if (!rst_n) t_rest <= {8*OUT_BYTES-8{1'b0}};
                else if (t_load) t_rest <= s_axis_tdata[8*OUT_BYTES-1:8];
                else if (t_next) t_rest <= t_rest >> 8;
            end
            assign t_next_byte = t_rest[7:0];
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            t_byte <= {OW{1'b0}};
            t_busy <= 1'b0;
            t_frame <= 10'h3ff;
            t_bit <= 4'd0;
            t_count <= {CW{1'b0}};
            t_line <= 1'b1;
        end else if (t_load) begin
            t_byte <= {OW{1'b0}};
            t_busy <= 1'b1;
            t_frame <= {1'b1, s_axis_tdata[7:0], 1'b0};
            t_bit <= 4'd0;
            t_count <= FULL;
            t_line <= 1'b0;
        end else if (t_busy) begin
            if (!t_bit_end) begin
                t_count <= t_count - 1'b1;
            end else if (t_bit != 4'd9) begin
                t_bit <= t_bit + 1'b1;
                t_line <= t_frame[t_bit + 1'b1];
                t_count <= FULL;
            end else if (t_next) begin
                t_byte <= t_byte + 1'b1;
                t_frame <= {1'b1, t_next_byte, 1'b0};
                t_bit <= 4'd0;
                t_count <= FULL;
                t_line <= 1'b0;
            end else begin
                t_busy <= 1'b0;
                t_line <= 1'b1;
            end
        end
    end

    assign s_axis_tready = !t_busy;
    assign uart_tx = t_line;

endmodule

`default_nettype wire
