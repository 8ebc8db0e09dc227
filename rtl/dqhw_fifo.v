`default_nettype none

// dqhw_fifo: AXI4-Stream FIFO with occupancy and peak-occupancy outputs.
//
// Parameters
//   WIDTH           TDATA width in bits (any; dqhw streams are padded to whole bytes).
//   DEPTH           capacity in beats, any value >= 2 (a power of two is not required).
//   BRAM_MIN_DEPTH  DEPTH >= BRAM_MIN_DEPTH: storage is a synchronous-read memory (block-RAM
//                   inferable, (* ram_style = "block" *)) followed by one output register, which
//                   together hold exactly DEPTH beats; otherwise an asynchronous-read memory
//                   (LUT-RAM, (* ram_style = "distributed" *)) of DEPTH entries.
// Ports
//   clk, rst_n      clock, synchronous active-low reset (empties the FIFO, clears peak).
//   s_axis_*        input stream; s_axis_tready = "not full", a registered signal (no
//                   combinational path from m_axis_tready).
//   m_axis_*        output stream, first-word-fall-through.
//   count           beats held now (accepted, not yet delivered), 0..DEPTH.
//   peak            largest value count has taken since reset (registered); the stitching step
//                   sizes FIFOs by simulating with deep FIFOs and reading peak.
// Timing: one beat in and one beat out per cycle at any DEPTH >= 2; latency from input to output
//   1 cycle (LUT-RAM style) or 2 cycles (block-RAM style).
module dqhw_fifo #(
    parameter integer WIDTH = 8,
    parameter integer DEPTH = 16,
    parameter integer BRAM_MIN_DEPTH = 256
) (
    input  wire                         clk,
    input  wire                         rst_n,

    input  wire [WIDTH-1:0]             s_axis_tdata,
    input  wire                         s_axis_tvalid,
    output wire                         s_axis_tready,

    output wire [WIDTH-1:0]             m_axis_tdata,
    output wire                         m_axis_tvalid,
    input  wire                         m_axis_tready,

    output wire [$clog2(DEPTH+1)-1:0]   count,
    output reg  [$clog2(DEPTH+1)-1:0]   peak
);

    localparam integer CW = $clog2(DEPTH + 1);
`ifdef DQHW_FIFO_LIMIT
    // FIFO sizing (simulation only): every FIFO in the asynchronous-read style, so that a run-time
    // limit L behaves exactly like DEPTH = L in that style, at full throughput down to L = 2
    localparam [0:0] BRAM = 1'b0;
`else
    localparam [0:0] BRAM = (DEPTH >= BRAM_MIN_DEPTH) && (DEPTH >= 3);
`endif
    // entries of the memory array
    localparam integer MD = BRAM ? DEPTH - 1 : DEPTH;
    localparam integer AW = (MD > 1) ? $clog2(MD) : 1;
    localparam integer LAST_I = MD - 1;
    localparam [AW-1:0] LAST_ADDR = LAST_I[AW-1:0];
    localparam [CW-1:0] MEM_FULL = MD[CW-1:0];

`ifndef SYNTHESIS
    // illegal parameter combinations stop elaboration (elaboration-time $fatal in a generate-if)
    generate
        if (DEPTH < 2) begin : g_bad_depth
            $fatal(1, "dqhw_fifo: DEPTH=%0d, must be >= 2 (one beat per cycle needs two entries)", DEPTH);
        end
        if (WIDTH < 1) begin : g_bad_width
            $fatal(1, "dqhw_fifo: WIDTH=%0d, must be >= 1", WIDTH);
        end
        if (BRAM_MIN_DEPTH < 1) begin : g_bad_bram_min
            $fatal(1, "dqhw_fifo: BRAM_MIN_DEPTH=%0d, must be >= 1", BRAM_MIN_DEPTH);
        end
    endgenerate
`endif

    wire push;
    wire pop;
    reg  [AW-1:0] wptr;
    reg  [AW-1:0] rptr;
    reg  [CW-1:0] mem_cnt;       // beats in the memory array
    wire [CW-1:0] occupancy_next;

`ifdef DQHW_FIFO_LIMIT
    // Simulation only (FIFO sizing, dqhw.flow.fifo_sizing): the sizing testbench lowers the capacity
    // at run time through this register, so trying other depths needs no recompile. A limit L holds
    // L beats, like DEPTH = L (the asynchronous-read style, forced above).
    reg [CW-1:0] limit = DEPTH[CW-1:0];
    assign s_axis_tready = (mem_cnt != MEM_FULL) && (mem_cnt < limit);
`else
    assign s_axis_tready = (mem_cnt != MEM_FULL);
`endif
    assign push = s_axis_tvalid && s_axis_tready;

    generate
        if (BRAM) begin : g_bram
            (* ram_style = "block" *) reg [WIDTH-1:0] mem [0:MD-1];
            reg [WIDTH-1:0] out_q;
            reg             out_v;
            // move the oldest memory word into the output register when that is empty or drains
            wire load = (mem_cnt != {CW{1'b0}}) && (!out_v || m_axis_tready);

            always @(posedge clk) begin
                if (push) mem[wptr] <= s_axis_tdata;
                if (load) out_q <= mem[rptr];
            end

            always @(posedge clk) begin
                if (!rst_n) out_v <= 1'b0;
                else if (load) out_v <= 1'b1;
                else if (m_axis_tready) out_v <= 1'b0;
            end

            assign pop = load;  // a word leaves the memory array
            assign m_axis_tdata = out_q;
            assign m_axis_tvalid = out_v;
            assign count = mem_cnt + {{(CW-1){1'b0}}, out_v};
            assign occupancy_next = (mem_cnt + {{(CW-1){1'b0}}, push} - {{(CW-1){1'b0}}, load})
                                    + {{(CW-1){1'b0}}, load | (out_v & ~m_axis_tready)};
        end else begin : g_lutram
            (* ram_style = "distributed" *) reg [WIDTH-1:0] mem [0:MD-1];

            always @(posedge clk) begin
                if (push) mem[wptr] <= s_axis_tdata;
            end

            assign m_axis_tvalid = (mem_cnt != {CW{1'b0}});
            assign pop = m_axis_tvalid && m_axis_tready;
            assign m_axis_tdata = mem[rptr];
            assign count = mem_cnt;
            assign occupancy_next = mem_cnt + {{(CW-1){1'b0}}, push} - {{(CW-1){1'b0}}, pop};
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            wptr <= {AW{1'b0}};
            rptr <= {AW{1'b0}};
            mem_cnt <= {CW{1'b0}};
            peak <= {CW{1'b0}};
        end else begin
            if (push) wptr <= (wptr == LAST_ADDR) ? {AW{1'b0}} : wptr + 1'b1;
            if (pop) rptr <= (rptr == LAST_ADDR) ? {AW{1'b0}} : rptr + 1'b1;
            mem_cnt <= mem_cnt + {{(CW-1){1'b0}}, push} - {{(CW-1){1'b0}}, pop};
            if (occupancy_next > peak) peak <= occupancy_next;
        end
    end

endmodule

`default_nettype wire
