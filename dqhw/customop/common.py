"""Small helpers shared by the dqhw node types."""

from __future__ import annotations

import numpy as np


def element_bits(dt) -> int:
    """Bits of one stream element of a qonnx DataType (BINARY/BIPOLAR: 1)."""
    return 1 if dt.name in ("BINARY", "BIPOLAR") else int(dt.bitwidth())


def store_output(context: dict, name: str, out: np.ndarray) -> None:
    """Put `out` into the execution context, keeping the shape execute_onnx prepared for it."""
    prev = context.get(name)
    if prev is not None and np.size(prev) == out.size:
        out = out.reshape(np.shape(prev))
    context[name] = out
