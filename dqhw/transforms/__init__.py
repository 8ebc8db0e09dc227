"""The graph passes of `dqhw build` (qonnx Transformations and checks), each used by one build step:
what dqhw refuses (`graph_check`), the 1-bit activation fix and the output affine split (`passes`),
exact threshold ties (`ties`), residual graphs made integer (`residual`), finn's layers replaced by
dqhw's node types (`replace`)."""
