"""The layer types dqhw builds, one registration each: the dqhw node type (and where its class is:
shapes, estimates, `rtl_params()` = the Verilog module's ports and parameters, exact execution), the
rtl/ module generate_rtl instantiates, the finn op types ReplaceWithDqhwNodes turns into it, whether
a `--folding` file may name it like those finn nodes, and what the rest of the build must know (a
residual-graph layer; an HLS layer in hls/). A new layer type: its class under dqhw/customop, its
Verilog under rtl/, its HLS header, and one LayerType here. Data only (no imports): the light modules
that need these facts (rtlgen, the folding search) do not load finn."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayerType:
    op_type: str  # the node type, domain dqhw.customop
    cls: str  # "module:Class" of its qonnx CustomOp (dqhw.customop registers it)
    verilog: str  # the rtl/ module generate_rtl instantiates for it
    replaces: tuple[str, ...] = ()  # finn op types ReplaceWithDqhwNodes replaces by it (() : made by a dqhw pass)
    folding_names: bool = False  # a --folding file may name the n-th one like the n-th finn node it replaced
    residual: bool = False  # a layer of residual graphs (forks, adds, global pooling): the folding search
    # leaves it alone, and hls/ has no layer for it yet
    hls: bool = True  # hls/ has a layer for it (dqhw.hlsgen)


LAYERS = (
    LayerType("DqhwMVAU", "dqhw.customop.mvau:DqhwMVAU", "dqhw_mvau", ("MVAU", "MVAU_hls", "MVAU_rtl"),
              folding_names=True),
    LayerType("DqhwMaxPool", "dqhw.customop.maxpool:DqhwMaxPool", "dqhw_maxpool", ("Pool", "Pool_hls"),
              folding_names=True),
    LayerType("DqhwLabelSelect", "dqhw.customop.labelselect:DqhwLabelSelect", "dqhw_label_select",
              ("LabelSelect", "LabelSelect_hls"), folding_names=True),
    LayerType("DqhwAddStreams", "dqhw.customop.residual:DqhwAddStreams", "dqhw_add", residual=True, hls=False),
    LayerType("DqhwDuplicateStreams", "dqhw.customop.residual:DqhwDuplicateStreams", "dqhw_stream_fork",
              ("DuplicateStreams", "DuplicateStreams_hls"), residual=True, hls=False),
    LayerType("DqhwGlobalAccPool", "dqhw.customop.residual:DqhwGlobalAccPool", "dqhw_global_acc_pool",
              ("GlobalAccPool", "GlobalAccPool_hls"), residual=True, hls=False),
)
BY_OP = {t.op_type: t for t in LAYERS}


def verilog_modules() -> dict[str, str]:
    """{dqhw node type: its rtl/ module}."""
    return {t.op_type: t.verilog for t in LAYERS}


def replacements() -> dict[str, str]:
    """{finn op type: the dqhw node type that replaces it}."""
    return {finn: t.op_type for t in LAYERS for finn in t.replaces}


def residual_ops() -> tuple[str, ...]:
    return tuple(t.op_type for t in LAYERS if t.residual)


def without_hls() -> tuple[str, ...]:
    return tuple(t.op_type for t in LAYERS if not t.hls)
