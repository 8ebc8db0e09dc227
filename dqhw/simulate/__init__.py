"""Simulation of the stitched accelerator with cocotb + Verilator (`make sim`)."""
