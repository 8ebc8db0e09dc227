"""The one ordered list of `dqhw build` steps. Each step is (model, cfg) -> model (dqhw.flow.steps up
to the verification, dqhw.flow.rtl_steps after it); its row says whether its model is saved as
DIR/intermediate/NN_name.onnx and what the pipeline does to the build folder after it. The steps
from `folding` to `check_fit` are the refold loop: the pipeline runs them again (at most
steps.MAX_REFOLDS times) while check_fit sets cfg.record.refold."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dqhw.flow import rtl_steps as rs
from dqhw.flow import steps as fs


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable  # (model, cfg) -> model
    saves: bool = True  # the step changes the graph: its model is saved as intermediate/NN_name.onnx
    after: Callable[[Path], None] | None = None  # what the pipeline does to the build folder after the step


def tidy_finn_outputs(out: Path) -> None:
    """Move finn's side outputs into intermediate/ (finn writes them to its output_dir)."""
    inter = out / "intermediate"
    finn_dir = out / "intermediate_models"
    if (finn_dir / "dataflow_parent.onnx").is_file():
        shutil.move(str(finn_dir / "dataflow_parent.onnx"), inter / "dataflow_parent.onnx")
    shutil.rmtree(finn_dir, ignore_errors=True)
    for name in ("template_specialize_layers_config.json",):
        if (out / name).is_file():
            shutil.move(str(out / name), inter / name)


FRONT = [
    Step("load_graph", fs.step_load_graph),
    Step("check_graph", fs.step_check_graph, saves=False),
    Step("qonnx_to_finn", fs.step_qonnx_to_finn),
    Step("tidy_up", fs.finn_step("step_tidy_up")),
    Step("fix_binary_acts", fs.step_fix_binary_acts),
    Step("streamline", fs.step_streamline),
    Step("residual", fs.step_residual),
    Step("split_output_affine", fs.step_split_output_affine),
    Step("convert_to_hw", fs.finn_step("step_convert_to_hw")),
    Step("check_hw", fs.step_check_hw, saves=False),
    Step("minimize_bit_width_initial", fs.finn_step("step_minimize_bit_width_initial")),
    Step("create_dataflow_partition", fs.step_create_dataflow_partition),
    Step("specialize_layers", fs.finn_step("step_specialize_layers")),
    Step("folding", fs.step_folding),
    Step("minimize_bit_width", fs.finn_step("step_minimize_bit_width")),
    Step("generate_estimate_reports", fs.step_estimate_reports, saves=False),
    Step("dqhw_nodes", fs.step_dqhw_nodes),
    Step("insert_dwc_fifo", fs.step_insert_dwc_fifo, after=tidy_finn_outputs),
    Step("check_fit_estimate", fs.step_check_fit, saves=False),
    Step("verify", fs.step_verify, saves=False),
]
RTL = [
    Step("size_fifos", rs.step_size_fifos),
    Step("check_fit", fs.step_check_fit, saves=False),
    Step("generate_rtl", rs.step_generate_rtl, saves=False),
    Step("prove_rtl", rs.step_prove_rtl, saves=False),
    Step("synthesize", rs.step_synthesize, saves=False),
    Step("board_package", rs.step_board_package, saves=False),
]
# ECP5 boards: the open place-and-route flow and its bitstream instead of the Vivado board package
RTL_ECP5 = RTL[:-1] + [Step("place_route", rs.step_place_route, saves=False)]
LAST = [Step("hls", rs.step_hls, saves=False), Step("report", rs.step_report, saves=False)]

REFOLD_FROM, REFOLD_TO = "folding", "check_fit"  # the refold loop's first and last step


def steps(rtl: bool = True, family: str = "xc7") -> list[Step]:
    back = (RTL_ECP5 if family == "ecp5" else RTL) if rtl else []
    return FRONT + back + LAST


def refold_span(step_list: list[Step]) -> tuple[int, int]:
    """Indices of the refold loop's first and last step (the last is check_fit_estimate without RTL)."""
    names = [s.name for s in step_list]
    last = REFOLD_TO if REFOLD_TO in names else "check_fit_estimate"
    return names.index(REFOLD_FROM), names.index(last)
