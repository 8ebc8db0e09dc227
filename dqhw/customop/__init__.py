"""dqhw node types: ONNX domain `dqhw.customop` (exact Python execution of the layers dqhw implements in RTL).

qonnx resolves a node's domain by importing it as a Python module (qonnx.custom_op.registry:
`importlib.import_module(domain)`, then the module's `custom_op` dict or `__all__`); finn registers
`finn.custom_op.fpgadataflow` the same way. So a node with domain "dqhw.customop" and op_type
"DqhwMVAU" resolves to `custom_op["DqhwMVAU"]` below, and `getCustomOp`, `execute_onnx`,
InferShapes/InferDataTypes and finn's InsertDWC/InsertFIFO all work on graphs holding them.

The classes subclass finn's generic HW ops (MVAU, Pool, LabelSelect; HWCustomOp with
backend="fpgadataflow"), so folded/normal shapes, stream widths and cycle estimates are FINN's;
each overrides `execute_node` with dqhw's integer contract (dqhw.contract) and adds the
parameters of its Verilog module (`rtl_params()`, also stored as upper-case node attributes).
"""

from dqhw import finn_compat

finn_compat.prepare()

from dqhw.customop.labelselect import DqhwLabelSelect  # noqa: E402
from dqhw.customop.maxpool import DqhwMaxPool  # noqa: E402
from dqhw.customop.mvau import DqhwMVAU  # noqa: E402
from dqhw.customop.residual import DqhwAddStreams, DqhwDuplicateStreams, DqhwGlobalAccPool  # noqa: E402

DOMAIN = "dqhw.customop"


def load_dataflow(path):
    """The dataflow graph at `path` as a qonnx ModelWrapper (dqhw's and finn's node types registered by
    importing this package), or a one-line DqhwError when it is not a readable ONNX graph."""
    from qonnx.core.modelwrapper import ModelWrapper

    from dqhw.errors import DqhwError

    try:
        return ModelWrapper(str(path))
    except Exception as e:  # noqa: BLE001
        raise DqhwError(f"{path}: not a readable ONNX dataflow graph ({type(e).__name__})") from None

def _registered() -> dict:
    """{node type: class} of every layer type in dqhw.layers (the one registration of a layer)."""
    import importlib

    from dqhw.layers import LAYERS

    out = {}
    for t in LAYERS:
        module, _, name = t.cls.partition(":")
        out[t.op_type] = getattr(importlib.import_module(module), name)
    return out


custom_op = _registered()

__all__ = ["DOMAIN", "DqhwMVAU", "DqhwMaxPool", "DqhwLabelSelect", "DqhwAddStreams", "DqhwDuplicateStreams",
           "DqhwGlobalAccPool", "custom_op"]
