"""DqhwMaxPool: max pooling over the window stream of finn's depthwise ConvolutionInputGenerator
(rtl/dqhw_maxpool.v). Replaces finn's Pool / Pool_hls with Function=MaxPool.

Input: the SWG's output in finn's normal layout (N, OH, OW, K_H*K_W*C), window-major with channels
innermost; output (N, OH, OW, C) = max over the window (finn's Pool semantics). In the stream the
depthwise SWG interleaves channels by SIMD (contract.depthwise_swg_stream); dqhw_maxpool consumes
that order, so the SWG's SIMD must equal this node's PE.

Parameters of dqhw_maxpool (attributes, `rtl_params()`): CHANNELS, PE, KERNEL (= K_H*K_W), BITS,
SIGNED. Element types: unsigned UINTb / BINARY (SIGNED = 0); signed INTb (b >= 2, b-bit two's
complement, SIGNED = 1; dqhw's activations are b = 2..8); BIPOLAR (one bit, 1 = +1, 0 = -1: the
maximum of {-1, +1} values is the OR of their bits, the unsigned maximum, so BITS = 1, SIGNED = 0).
"""

from __future__ import annotations

import numpy as np
from finn.custom_op.fpgadataflow.pool import Pool

from dqhw.customop.common import DqhwNode, element_bits, store_output
from dqhw.errors import DqhwError


def maxpool_element_params(dt) -> tuple[int, int]:
    """(BITS, SIGNED) of dqhw_maxpool for a qonnx DataType, or a DqhwError naming what is wrong."""
    if dt.name == "BIPOLAR":
        return 1, 0  # bits, 1 = +1: max over {-1, +1} = OR of the bits = unsigned max
    if not dt.is_integer():
        raise DqhwError(f"input {dt.name} is not an integer type (dqhw_maxpool takes UINTb/BINARY, INTb, BIPOLAR)")
    bits = element_bits(dt)
    if dt.signed():
        if bits < 2:
            raise DqhwError(f"input {dt.name}: signed elements need at least 2 bits")
        return bits, 1  # INTb (and TERNARY, INT2-coded): b-bit two's complement
    return bits, 0


class DqhwMaxPool(DqhwNode, Pool):
    RTL_ATTRS = {"CHANNELS": ("i", False, 0), "KERNEL": ("i", False, 0), "BITS": ("i", False, 0),
                 "SIGNED": ("i", False, 0)}

    def execute_node(self, context, graph):
        node = self.onnx_node
        k = int(np.prod(self.get_nodeattr("KernelSize")))
        ch = self.get_nodeattr("Channels")
        x = np.asarray(context[node.input[0]])
        # integer values (BIPOLAR: -1/+1, signed: negatives): the maximum is one of the inputs, exact
        # in any float type; max over {-1, +1} is what dqhw_maxpool's OR of the bits gives
        out = x.reshape(*x.shape[:-1], k, ch).max(axis=-2).astype(np.float32)
        store_output(context, node.output[0], out)

    def finalize(self, model) -> None:
        node = self.onnx_node
        name = self.display_name()
        if self.get_nodeattr("Function") != "MaxPool":
            raise DqhwError(f"{name}: pooling function {self.get_nodeattr('Function')} is not supported by dqhw")
        ch, pe = self.get_nodeattr("Channels"), self.get_nodeattr("PE")
        self.check_pe_divides(ch)
        idt = model.get_tensor_datatype(node.input[0])
        try:
            bits, signed = maxpool_element_params(idt)
        except DqhwError as e:
            raise DqhwError(f"{name}: {e}") from None
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
        self.set_nodeattr("BITS", bits)
        self.set_nodeattr("SIGNED", signed)

    def rtl_params(self) -> dict:
        return {"CHANNELS": int(self.get_nodeattr("CHANNELS")), "PE": int(self.get_nodeattr("PE")),
                "KERNEL": int(self.get_nodeattr("KERNEL")), "BITS": int(self.get_nodeattr("BITS")),
                "SIGNED": int(self.get_nodeattr("SIGNED"))}

    # resource estimates: PE comparators + a BITS*PE running-max register
    def lut_estimation(self, fpgapart=None) -> int:
        pe, bits = self.get_nodeattr("PE"), self.get_nodeattr("BITS") or 8
        return int(40 + pe * 2 * bits)
