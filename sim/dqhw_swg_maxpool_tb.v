// Test harness: finn-plus' generated depthwise sliding-window generator (ConvolutionInputGenerator_rtl,
// module ConvolutionInputGenerator_rtl_0 written by its generate_hdl) feeding dqhw_maxpool, i.e. the
// hardware version of FINN's MaxPool2d lowering. The SWG output (swg_*) is a wire of this top so the
// cocotb test can observe its element order. SIGNED is dqhw_maxpool's (1: INTb elements; the SWG
// only moves bits, whatever their type).
module dqhw_swg_maxpool_tb #(
    parameter integer CHANNELS = 4,
    parameter integer PE = 2,
    parameter integer KERNEL = 4,
    parameter integer BITS = 4,
    parameter integer SIGNED = 0
) (
    input  wire                          clk,
    input  wire                          rst_n,
    input  wire [((PE*BITS+7)/8)*8-1:0]  s_axis_tdata,
    input  wire                          s_axis_tvalid,
    output wire                          s_axis_tready,
    output wire [((PE*BITS+7)/8)*8-1:0]  m_axis_tdata,
    output wire                          m_axis_tvalid,
    input  wire                          m_axis_tready
);
    wire [((PE*BITS+7)/8)*8-1:0] swg_tdata;
    wire                         swg_tvalid;
    wire                         swg_tready;

    ConvolutionInputGenerator_rtl_0 u_swg (
        .ap_clk(clk), .ap_rst_n(rst_n),
        .in0_V_TDATA(s_axis_tdata), .in0_V_TVALID(s_axis_tvalid), .in0_V_TREADY(s_axis_tready),
        .out0_V_TDATA(swg_tdata), .out0_V_TVALID(swg_tvalid), .out0_V_TREADY(swg_tready)
    );

    dqhw_maxpool #(.CHANNELS(CHANNELS), .PE(PE), .KERNEL(KERNEL), .BITS(BITS), .SIGNED(SIGNED)) u_pool (
        .clk(clk), .rst_n(rst_n),
        .s_axis_tdata(swg_tdata), .s_axis_tvalid(swg_tvalid), .s_axis_tready(swg_tready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready)
    );
endmodule
