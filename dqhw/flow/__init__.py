"""`dqhw build`: QONNX export -> finn-plus steps -> dqhw nodes -> folded dataflow graph -> RTL."""
