"""RTL generator: Verilog for each dataflow node, FIFOs, and the stitched top `dqhw_accel`."""
