"""A simulated `pynq` for testing the generated driver without a board: this folder goes first on
the driver's PYTHONPATH (dqhw.board.pynq_sim.driver_env), and everything here comes from
dqhw.board.pynq_sim (the AXI DMAs of the block design in front of the accelerator's Verilator
model). Needs DQHW_PYNQ_SIM_BUILD = the dqhw build directory."""

from dqhw.board.pynq_sim import DMA, PL, Overlay, PynqBuffer, allocate

__all__ = ["DMA", "PL", "Overlay", "PynqBuffer", "allocate"]
