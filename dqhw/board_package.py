"""Board package: what a user with Vivado needs to turn BUILD/rtl into a bitstream and run it.

Writes BUILD/board/: build_bitstream.tcl (Vivado project + Zynq block design with two AXI DMAs),
driver.py (PYNQ), README.md. Everything up to here runs without vendor tools; the bitstream itself
needs Vivado, and `dqhw build` says so in one line.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from dqhw.boards import Board
from dqhw.errors import DqhwError
from dqhw.resources import hw_dir
from dqhw.rtlgen.generate import Design

VIVADO_LINE = ("bitstream: needs Xilinx Vivado 2022.2+ (XILINX_VIVADO set, vivado on PATH), then "
               "`vivado -mode batch -source board/build_bitstream.tcl` in the build directory")


def _dma_width(bits: int) -> int:
    """AXI DMA stream widths are 8..1024 bits in powers of two."""
    w = 8
    while w < bits:
        w *= 2
    return w


def write_board_package(build_dir: Path, board: Board) -> tuple[Path, str]:
    """Render the templates for `board`; returns (board dir, one-line status for the user)."""
    build_dir = Path(build_dir)
    design = Design.load(build_dir / "rtl")
    out = build_dir / "board"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    clock_mhz = board.clock_mhz
    values = {
        "BOARD": board.name, "PART": board.part, "BOARD_PART": board.board_part,
        "CLOCK_MHZ": f"{clock_mhz:g}", "CLOCK_MHZ_INT": str(int(round(clock_mhz))),
        "IN_WIDTH": str(design.in_width), "LABEL_WIDTH": str(design.label_width),
        "LOGITS_WIDTH": str(design.logits_width),
        "IN_WIDTH_DMA": str(_dma_width(design.in_width)), "LABEL_WIDTH_DMA": str(_dma_width(design.label_width)),
        "LOGITS_WIDTH_DMA": str(_dma_width(design.logits_width)),
        "IN_SHAPE": "x".join(map(str, design.in_shape)), "IN_SHAPE_TUPLE": str(tuple(design.in_shape)),
        "IN_ELEMS": str(design.in_elems_per_beat), "IN_BYTES": str(_dma_width(design.in_width) // 8),
        "LABEL_BYTES": str(_dma_width(design.label_width) // 8),
        "LOGIT_BEATS": str(design.logits_beats_per_frame), "LOGITS_PER_BEAT": str(design.logits_per_beat),
        "LOGIT_BITS": str(design.logits_elem_bits), "LOGIT_BYTES": str(_dma_width(design.logits_width) // 8),
        "NUM_CLASSES": str(design.num_classes),
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
        f"- `build_bitstream.tcl`: Vivado project, Zynq PS7 + two AXI DMAs + `dqhw_accel` at {clock_mhz:g} MHz; "
        "writes dqhw.bit, dqhw.hwh, utilization.rpt, timing.rpt.\n"
        "- `driver.py`: PYNQ driver (copy dqhw.bit, dqhw.hwh and driver.py to the board).\n\n"
        f"{status}\n")
    return out, status
