"""Small helpers shared by the dqhw node types."""

from __future__ import annotations

import numpy as np

from dqhw.errors import DqhwError


def element_bits(dt) -> int:
    """Bits of one stream element of a qonnx DataType (BINARY/BIPOLAR: 1)."""
    return 1 if dt.name in ("BINARY", "BIPOLAR") else int(dt.bitwidth())


def store_output(context: dict, name: str, out: np.ndarray) -> None:
    """Put `out` into the execution context, keeping the shape execute_onnx prepared for it."""
    prev = context.get(name)
    if prev is not None and np.size(prev) == out.size:
        out = out.reshape(np.shape(prev))
    context[name] = out


class DqhwNode:
    """What every dqhw node type adds to the finn op it subclasses (put it first in the bases): the
    `finn_name` attribute (the finn node it replaced, for messages), its Verilog parameters as extra
    attributes (RTL_ATTRS), the PE folding check, and no BRAM/DSP/URAM unless a class says otherwise."""

    RTL_ATTRS: dict = {}

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs["finn_name"] = ("s", False, "")
        attrs.update(self.RTL_ATTRS)
        return attrs

    def display_name(self) -> str:
        """The finn node's name this node replaced (what the user's graph called it), else its own."""
        return self.get_nodeattr("finn_name") or self.onnx_node.name

    def check_pe_divides(self, count: int, what: str = "channels") -> None:
        pe = self.get_nodeattr("PE")
        if pe < 1 or count % pe:
            raise DqhwError(f"{self.display_name()}: folding PE={pe} must divide {count} {what}")

    def bram_estimation(self, fpgapart=None) -> int:
        return 0

    def dsp_estimation(self, fpgapart=None) -> int:
        return 0

    def uram_estimation(self, fpgapart=None) -> int:
        return 0
