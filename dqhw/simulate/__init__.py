"""The simulation engine: Verilator builds, the memory-fed bulk testbench and its runner (cocotb or a
bare C++ main), per-stream dumps, protocol runs, the HLS C-simulation."""
