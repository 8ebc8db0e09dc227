"""DqhwMaxPool: max pooling over the window stream of finn's depthwise ConvolutionInputGenerator
(rtl/dqhw_maxpool.v). Replaces finn's Pool / Pool_hls with Function=MaxPool.

Input: the SWG's output in finn's normal layout (N, OH, OW, K_H*K_W*C), window-major with channels
innermost; output (N, OH, OW, C) = max over the window (finn's Pool semantics). In the stream the
depthwise SWG interleaves channels by SIMD (contract.depthwise_swg_stream); dqhw_maxpool consumes
that order, so the SWG's SIMD must equal this node's PE.

Parameters of dqhw_maxpool (attributes, `rtl_params()`): CHANNELS, PE, KERNEL (= K_H*K_W), BITS.
"""

from __future__ import annotations

import numpy as np
from finn.custom_op.fpgadataflow.pool import Pool

from dqhw.customop.common import element_bits, store_output
from dqhw.errors import DqhwError


class DqhwMaxPool(Pool):
    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({
            "finn_name": ("s", False, ""),
            "CHANNELS": ("i", False, 0),
            "KERNEL": ("i", False, 0),
            "BITS": ("i", False, 0),
        })
        return attrs

    def execute_node(self, context, graph):
        node = self.onnx_node
        k = int(np.prod(self.get_nodeattr("KernelSize")))
        ch = self.get_nodeattr("Channels")
        x = np.asarray(context[node.input[0]])
        out = x.reshape(*x.shape[:-1], k, ch).max(axis=-2).astype(np.float32)
        store_output(context, node.output[0], out)

    def finalize(self, model) -> None:
        node = self.onnx_node
        name = self.get_nodeattr("finn_name") or node.name
        if self.get_nodeattr("Function") != "MaxPool":
            raise DqhwError(f"{name}: pooling function {self.get_nodeattr('Function')} is not supported by dqhw")
        ch, pe = self.get_nodeattr("Channels"), self.get_nodeattr("PE")
        if pe < 1 or ch % pe:
            raise DqhwError(f"{name}: folding PE={pe} must divide {ch} channels")
        idt = model.get_tensor_datatype(node.input[0])
        if idt.signed() or not idt.is_integer():
            raise DqhwError(f"{name}: input {idt.name} is not an unsigned integer")
        producer = model.find_producer(node.input[0])
        if producer is None or not producer.op_type.startswith("ConvolutionInputGenerator"):
            raise DqhwError(f"{name}: max pooling must be fed by a depthwise ConvolutionInputGenerator")
        from qonnx.custom_op.registry import getCustomOp

        swg = getCustomOp(producer)
        if not swg.get_nodeattr("depthwise") or swg.get_nodeattr("SIMD") != pe:
            raise DqhwError(f"{name}: folding: {producer.name} SIMD={swg.get_nodeattr('SIMD')} must equal "
                            f"the pool's PE={pe} (depthwise window stream)")
        self.set_nodeattr("InputDataType", idt.name)
        self.set_nodeattr("OutputDataType", idt.name)
        self.set_nodeattr("CHANNELS", ch)
        self.set_nodeattr("KERNEL", int(np.prod(self.get_nodeattr("KernelSize"))))
        self.set_nodeattr("BITS", element_bits(idt))

    def rtl_params(self) -> dict:
        return {"CHANNELS": int(self.get_nodeattr("CHANNELS")), "PE": int(self.get_nodeattr("PE")),
                "KERNEL": int(self.get_nodeattr("KERNEL")), "BITS": int(self.get_nodeattr("BITS"))}

    # resource estimates: PE comparators + a BITS*PE running-max register
    def lut_estimation(self, fpgapart=None) -> int:
        pe, bits = self.get_nodeattr("PE"), self.get_nodeattr("BITS") or 8
        return int(40 + pe * 2 * bits)

    def bram_estimation(self, fpgapart=None) -> int:
        return 0

    def dsp_estimation(self, fpgapart=None) -> int:
        return 0

    def uram_estimation(self, fpgapart=None) -> int:
        return 0
