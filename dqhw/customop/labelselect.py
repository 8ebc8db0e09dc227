"""DqhwLabelSelect: argmax over the last layer's integer accumulators (rtl/dqhw_label_select.v).
Replaces finn's LabelSelect / LabelSelect_hls (k = 1 only: the RTL emits one index per frame).

Input (N, Labels) signed accumulators; output (N, 1) index of the largest, ties to the lowest index
(contract.label_select, ONNX TopK's rule). Parameters of dqhw_label_select (attributes,
`rtl_params()`): NUM_LABELS, PE, ACC_BITS, OUT_BITS.
"""

from __future__ import annotations

import numpy as np
from finn.custom_op.fpgadataflow.labelselect import LabelSelect

from dqhw import contract
from dqhw.customop.common import DqhwNode, store_output
from dqhw.errors import DqhwError


class DqhwLabelSelect(DqhwNode, LabelSelect):
    RTL_ATTRS = {"NUM_LABELS": ("i", False, 0), "ACC_BITS": ("i", False, 0), "OUT_BITS": ("i", False, 0)}

    def execute_node(self, context, graph):
        node = self.onnx_node
        x = np.asarray(context[node.input[0]])
        labels = self.get_nodeattr("Labels")
        idx = contract.label_select(x.reshape(-1, labels), int(self.get_nodeattr("K")))
        store_output(context, node.output[0], idx.astype(np.float32))

    def finalize(self, model) -> None:
        node = self.onnx_node
        name = self.display_name()
        labels = self.get_nodeattr("Labels")
        if self.get_nodeattr("K") != 1:
            raise DqhwError(f"{name}: top-{self.get_nodeattr('K')} is not supported; dqhw_label_select gives k = 1")
        self.check_pe_divides(labels, "labels")
        idt = model.get_tensor_datatype(node.input[0])
        if not idt.is_integer() or not idt.signed():
            raise DqhwError(f"{name}: input {idt.name} is not a signed integer accumulator")
        self.set_nodeattr("inputDataType", idt.name)
        self.set_nodeattr("NUM_LABELS", labels)
        self.set_nodeattr("ACC_BITS", int(idt.bitwidth()))
        self.set_nodeattr("OUT_BITS", int(self.get_output_datatype().bitwidth()))

    def rtl_params(self) -> dict:
        return {"NUM_LABELS": int(self.get_nodeattr("NUM_LABELS")), "PE": int(self.get_nodeattr("PE")),
                "ACC_BITS": int(self.get_nodeattr("ACC_BITS")), "OUT_BITS": int(self.get_nodeattr("OUT_BITS"))}

    def lut_estimation(self, fpgapart=None) -> int:
        pe, acc = self.get_nodeattr("PE"), self.get_nodeattr("ACC_BITS") or 16
        return int(60 + pe * acc * 2 + acc)
