"""From the folded dataflow graph of `dqhw build` to an HLS C++ accelerator (BUILD/hls): a top-level
dataflow function over the layers in hls/, the weight and threshold memories as C++ arrays, a C-simulation
driver and a Vitis HLS script (see generate.py)."""
