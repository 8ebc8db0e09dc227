"""ReplaceWithDqhwNodes: finn's MVAU* / Pool*(MaxPool) / LabelSelect* / DuplicateStreams* /
GlobalAccPool* -> dqhw's node types (DqhwAddStreams is dqhw's from the start: dqhw.transforms.residual).

The n-th finn node of a kind becomes `<DqhwType>_<n>` (finn_name keeps the original name); every
attribute the dqhw class knows is copied, then the node's `finalize(model)` checks that dqhw's RTL
can build it and fills in the Verilog parameters (exact accumulator width, clipped thresholds, ...).
finn's MVAU attributes binaryXnorMode, ActVal, inputDataType (UINTk, INTk, BINARY, BIPOLAR) and
outputDataType are copied as they are and mapped by DqhwMVAU.finalize to XNOR, IN_SIGNED, ACT_VAL,
NUM_THRESH (what dqhw_mvau cannot build is refused there, in one line naming the node).
"""

from __future__ import annotations

from onnx import helper
from qonnx.transformation.base import Transformation

from dqhw.errors import DqhwError
from dqhw.layers import replacements

DOMAIN = "dqhw.customop"
REPLACE = replacements()  # finn op type -> dqhw node type (dqhw.layers)


class ReplaceWithDqhwNodes(Transformation):
    def apply(self, model):
        from qonnx.custom_op.registry import getCustomOp

        import dqhw.customop as cops

        graph = model.graph
        counts: dict[str, int] = {}
        new_nodes = []
        for idx, node in enumerate(list(graph.node)):
            target = REPLACE.get(node.op_type)
            if target is None or not node.domain.startswith("finn.custom_op.fpgadataflow"):
                continue
            cls = cops.custom_op[target]
            n = counts.get(target, 0)
            counts[target] = n + 1
            new = helper.make_node(target, list(node.input), list(node.output), domain=DOMAIN, name=f"{target}_{n}")
            known = cls.__new__(cls).get_nodeattr_types()  # (no __init__: it reads attributes)
            new.attribute.extend(a for a in node.attribute if a.name in known and a.name != "exec_mode")
            new.attribute.append(helper.make_attribute("finn_name", node.name))
            graph.node.remove(node)
            graph.node.insert(idx, new)  # protobuf copies `new`: keep the index, not the object
            new_nodes.append(idx)
        # dqhw's residual adds are dqhw nodes from the residual step on: checked here with the rest
        new_nodes += [i for i, n in enumerate(graph.node) if n.op_type == "DqhwAddStreams"]
        for idx in new_nodes:
            new = graph.node[idx]
            inst = getCustomOp(new)
            try:
                inst.finalize(model)
            except DqhwError:
                raise
            except Exception as e:  # noqa: BLE001
                raise DqhwError(f"{new.name}: cannot map to dqhw's RTL ({type(e).__name__}: {str(e)[:100]})") from None
        return model, False  # applied once: everything is replaced in one pass
