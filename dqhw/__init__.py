"""dqhw: Defensive Quantization from Brevitas training to a bit-exact FINN-style RTL accelerator."""

__version__ = "0.1.0"
