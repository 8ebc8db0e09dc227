"""Board package: what a user with Vivado needs to turn BUILD/rtl into a bitstream and run it.

Writes BUILD/board/: build_bitstream.tcl (Vivado project + Zynq block design with two AXI DMAs;
reports to BUILD/report/vivado_*.rpt, fails on negative slack), driver.py (PYNQ), README.md.
Everything up to here runs without vendor tools; the bitstream itself needs Vivado, and `dqhw build`
says so in one line. Without Vivado, both files are still exercised: the script by a dry run in
plain Tcl (dqhw.board.vivado_dry_run), the driver, unmodified, against the Verilator model of the
accelerator behind a simulated `pynq` (dqhw.board.pynq_sim; tests/test_driver.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from dqhw.boards import Board
from dqhw.errors import DqhwError
from dqhw.resources import hw_dir
from dqhw.rtlgen.generate import Design

VIVADO_LINE = ("bitstream: needs Xilinx Vivado 2022.2+ (XILINX_VIVADO set, vivado on PATH), then "
               "`vivado -mode batch -source board/build_bitstream.tcl` in the build directory")


# the AXI DMAs' transfer length register (c_sg_length_width, at most 26): one transfer moves at most
# 2^26 - 1 bytes; the driver splits larger batches
DMA_LENGTH_BITS = 26


def _dma_width(bits: int) -> int:
    """AXI DMA stream widths are 8..1024 bits in powers of two."""
    w = 8
    while w < bits:
        w *= 2
    if w > 1024:
        raise DqhwError(f"a {bits}-bit stream is wider than an AXI DMA channel (1024 bits); fold the last layer "
                        "with a smaller PE")
    return w


def _build_clock_ns(build_dir: Path, board: Board) -> float:
    """The build's clock (build.json, once the build has finished), else the board's default."""
    try:
        return float(json.loads((build_dir / "build.json").read_text())["clock_ns"])
    except (OSError, ValueError, KeyError, TypeError):
        return float(board.clock_ns)


def _host_affine(build_dir: Path, design: Design, class_affine) -> tuple[list[float], list[float]]:
    """Per-class (scale, bias) the driver applies: from the build (class_affine, or build.json's
    outputs when class_on is "host"); a design with a class output needs none (ones, zeros)."""
    n = design.num_classes
    if design.label_width > 0:
        return [1.0] * n, [0.0] * n
    if class_affine is None:
        info = build_dir / "build.json"
        try:
            out = json.loads(info.read_text())["outputs"]
            if out.get("class_on") == "host":
                class_affine = (out["logits_scale"], out["logits_bias"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if class_affine is None:
        raise DqhwError(f"{build_dir}: the accelerator has no class output and no per-class scale/bias is known "
                        "(build.json outputs: class_on \"host\", logits_scale, logits_bias); cannot write the "
                        "driver's host class")
    scale = [float(v) for v in np.broadcast_to(np.asarray(class_affine[0], dtype=np.float64), (n,))]
    bias = [float(v) for v in np.broadcast_to(np.asarray(class_affine[1], dtype=np.float64), (n,))]
    return scale, bias


def _check_design(design: Design) -> None:
    """What the driver's packing assumes of the accelerator's streams (one line each otherwise)."""
    if design.in_elem_bits != 8 or design.in_width < 8 * design.in_elems_per_beat:
        raise DqhwError(f"board package: the driver sends uint8 pixels, the accelerator's input takes "
                        f"{design.in_elems_per_beat} x {design.in_elem_bits}-bit elements in {design.in_width} bits")
    if design.logits_beats_per_frame * design.logits_per_beat != design.num_classes:
        raise DqhwError(f"board package: {design.logits_beats_per_frame} x {design.logits_per_beat} logits per frame "
                        f"for {design.num_classes} classes")
    if design.logits_width < design.logits_per_beat * design.logits_elem_bits:
        raise DqhwError("board package: the logits stream is narrower than its elements")


def write_board_package(build_dir: Path, board: Board, class_affine=None, clock_ns: float | None = None
                        ) -> tuple[Path, str]:
    """Render the templates for `board`; returns (board dir, one-line status for the user).
    A design without a class output (label_width 0) gets a Vivado script without the class DMA
    channel and a driver that takes the class on the host with `class_affine` ((scale, bias) per
    class; default: build.json's). `clock_ns`: the build's clock (default: build.json's, else the
    board's)."""
    build_dir = Path(build_dir)
    design = Design.load(build_dir / "rtl")
    _check_design(design)
    scale, bias = _host_affine(build_dir, design, class_affine)
    has_class = design.label_width > 0
    out = build_dir / "board"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    clock_ns = float(clock_ns) if clock_ns is not None else _build_clock_ns(build_dir, board)
    clock_mhz = 1000.0 / clock_ns
    in_dma = _dma_width(design.in_width)
    label_dma = _dma_width(design.label_width) if has_class else 8
    logits_dma = _dma_width(design.logits_width)
    values = {
        "BOARD": board.name, "PART": board.part, "BOARD_PART": board.board_part,
        "CLOCK_MHZ": f"{clock_mhz:g}", "CLOCK_NS": f"{clock_ns:g}",
        "IN_WIDTH": str(design.in_width), "LABEL_WIDTH": str(design.label_width),
        "LOGITS_WIDTH": str(design.logits_width),
        "IN_WIDTH_DMA": str(in_dma), "LABEL_WIDTH_DMA": str(label_dma), "LOGITS_WIDTH_DMA": str(logits_dma),
        "DMA_LENGTH_BITS": str(DMA_LENGTH_BITS),
        "IN_SHAPE": "x".join(map(str, design.in_shape)), "IN_SHAPE_TUPLE": str(tuple(design.in_shape)),
        "IN_ELEMS": str(design.in_elems_per_beat), "IN_BYTES": str(in_dma // 8),
        "IN_BEATS": str(design.in_beats_per_frame),
        "LABEL_BYTES": str(label_dma // 8), "LABEL_BITS": str(max(design.label_bits, 1)),
        "LOGIT_BEATS": str(design.logits_beats_per_frame), "LOGITS_PER_BEAT": str(design.logits_per_beat),
        "LOGIT_BITS": str(design.logits_elem_bits), "LOGIT_BYTES": str(logits_dma // 8),
        "NUM_CLASSES": str(design.num_classes),
        "HAS_CLASS": "1" if has_class else "0", "HAS_CLASS_PY": str(has_class),
        "LOGITS_SCALE": repr(scale), "LOGITS_BIAS": repr(bias),
    }
    for template, name in (("build_bitstream.tcl.in", "build_bitstream.tcl"), ("driver.py.in", "driver.py")):
        text = (hw_dir("flows") / "zynq" / template).read_text()
        for k, v in values.items():
            text = text.replace(f"@{k}@", v)
        left = sorted(set(re.findall(r"@[A-Z_]+@", text)))
        if left:
            raise DqhwError(f"{template}: no value for {', '.join(left)}")
        (out / name).write_text(text)
    status = VIVADO_LINE
    if os.environ.get("XILINX_VIVADO") and shutil.which("vivado"):
        status = ("bitstream: Vivado found; run `vivado -mode batch -source board/build_bitstream.tcl` "
                  "in the build directory")
    (out / "README.md").write_text(
        f"# Board package for {board.name} ({board.part})\n\n"
        f"- `build_bitstream.tcl`: Vivado project, Zynq PS7 + two AXI DMAs + `dqhw_accel` at {clock_mhz:g} MHz "
        f"({clock_ns:g} ns); writes board/dqhw.bit and board/dqhw.hwh, and report/vivado_utilization.rpt and "
        "report/vivado_timing.rpt next to dqhw's report; stops with an error, without a bitstream, when the routed "
        "design has negative setup or hold slack.\n"
        "- `driver.py`: PYNQ driver (copy dqhw.bit, dqhw.hwh and driver.py to the board; "
        "`python3 driver.py frames.npy [--logits] [--out result.npz]`, or `Accelerator(\"dqhw.bit\").run(frames)`)"
        + ("." if has_class else "; the accelerator outputs integer logits only, the driver takes the class on the "
           "host: argmax(logits * scale + bias) per class in float64, ties to the lowest index.") + "\n\n"
        f"{status}\n")
    return out, status
