"""Folding (PE/SIMD): finn's SetFolding (--target-fps) or a finn-format folding JSON (--folding).

The JSON is finn's ApplyConfig format: {"Defaults": {...}, "<node name>": {"PE": 4, "SIMD": 8, ...}}
keyed by the node names of finn's specialized graph (MVAU_hls_0, ConvolutionInputGenerator_rtl_1,
Pool_hls_0, LabelSelect_hls_0, ...). dqhw writes the folding it applied in exactly that format
(DIR/folding_config.json, via finn's extract_model_config_to_json), so the file works with finn's
own flow and round-trips through `dqhw build --folding`. Keys may also use dqhw's node names
(DqhwMVAU_0, DqhwMaxPool_0, DqhwLabelSelect_0); they are mapped to the finn node they replace.
"""

from __future__ import annotations

import json
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.layers import LAYERS

# the attributes finn's step_apply_folding_config writes back (finn-plus 1.6.1)
HW_ATTRS = [
    "PE", "SIMD", "EmbFold", "SeqFold", "parallel_window", "ram_style", "ram_style_thresholds", "ram_style_mask",
    "depth", "impl_style", "resType", "mac_resource", "mem_mode", "runtime_writeable_weights",
    "depth_trigger_uram", "depth_trigger_bram",
]

# dqhw node type -> the finn op types it replaces (the n-th dqhw node of a type replaces the n-th finn one)
DQHW_TO_FINN = {t.op_type: t.replaces for t in LAYERS if t.folding_names}


def load_folding(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DqhwError(f"--folding {path}: no such file")
    try:
        cfg = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise DqhwError(f"--folding {path}: not valid JSON ({str(e)[:80]})") from None
    if not isinstance(cfg, dict) or not all(isinstance(v, dict) for v in cfg.values()):
        raise DqhwError(f"--folding {path}: expected finn's format {{\"Defaults\": {{}}, \"<node>\": {{\"PE\": ..}}}}")
    for name, attrs in cfg.items():
        for key, value in attrs.items():
            if key in ("PE", "SIMD") and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise DqhwError(f"--folding {path}: {name}.{key} must be a positive integer, got {value!r}")
    return cfg


def map_names(cfg: dict, model) -> dict:
    """Rename keys given with dqhw node names to the finn names; reject unknown node names."""
    names = [n.name for n in model.graph.node]
    by_type: dict[str, list[str]] = {}
    for n in model.graph.node:
        for dq, finn_types in DQHW_TO_FINN.items():
            if n.op_type in finn_types:
                by_type.setdefault(dq, []).append(n.name)
    out = {}
    for key, value in cfg.items():
        if key == "Defaults" or key in names:
            out[key] = value
            continue
        prefix, _, idx = key.rpartition("_")
        if prefix in by_type and idx.isdigit() and int(idx) < len(by_type[prefix]):
            out[by_type[prefix][int(idx)]] = value
            continue
        raise DqhwError(f"--folding: no node named {key!r} in this graph (nodes: {', '.join(names)})")
    return out


def apply_folding(model, cfg: dict):
    """finn's ApplyConfig with the (name-mapped) config; attribute errors become one-line errors."""
    from finn.transformation.general import ApplyConfig

    from dqhw.finn_compat import quiet

    try:
        with quiet():  # finn logs the nodes the config does not mention
            return model.transform(ApplyConfig(cfg))
    except (AttributeError, KeyError, AssertionError, ValueError) as e:
        raise DqhwError(f"--folding: cannot apply ({type(e).__name__}: {str(e)[:100]})") from None


def check_folding(model) -> None:
    """Every PE/SIMD must divide what it folds; depthwise window generators must match their pool."""
    from qonnx.custom_op.registry import getCustomOp

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise DqhwError(f"folding: {msg}")

    for node in model.graph.node:
        op = node.op_type
        if not node.domain.startswith("finn.custom_op.fpgadataflow") and not node.domain.startswith("dqhw"):
            continue
        inst = getCustomOp(node)
        a = inst.get_nodeattr
        base = op[:-4] if op.endswith(("_hls", "_rtl")) else op
        if base in ("MVAU", "DqhwMVAU", "VVAU"):
            pe, simd, mh, mw = a("PE"), a("SIMD"), a("MH"), a("MW")
            need(pe >= 1 and mh % pe == 0, f"{node.name}: PE={pe} does not divide MH={mh}")
            need(simd >= 1 and mw % simd == 0, f"{node.name}: SIMD={simd} does not divide MW={mw}")
        elif base == "ConvolutionInputGenerator":
            simd, ch = a("SIMD"), a("IFMChannels")
            need(simd >= 1 and ch % simd == 0, f"{node.name}: SIMD={simd} does not divide {ch} channels")
            if a("depthwise"):
                for consumer in model.find_consumers(node.output[0]) or []:
                    c_inst = getCustomOp(consumer)
                    if consumer.op_type.startswith(("Pool", "DqhwMaxPool")):
                        pe = c_inst.get_nodeattr("PE")
                        need(pe == simd, f"{node.name}: SIMD={simd} must equal {consumer.name} PE={pe} "
                                         "(depthwise window stream)")
            elif a("parallel_window"):
                need(simd == ch, f"{node.name}: parallel_window=1 needs SIMD = {ch} channels")
        elif base in ("Pool", "DqhwMaxPool"):
            pe, ch = a("PE"), a("Channels")
            need(pe >= 1 and ch % pe == 0, f"{node.name}: PE={pe} does not divide {ch} channels")
        elif base in ("LabelSelect", "DqhwLabelSelect"):
            pe, n = a("PE"), a("Labels")
            need(pe >= 1 and n % pe == 0, f"{node.name}: PE={pe} does not divide {n} labels")
        elif base == "Thresholding":
            pe, ch = a("PE"), a("NumChannels")
            need(pe >= 1 and ch % pe == 0, f"{node.name}: PE={pe} does not divide {ch} channels")
        elif base == "FMPadding":
            simd, ch = a("SIMD"), a("NumChannels")
            need(simd >= 1 and ch % simd == 0, f"{node.name}: SIMD={simd} does not divide {ch} channels")


def write_folding_config(model, path: str | Path) -> dict:
    """finn's extract_model_config_to_json of the folded finn graph; returns the dict."""
    from finn.util.config import extract_model_config_to_json

    extract_model_config_to_json(model, str(path), HW_ATTRS)
    return json.loads(Path(path).read_text())
