"""A dry run of the board package's Vivado script, without Vivado, and the block design it describes.

`dry_run(build_dir)` evaluates BUILD/board/build_bitstream.tcl in plain Tcl (Python's tkinter, else
`tclsh`) with the Vivado commands replaced by the recording stand-ins of
flows/zynq/vivado_dry_run.tcl. That runs the script's own control flow: a Tcl error (a typo, a bad
substitution), a file it adds that does not exist, a pin of a cell it never created, a report or a
timing query before implementation all fail here as they would in Vivado. Timing is an input
(`wns`, `whs`, ...), so both verdicts of the script's slack check can be exercised.

`BlockDesign` is what the recorded calls build: the project's files and their types, the cells with
their CONFIG properties, the interface and plain nets, the reports, the bitstream. `stream_paths()`
follows every AXI-Stream port of the accelerator to its AXI DMA channel through any AXI4-Stream
subset converter (TDATA_REMAP evaluated as Verilog concatenation): the simulated PYNQ
(dqhw.board.pynq_sim) moves bytes exactly along these paths, so a driver tested against it is
tested against the block design the script would build. Vivado's own checks (IP parameter ranges,
interface inference, timing) are not modelled: the script still needs a Vivado run on a real
bitstream build.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.resources import hw_dir

SCRIPT = "build_bitstream.tcl"
# Vivado's defaults for the AXI DMA parameters the script may leave unset (PG021)
DMA_DEFAULTS = {"c_include_sg": "1", "c_include_mm2s": "1", "c_include_s2mm": "1", "c_sg_length_width": "14",
                "c_m_axis_mm2s_tdata_width": "32", "c_s_axis_s2mm_tdata_width": "32",
                "c_m_axi_mm2s_data_width": "32", "c_m_axi_s2mm_data_width": "32",
                "c_include_mm2s_dre": "0", "c_include_s2mm_dre": "0"}
AXI_DMA = "xilinx.com:ip:axi_dma"
SUBSET_CONVERTER = "xilinx.com:ip:axis_subset_converter"


def stubs_path() -> Path:
    return hw_dir("flows") / "zynq" / "vivado_dry_run.tcl"


def _tcl_quote(s: str) -> str:
    return "{" + str(s).replace("\\", "/") + "}"


def _program(script: Path, log: Path, timing: dict) -> str:
    cfg = "".join(f"set ::dqhw_dry::cfg({k}) {_tcl_quote(v)}\n" for k, v in timing.items())
    return (f"source {_tcl_quote(stubs_path())}\n{cfg}"
            f"if {{[catch {{source {_tcl_quote(script)}}} msg]}} {{\n"
            f"    ::dqhw_dry::finish {_tcl_quote(log)} error $msg\n"
            f"}} else {{\n"
            f"    ::dqhw_dry::finish {_tcl_quote(log)} ok {{}}\n"
            f"}}\n")


def _eval_tcl(program: str, cwd: Path) -> None:
    """Evaluate `program` in a fresh Tcl interpreter: tkinter's when Python has it, else tclsh."""
    try:
        import tkinter
    except ImportError:
        tkinter = None
    if tkinter is not None:
        try:
            interp = tkinter.Tcl()
        except Exception:  # noqa: BLE001  (a Python built without a usable Tcl library)
            interp = None
        if interp is not None:
            interp.eval(program)  # no `cd`: it would change this process' working directory
            return
    tclsh = shutil.which("tclsh") or shutil.which("tclsh8.6")
    if tclsh is None:
        raise DqhwError("a dry run of the Vivado script needs Tcl: Python's tkinter, or tclsh (apt-get install tcl)")
    proc = subprocess.run([tclsh], input=program, text=True, capture_output=True, cwd=cwd)
    if proc.returncode != 0:
        raise DqhwError(f"tclsh failed: {proc.stderr.strip()[-400:]}")


@dataclass
class Cell:
    name: str
    kind: str  # ip | module
    what: str  # VLNV (ip) or module name (module)
    config: dict = field(default_factory=dict)  # CONFIG.x -> value (without the CONFIG. prefix)

    def is_ip(self, vlnv_prefix: str) -> bool:
        return self.kind == "ip" and self.what.startswith(vlnv_prefix)


@dataclass
class Converter:
    """An AXI4-Stream subset converter: TDATA_REMAP / TLAST_REMAP as Verilog expressions."""

    name: str
    s_bytes: int
    m_bytes: int
    terms: list  # MSB first: ("slice", hi, lo) or ("const", width, value)
    tlast: str  # "pass" | "0" | "1"

    def data(self, word: int) -> int:
        out = 0
        for t in self.terms:
            if t[0] == "slice":
                _, hi, lo = t
                w = hi - lo + 1
                out = (out << w) | ((word >> lo) & ((1 << w) - 1))
            else:
                _, w, v = t
                out = (out << w) | (v & ((1 << w) - 1))
        return out

    def last(self, tlast: bool) -> bool:
        return tlast if self.tlast == "pass" else self.tlast == "1"


_TERM_SLICE = re.compile(r"^tdata\[(\d+)(?::(\d+))?\]$")
_TERM_CONST = re.compile(r"^(\d+)'([bhd])([0-9a-fA-F_]+)$")


def parse_remap(text: str, s_bits: int, m_bits: int, what: str) -> list:
    terms = []
    for raw in str(text).replace(" ", "").strip("{}").split(","):
        m = _TERM_SLICE.match(raw)
        if m:
            hi = int(m.group(1))
            lo = int(m.group(2)) if m.group(2) is not None else hi
            if lo > hi or hi >= s_bits:
                raise DqhwError(f"{what}: TDATA_REMAP term {raw} outside the {s_bits}-bit input")
            terms.append(("slice", hi, lo))
            continue
        m = _TERM_CONST.match(raw)
        if m:
            base = {"b": 2, "h": 16, "d": 10}[m.group(2)]
            terms.append(("const", int(m.group(1)), int(m.group(3).replace("_", ""), base)))
            continue
        raise DqhwError(f"{what}: cannot read TDATA_REMAP term {raw!r} (in {text!r})")
    width = sum(t[1] - t[2] + 1 if t[0] == "slice" else t[1] for t in terms)
    if width != m_bits:
        raise DqhwError(f"{what}: TDATA_REMAP {text!r} is {width} bits, the output is {m_bits}")
    return terms


@dataclass
class StreamPath:
    """One accelerator port and the DMA channel it is wired to, through `converters` (in stream
    order, from the producer to the consumer)."""

    port: str  # s_axis | m_axis | m_axis_logits
    dma: str
    channel: str  # mm2s | s2mm
    dma_bits: int  # the DMA channel's TDATA width
    port_bits: int  # the accelerator port's TDATA width (as the block design sees it)
    converters: list

    def to_accelerator(self, dma_word: int) -> int:
        for c in self.converters:
            dma_word = c.data(dma_word)
        return dma_word

    def to_dma(self, port_word: int, tlast: bool) -> tuple[int, bool]:
        for c in self.converters:
            port_word, tlast = c.data(port_word), c.last(tlast)
        return port_word, tlast


@dataclass
class BlockDesign:
    """What a dry run of build_bitstream.tcl recorded (see the module doc)."""

    build_dir: Path
    calls: list
    ok: bool
    error: str
    files: dict = field(default_factory=dict)  # path -> file_type ("" when none set)
    cells: dict = field(default_factory=dict)  # name -> Cell
    intf_nets: list = field(default_factory=list)  # (pin, pin) without leading "/"
    nets: list = field(default_factory=list)
    reports: dict = field(default_factory=dict)  # report command -> file
    bitstream: str | None = None
    copies: list = field(default_factory=list)  # (src, dst)
    messages: list = field(default_factory=list)  # what the script puts

    def calls_named(self, name: str) -> list:
        return [c for c in self.calls if c and c[0] == name]

    def index_of(self, name: str) -> int:
        """Position of the first call `name` (-1 when it was never made)."""
        return next((i for i, c in enumerate(self.calls) if c and c[0] == name), -1)

    def dma_config(self, name: str) -> dict:
        cell = self.cells.get(name)
        if cell is None or not cell.is_ip(AXI_DMA):
            raise DqhwError(f"block design: no AXI DMA named {name}")
        return DMA_DEFAULTS | cell.config

    def dmas(self) -> list[str]:
        return sorted(n for n, c in self.cells.items() if c.is_ip(AXI_DMA))

    def accelerator(self) -> str:
        hits = [n for n, c in self.cells.items() if c.kind == "module" and c.what == "dqhw_accel"]
        if len(hits) != 1:
            raise DqhwError(f"block design: expected one dqhw_accel module cell, found {hits}")
        return hits[0]

    def _converter(self, cell: Cell) -> Converter:
        cfg = cell.config
        try:
            s_bytes, m_bytes = int(cfg["S_TDATA_NUM_BYTES"]), int(cfg["M_TDATA_NUM_BYTES"])
        except (KeyError, ValueError):
            raise DqhwError(f"block design: subset converter {cell.name} without S/M_TDATA_NUM_BYTES") from None
        remap = cfg.get("TDATA_REMAP", f"tdata[{8 * min(s_bytes, m_bytes) - 1}:0]")
        terms = parse_remap(remap, 8 * s_bytes, 8 * m_bytes, cell.name)
        has_last = cfg.get("S_HAS_TLAST", "0") == "1" and cfg.get("M_HAS_TLAST", "0") == "1"
        tl = str(cfg.get("TLAST_REMAP", "tlast[0]" if has_last else "1'b0")).replace(" ", "").strip("{}")
        tlast = "pass" if tl == "tlast[0]" and has_last else "1" if tl == "1'b1" else "0"
        return Converter(cell.name, s_bytes, m_bytes, terms, tlast)

    def stream_paths(self, port_bits: dict[str, int]) -> dict[str, StreamPath]:
        """{accelerator port: its path to a DMA channel} for the ports in `port_bits` (their TDATA
        widths from design.json). Every width along a path must agree, as Vivado's validation wants."""
        accel = self.accelerator()
        peer: dict[str, str] = {}
        for a, b in self.intf_nets:
            for x, y in ((a, b), (b, a)):
                if x in peer:
                    raise DqhwError(f"block design: interface pin {x} is connected twice")
                peer[x] = y
        paths = {}
        for port, bits in port_bits.items():
            pin = f"{accel}/{port}"
            inbound = port == "s_axis"
            converters: list[Converter] = []
            width = bits
            here = pin
            seen = set()
            while True:
                if here not in peer:
                    raise DqhwError(f"block design: {here} is not connected")
                other = peer[here]
                if other in seen:
                    raise DqhwError(f"block design: a loop at {other}")
                seen.add(other)
                cell_name, _, intf = other.partition("/")
                cell = self.cells.get(cell_name)
                if cell is None:
                    raise DqhwError(f"block design: {here} connects to {other}, a cell that was never created")
                if cell.is_ip(SUBSET_CONVERTER):
                    conv = self._converter(cell)
                    # walking from the accelerator: an input path meets a converter's M side first
                    near, far = (conv.m_bytes, conv.s_bytes) if inbound else (conv.s_bytes, conv.m_bytes)
                    if intf != ("M_AXIS" if inbound else "S_AXIS") or 8 * near != width:
                        raise DqhwError(f"block design: {other} ({8 * near} bits) on {here} ({width} bits)")
                    converters.append(conv)
                    width = 8 * far
                    here = f"{cell_name}/{'S_AXIS' if inbound else 'M_AXIS'}"
                    continue
                if cell.is_ip(AXI_DMA):
                    cfg = DMA_DEFAULTS | cell.config
                    channel = "mm2s" if inbound else "s2mm"
                    want = "M_AXIS_MM2S" if inbound else "S_AXIS_S2MM"
                    if intf != want:
                        raise DqhwError(f"block design: {pin} reaches {other}, expected {cell_name}/{want}")
                    if cfg[f"c_include_{channel}"] != "1":
                        raise DqhwError(f"block design: {cell_name} has no {channel.upper()} channel "
                                        f"(c_include_{channel} 0) but {pin} is wired to it")
                    key = "c_m_axis_mm2s_tdata_width" if inbound else "c_s_axis_s2mm_tdata_width"
                    dma_bits = int(cfg[key])
                    if dma_bits != width:
                        raise DqhwError(f"block design: {other} is {dma_bits} bits, the stream into it {width}")
                    if inbound:
                        converters.reverse()  # stream order: DMA -> accelerator
                    paths[port] = StreamPath(port, cell_name, channel, dma_bits, bits, converters)
                    break
                raise DqhwError(f"block design: {pin} reaches {other}, neither a DMA nor a subset converter")
        return paths


def _interpret(build_dir: Path, records: list, status: str, message: str) -> BlockDesign:
    bd = BlockDesign(build_dir, records, status == "ok", message)
    for rec in records:
        op, args = rec[0], rec[1:]
        if op == "add_files":
            bd.files.setdefault(args[0], "")
        elif op == "set_property":
            obj, key, value = args
            if obj in bd.files and key == "file_type":
                bd.files[obj] = value
            elif obj.startswith("/") and obj[1:] in bd.cells and key.startswith("CONFIG."):
                bd.cells[obj[1:]].config[key[len("CONFIG."):]] = value
        elif op == "create_bd_cell":
            kind, what, name = args
            bd.cells[name] = Cell(name, kind, what)
        elif op == "connect_bd_intf_net":
            bd.intf_nets.append(tuple(a.lstrip("/") for a in args))
        elif op == "connect_bd_net":
            bd.nets.append(tuple(a.lstrip("/") for a in args))
        elif op in ("report_utilization", "report_timing_summary"):
            bd.reports[op] = args[0]
        elif op == "write_bitstream":
            bd.bitstream = args[0]
        elif op == "file" and args and args[0] == "copy":
            bd.copies.append((args[1], args[2]))
        elif op == "puts":
            bd.messages.append(args[0])
    return bd


def dry_run(build_dir: str | Path, script: str | Path | None = None, wns: float = 1.0, whs: float = 0.05,
            tns: float = 0.0, ths: float = 0.0, impl_status: str = "route_design Complete!") -> BlockDesign:
    """Evaluate BUILD/board/build_bitstream.tcl (or `script`) with the Vivado stand-ins; the routed
    design's timing is given (ns). Never raises for an error of the script itself: see
    BlockDesign.ok / .error (the message the script's `error` or a stand-in gave)."""
    build_dir = Path(build_dir).resolve()
    script = Path(script).resolve() if script else build_dir / "board" / SCRIPT
    if not script.is_file():
        raise DqhwError(f"{script}: no Vivado script (dqhw build writes it with the board package)")
    timing = {"wns": wns, "whs": whs, "tns": tns, "ths": ths, "impl_status": impl_status}
    with tempfile.TemporaryDirectory(prefix="dqhw-vivado-dry-") as tmp:
        log = Path(tmp) / "calls.jsonl"
        _eval_tcl(_program(script, log, timing), script.parent)
        if not log.is_file():
            raise DqhwError(f"dry run of {script}: no call log written")
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    status, message = "error", "no result"
    if records and records[-1][0] == "__result__":
        _, status, message = records.pop()
    return _interpret(build_dir, records, status, message)


def block_design(build_dir: str | Path) -> BlockDesign:
    """The block design of a build's Vivado script, from a dry run that must succeed."""
    bd = dry_run(build_dir)
    if not bd.ok:
        raise DqhwError(f"{Path(build_dir) / 'board' / SCRIPT}: the Vivado script fails a dry run: {bd.error}")
    return bd


__all__ = ["BlockDesign", "Cell", "Converter", "StreamPath", "block_design", "dry_run", "parse_remap"]
