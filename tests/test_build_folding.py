"""Folding: the applied folding is saved in finn's format, finn's ApplyConfig accepts it, and
`dqhw build --folding` reproduces the same folded graph from it (round trip)."""

from __future__ import annotations

import json

import pytest

from dqhw.errors import DqhwError
from tests.build_helpers import ROOT, built, load_dataflow, run_dir

RUN = dict(bits="2", wbits="2", seed=2)  # the thr_b2 run of test_thresholds / test_golden


def folding_of(model) -> dict:
    from qonnx.custom_op.registry import getCustomOp

    out = {}
    for n in model.graph.node:
        inst = getCustomOp(n)
        attrs = inst.get_nodeattr_types()
        out[n.name] = {k: inst.get_nodeattr(k) for k in ("PE", "SIMD", "parallel_window", "ram_style") if k in attrs}
    return out


def test_folding_config_is_finn_format_and_finn_applies_it():
    from finn.transformation.general import ApplyConfig
    from qonnx.core.modelwrapper import ModelWrapper

    from dqhw.finn_compat import quiet
    from dqhw.folding.config import HW_ATTRS

    out = built("thr_b2", **RUN)
    cfg = json.loads((out / "folding_config.json").read_text())
    assert cfg["Defaults"] == {}
    mvaus = [k for k in cfg if k.startswith("MVAU_hls_")]
    assert len(mvaus) == 4 and all({"PE", "SIMD", "ram_style"} <= set(cfg[k]) for k in mvaus)
    assert any(k.startswith("ConvolutionInputGenerator_rtl_") for k in cfg)
    # finn's own ApplyConfig on finn's unfolded specialized graph gives back exactly this config
    unfolded = ModelWrapper(str(sorted((out / "intermediate").glob("*_specialize_layers.onnx"))[0]))
    with quiet():
        refolded = unfolded.transform(ApplyConfig(str(out / "folding_config.json")))
    from finn.util.config import extract_model_config

    assert extract_model_config(refolded, None, HW_ATTRS) == cfg


def test_folding_round_trip_through_dqhw_build():
    from dqhw.flow.pipeline import BuildOptions, build

    a = built("thr_b2", **RUN)
    b = build(BuildOptions(model=str(run_dir("thr_b2", **RUN)), out=str(ROOT / "builds" / "thr_b2_refold"),
                           folding=str(a / "folding_config.json"), verify_frames=8, exec_frames=2, rtl=False))
    assert json.loads((b / "folding_config.json").read_text()) == json.loads((a / "folding_config.json").read_text())
    assert folding_of(load_dataflow(b)) == folding_of(load_dataflow(a))
    info = json.loads((b / "build.json").read_text())
    assert info["folding_source"].startswith("--folding")
    # the folding is not the trivial one: SetFolding parallelized something
    assert any(v.get("SIMD", 1) > 1 or v.get("PE", 1) > 1 for v in folding_of(load_dataflow(a)).values())


def test_dqhw_node_names_map_to_finn_names():
    from qonnx.core.modelwrapper import ModelWrapper

    from dqhw.folding.config import map_names

    out = built("thr_b2", **RUN)
    finn_graph = ModelWrapper(str(sorted((out / "intermediate").glob("*_specialize_layers.onnx"))[0]))
    cfg = {"Defaults": {}, "DqhwMVAU_1": {"PE": 2}, "DqhwMaxPool_0": {"PE": 4}, "LabelSelect_hls_0": {"PE": 2}}
    mapped = map_names(cfg, finn_graph)
    assert mapped == {"Defaults": {}, "MVAU_hls_1": {"PE": 2}, "Pool_hls_0": {"PE": 4}, "LabelSelect_hls_0": {"PE": 2}}
    with pytest.raises(DqhwError, match="no node named 'MVAU_hls_9'"):
        map_names({"MVAU_hls_9": {"PE": 1}}, finn_graph)


def test_check_folding_rejects_non_divisors():
    from qonnx.core.modelwrapper import ModelWrapper

    from dqhw.folding.config import apply_folding, check_folding

    out = built("thr_b2", **RUN)
    finn_graph = ModelWrapper(str(sorted((out / "intermediate").glob("*_specialize_layers.onnx"))[0]))
    check_folding(finn_graph)
    with pytest.raises(DqhwError, match="PE=3 does not divide MH=16"):
        check_folding(apply_folding(finn_graph, {"MVAU_hls_0": {"PE": 3}}))
    with pytest.raises(DqhwError, match="SIMD=5 does not divide MW=144"):
        check_folding(apply_folding(finn_graph, {"MVAU_hls_1": {"SIMD": 5}}))
    with pytest.raises(DqhwError, match="must equal"):
        check_folding(apply_folding(finn_graph, {"Pool_hls_0": {"PE": 2}}))


@pytest.mark.rtl
def test_user_folding_with_a_width_converter_before_label_select(tmp_path):
    """A user folding whose last MVAU emits 5 logits per beat while LabelSelect takes 1 (FINN's own
    CNV-W2A2 folding does this): finn inserts a width converter between them, and the logits leave on
    the converted stream. dqhw described them with the MVAU's PE, so the RTL deadlocked in FIFO sizing
    (and the logits fork joined streams of different widths). The build's RTL proof must now pass."""
    from dqhw.flow.pipeline import BuildOptions, build
    from dqhw.rtlgen.generate import Design

    a = built("thr_b2", **RUN)
    cfg = json.loads((a / "folding_config.json").read_text())
    last = sorted((k for k in cfg if k.startswith("MVAU_hls_")), key=lambda k: int(k.rsplit("_", 1)[1]))[-1]
    cfg[last]["PE"] = 5
    cfg["LabelSelect_hls_0"] = {"PE": 1}
    folding = tmp_path / "folding.json"
    folding.write_text(json.dumps(cfg))
    b = build(BuildOptions(model=str(run_dir("thr_b2", **RUN)), out=str(tmp_path / "b"), folding=str(folding),
                           verify_frames=16, exec_frames=2))
    design = Design.load(b / "rtl")
    assert design.logits_per_beat == 1 and design.logits_beats_per_frame == 10
    assert any(s.op_type.startswith("StreamingDataWidthConverter") for s in design.stages)
