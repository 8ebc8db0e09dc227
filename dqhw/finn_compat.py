"""The one place where dqhw meets finn-plus' import-time needs (finn-plus 1.6.1 used as a library).

- finn-plus reads its settings from the environment on first use: FINN_BUILD_DIR must name an
  existing directory (code generation and partitioning put files there). `prepare()` sets it to
  `$FINN_BUILD_DIR` if given, else to a per-user folder under the system temp directory.
- `finn.builder.build_dataflow_steps` imports `finn.xsi.SimEngine` for a type annotation only;
  resolving that name runs finn-plus' XSI check, which raises "XILINX_VIVADO environment variable
  not set" on machines without Vivado. Binding a placeholder on `finn.xsi` before the import keeps
  the lazy lookup from ever running. Nothing in dqhw simulates with XSI.
- finn-plus prints progress to stdout and emits warnings; `quiet()` sends both to a log file.

Everything else (step functions, transformations, custom ops) is imported from finn normally, after
`prepare()`. Never call `build_dataflow_cfg` (its exit path demands XILINX_VIVADO) or the `finn` CLI.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

_PREPARED = False


class _NoSimEngine:
    """Stands in for finn.xsi.SimEngine (Vivado XSI), which dqhw never uses."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("XSI RTL simulation (Vivado) is not available in dqhw; use Verilator (dqhw sim)")


def finn_build_dir() -> Path:
    env = os.environ.get("FINN_BUILD_DIR")
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"dqhw-finn-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def prepare() -> None:
    """Make finn-plus importable without Vivado. Idempotent and cheap; call before any finn import."""
    global _PREPARED
    if _PREPARED:
        return
    build_dir = finn_build_dir()
    build_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FINN_BUILD_DIR"] = str(build_dir)
    import finn.xsi as xsi

    if "SimEngine" not in vars(xsi):
        xsi.SimEngine = _NoSimEngine  # type: ignore[attr-defined]
    _PREPARED = True


def steps():
    """The module `finn.builder.build_dataflow_steps` (slow first import, ~5 s)."""
    prepare()
    with quiet():
        import finn.builder.build_dataflow_steps as s
    return s


def make_config(output_dir: str | Path, fpga_part: str, finn_board: str | None, clock_ns: float,
                target_fps: int | None = None, folding_file: str | Path | None = None,
                mvau_wwidth_max: int = 36):
    """A DataflowBuildConfig for the estimate-only front half (no Vivado outputs)."""
    prepare()
    from finn.builder.build_dataflow_config import DataflowBuildConfig, DataflowOutputType

    return DataflowBuildConfig(
        output_dir=str(output_dir),
        synth_clk_period_ns=float(clock_ns),
        board=finn_board,
        fpga_part=fpga_part,
        target_fps=target_fps,
        folding_config_file=Path(folding_file) if folding_file else None,
        generate_outputs=[DataflowOutputType.ESTIMATE_REPORTS],
        save_intermediate_models=True,
        mvau_wwidth_max=mvau_wwidth_max,
        auto_fifo_depths=False,
    )


@contextlib.contextmanager
def quiet(log_path: str | Path | None = None) -> Iterator[None]:
    """Silence finn-plus' prints, warnings and log records (appended to log_path when given)."""
    import logging

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("finn_logger", "qonnx", "brevitas")]
    saved = [(lg, lg.handlers[:], lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers = [handler]
        lg.propagate = False
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, handlers, propagate in saved:
            lg.handlers = handlers
            lg.propagate = propagate
        text = buf.getvalue()
        if log_path is not None and text:
            with open(log_path, "a") as f:
                f.write(text)
        elif os.environ.get("DQHW_DEBUG") and text:
            sys.stderr.write(text)


# ------------------------------------------------------------------------------------------------
# execution helpers
# ------------------------------------------------------------------------------------------------
GENERIC_DOMAIN = "finn.custom_op.fpgadataflow"


def generic_copy(model):
    """A copy of `model` in which every finn `X_hls` / `X_rtl` node is mapped back to the generic
    `X` (domain finn.custom_op.fpgadataflow, exec_mode dropped), so execute_onnx runs it in Python.
    (The specialized RTL/HLS classes execute only under cppsim/rtlsim.) dqhw nodes are kept."""
    prepare()
    from qonnx.core.modelwrapper import ModelWrapper

    m = ModelWrapper(model.model.__deepcopy__()) if hasattr(model, "model") else ModelWrapper(model)
    for node in m.graph.node:
        if node.domain in (GENERIC_DOMAIN + ".rtl", GENERIC_DOMAIN + ".hls"):
            for suffix in ("_rtl", "_hls"):
                if node.op_type.endswith(suffix):
                    node.op_type = node.op_type[: -len(suffix)]
            node.domain = GENERIC_DOMAIN
            keep = [a for a in node.attribute if a.name != "exec_mode"]
            del node.attribute[:]
            node.attribute.extend(keep)
    return m


def execute(model, inputs: dict, full_context: bool = False) -> dict:
    """finn's execute_onnx (follows StreamingDataflowPartition nodes), silenced."""
    prepare()
    from finn.core.onnx_exec import execute_onnx

    with quiet():
        return execute_onnx(model, inputs, return_full_exec_context=full_context)
