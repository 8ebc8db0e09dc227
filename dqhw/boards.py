"""Boards as data: adding a board is adding an entry to BOARDS."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dqhw.errors import DqhwError


@dataclass(frozen=True)
class Board:
    name: str  # dqhw's name (the --board value)
    part: str  # FPGA part
    board_part: str  # Vivado board part
    finn_board: str  # finn-plus' board name (DataflowBuildConfig.board)
    clock_ns: float  # default clock period
    lut: int
    ff: int
    bram18: int  # BRAM in 18 Kb halves (a BRAM36 = 2)
    dsp: int
    dsp_type: str = "DSP48E1"

    @property
    def bram36(self) -> int:
        return self.bram18 // 2

    @property
    def clock_mhz(self) -> float:
        return 1000.0 / self.clock_ns

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bram36"] = self.bram36
        return d


BOARDS: dict[str, Board] = {
    "pynq-z2": Board(
        name="pynq-z2", part="xc7z020clg400-1", board_part="tul.com.tw:pynq-z2:part0:1.0", finn_board="Pynq-Z2",
        clock_ns=10.0, lut=53_200, ff=106_400, bram18=280, dsp=220,
    ),
}


def get_board(name: str) -> Board:
    key = str(name).lower()
    if key not in BOARDS:
        raise DqhwError(f"unknown board {name!r}; choose one of {', '.join(sorted(BOARDS))}")
    return BOARDS[key]
