"""Boards as data: adding a board is adding an entry to BOARDS.

Two families: Zynq-7000 (xc7: Vivado board package, PYNQ driver) and Lattice ECP5 (open flow:
Yosys synth_ecp5 -> nextpnr-ecp5 -> ecppack, dqhw.pnr). Resource counts are the board's own units:
LUT6 / BRAM18 / DSP48E1 on xc7; LUT4 (nextpnr's TRELLIS_COMB sites) / EBR (DP16KD, 18 Kb: the same
aspect ratios as a RAMB18) / MULT18X18D on ECP5 (the counts nextpnr-ecp5 0.11 reports as available
for the device). dqhw's resource model estimates in xc7 units (dqhw.estimate, finn's estimators); an
ECP5 board converts them with `lut_per_model_lut` (LUT4 per estimated LUT6, docs/build.md "ECP5").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dqhw.errors import DqhwError

# the part finn's estimators and code generators are given for a board that is not a Xilinx part:
# dqhw's resource model and finn's RTL templates are the xc7 ones (the RTL is the same for any part)
MODEL_PART = "xc7z020clg400-1"


@dataclass(frozen=True)
class Ecp5Pins:
    """What the open ECP5 flow needs to know about a board (dqhw.pnr)."""

    device: str  # nextpnr-ecp5's device flag: 12k, 25k, 45k, 85k (--85k)
    package: str  # nextpnr-ecp5 --package
    speed: int  # nextpnr-ecp5 --speed
    osc_mhz: float  # the board's oscillator
    osc_pin: str  # its ball (LPF SITE)
    uart_tx_pin: str  # FPGA transmits to the host
    uart_rx_pin: str  # FPGA receives from the host
    uart_note: str  # what carries the UART to the host
    lpf: str  # template under flows/ecp5/
    loader_board: str  # openFPGALoader's --board name


@dataclass(frozen=True)
class Board:
    name: str  # dqhw's name (the --board value)
    part: str  # FPGA part
    board_part: str  # Vivado board part ("" when the board has no Vivado flow)
    finn_board: str | None  # finn-plus' board name (DataflowBuildConfig.board; None: finn knows none)
    clock_ns: float  # default clock period
    lut: int  # in lut_unit
    ff: int
    bram18: int  # BRAM in 18 Kb blocks (a BRAM36 = 2; an ECP5 DP16KD = 1)
    dsp: int
    dsp_type: str = "DSP48E1"
    family: str = "xc7"  # "xc7" (Vivado board package) or "ecp5" (place_route with the open flow)
    lut_unit: str = "LUT"
    bram_unit: str = "BRAM18"
    lut_per_model_lut: float = 1.0  # board LUTs per LUT of dqhw's (xc7 LUT6) resource model
    ecp5: Ecp5Pins | None = None

    @property
    def bram36(self) -> int:
        return self.bram18 // 2

    @property
    def clock_mhz(self) -> float:
        return 1000.0 / self.clock_ns

    @property
    def finn_part(self) -> str:
        """The part finn's estimators and RTL generators see (the board's own part on xc7)."""
        return self.part if self.family == "xc7" else MODEL_PART

    @property
    def model_lut(self) -> int:
        """The board's LUTs in the resource model's units (what the folding search and fit check use)."""
        return int(self.lut / self.lut_per_model_lut)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bram36"] = self.bram36
        d["model_lut"] = self.model_lut
        return d


# LUT4 per estimated LUT6 on ECP5: measured on the digits build (docs/build.md, "ECP5 resource model")
ECP5_LUT4_PER_LUT6 = 1.25

BOARDS: dict[str, Board] = {
    "pynq-z2": Board(
        name="pynq-z2", part="xc7z020clg400-1", board_part="tul.com.tw:pynq-z2:part0:1.0", finn_board="Pynq-Z2",
        clock_ns=10.0, lut=53_200, ff=106_400, bram18=280, dsp=220,
    ),
    # ULX3S v2/v3 (emard/ulx3s, doc/constraints/ulx3s_v20.lpf): 25 MHz oscillator on G2, FT231X
    # USB-UART on the same USB port that programs the FPGA (ftdi_rxd L4: FPGA transmits, ftdi_txd M1:
    # FPGA receives). Default clock 50 MHz: the oscillator through an EHXPLLL made by ecppll.
    "ulx3s-85f": Board(
        name="ulx3s-85f", part="LFE5U-85F-6BG381C", board_part="", finn_board=None, clock_ns=20.0,
        lut=83_640, ff=83_640, bram18=208, dsp=156, dsp_type="MULT18X18D", family="ecp5", lut_unit="LUT4",
        bram_unit="EBR", lut_per_model_lut=ECP5_LUT4_PER_LUT6,
        ecp5=Ecp5Pins(device="85k", package="CABGA381", speed=6, osc_mhz=25.0, osc_pin="G2", uart_tx_pin="L4",
                      uart_rx_pin="M1", uart_note="FT231X USB-UART (the board's USB port US1)",
                      lpf="ulx3s.lpf.in", loader_board="ulx3s"),
    ),
    # OrangeCrab r0.2 25F (orangecrab-fpga/orangecrab-examples, verilog/orangecrab_r0.2.1.pcf): 48 MHz
    # oscillator on A9. No USB-UART chip (its USB goes to the FPGA): the UART is on the Feather
    # header's pins 0 (RX, ball N17) and 1 (TX, M18) for a 3.3 V USB-serial cable.
    "orangecrab-25f": Board(
        name="orangecrab-25f", part="LFE5U-25F-8MG285C", board_part="", finn_board=None, clock_ns=1000.0 / 48.0,
        lut=24_288, ff=24_288, bram18=56, dsp=28, dsp_type="MULT18X18D", family="ecp5", lut_unit="LUT4",
        bram_unit="EBR", lut_per_model_lut=ECP5_LUT4_PER_LUT6,
        ecp5=Ecp5Pins(device="25k", package="CSFBGA285", speed=8, osc_mhz=48.0, osc_pin="A9", uart_tx_pin="M18",
                      uart_rx_pin="N17", uart_note="Feather header pins 1 (TX) and 0 (RX), an external 3.3 V "
                      "USB-serial cable", lpf="orangecrab.lpf.in", loader_board="orangeCrab"),
    ),
}


def get_board(name: str) -> Board:
    key = str(name).lower()
    if key not in BOARDS:
        raise DqhwError(f"unknown board {name!r}; choose one of {', '.join(sorted(BOARDS))}")
    return BOARDS[key]
