"""A simulated `pynq` for running the generated PYNQ driver (BUILD/board/driver.py), unmodified,
against the Verilator model of the accelerator.

The driver imports `pynq`; put `fake_pynq_dir()` first on its PYTHONPATH (`driver_env`) and it gets
flows/zynq/pynq_sim/pynq, a shim over this module, without knowing it is simulated. It needs
DQHW_PYNQ_SIM_BUILD = the build directory. What it models, from the build itself:

- The block design: a dry run of BUILD/board/build_bitstream.tcl (dqhw.board.vivado_dry_run)
  gives the AXI DMAs (names, included channels, stream widths, length register, data-realignment
  engine) and, for each accelerator port, its path to a DMA channel through subset converters
  (TDATA_REMAP applied as the converter would). `Overlay("x.bit")` exposes every DMA under its cell
  name (`ol.dma0`, `ol.dma1`), as PYNQ does from the .hwh; the bit file must exist.
- The PL: `dqhw_accel` (BUILD/rtl) in a Verilator C++ harness that the fake drives over a pipe,
  cycle-accurate and lazy: nothing moves until the driver waits on a channel, then the simulation
  runs until that channel's transfer is complete. Each send transfer's bytes become DMA beats of the
  channel's width (little-endian, as the AXI DMA reads memory), then accelerator words; a receive
  channel is ready only while a transfer is armed, its beats are written back as bytes, and its
  transfer ends at TLAST (as the AXI DMA's S2MM does) or, an error, when the buffer is full before
  TLAST. Backpressure is real: a driver that waits in the wrong order deadlocks, and `wait()`, which
  on a board would spin for ever, raises once no beat has moved for the watchdog period.
- pynq's rules: transfers of whole `allocate`d buffers (or views of one), at most 2^c_sg_length_width
  - 1 bytes, aligned to the memory-mapped width without a realignment engine, one transfer per
  channel until it is waited for, whole beats on the send side; `allocate` returns memory filled
  with 0xA5 (the board gives no zeroed memory either).

Options (environment): DQHW_PYNQ_SIM_WORK (default BUILD/sim/pynq: harness build + run folder),
DQHW_PYNQ_SIM_STALL (0..255: per cycle, the probability x 256 that the DMA side withholds TVALID /
TREADY on each port), DQHW_PYNQ_SIM_SEED, DQHW_PYNQ_SIM_LOG (a JSON file: every transfer with its
bytes, beats and how it ended, and the cycles simulated; written at exit).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dqhw.board.vivado_dry_run import BlockDesign, StreamPath, block_design
from dqhw.errors import DqhwError
from dqhw.resources import hw_dir
from dqhw.rtlgen.generate import Design
from dqhw.simulate import testbench as tb
from dqhw.simulate.bulk_build import WATCHDOG_CYCLES
from dqhw.simulate.cpp_harness import HARNESS_ARGS
from dqhw.simulate.verilator import build_executable, readmem_problems
from dqhw.templates import render

ENV_BUILD = "DQHW_PYNQ_SIM_BUILD"
ENV_WORK = "DQHW_PYNQ_SIM_WORK"
ENV_STALL = "DQHW_PYNQ_SIM_STALL"
ENV_SEED = "DQHW_PYNQ_SIM_SEED"
ENV_LOG = "DQHW_PYNQ_SIM_LOG"
PORTS = ("m_axis", "m_axis_logits")  # the harness' receive ports, by index
EXE = "Vpynq_pl"
FILL = 0xA5


def fake_pynq_dir() -> Path:
    """The folder to put first on PYTHONPATH: it holds the `pynq` package of the simulation."""
    return hw_dir("flows") / "zynq" / "pynq_sim"


def driver_env(build_dir: str | Path, work_dir: str | Path | None = None, stall: int = 0, seed: int = 1,
               log: str | Path | None = None, base: dict | None = None) -> dict[str, str]:
    """Environment for running BUILD/board/driver.py against the simulation (subprocess env)."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([str(fake_pynq_dir())] + [p for p in [env.get("PYTHONPATH", "")] if p])
    env[ENV_BUILD] = str(Path(build_dir).resolve())
    if work_dir is not None:
        env[ENV_WORK] = str(Path(work_dir).resolve())
    env[ENV_STALL] = str(int(stall))
    env[ENV_SEED] = str(int(seed))
    if log is not None:
        env[ENV_LOG] = str(Path(log).resolve())
    return env


# --------------------------------------------------------------------------------------------------
# the PL: dqhw_accel in a Verilator C++ harness driven over a pipe
# --------------------------------------------------------------------------------------------------
def harness_cpp(has_label: bool) -> str:
    """main.cpp: commands on stdin, one per line.
    S <hex>        queue one s_axis word (the DMA's send side, after the converters)
    R <port> <n>   arm receive port 0 (m_axis) or 1 (m_axis_logits) for at most n beats
    W <S|0|1>      run until the send queue is empty / the port's transfer has ended; prints
                   B <port> <hex> <tlast> per beat taken, E <port> tlast|full when a transfer ends,
                   then D <cycle> (done) or H <cycle> (no beat moved for the watchdog period)
    Q              quit (prints Q <cycle>)"""
    label = "true" if has_label else "false"
    label_drive = ("top->m_axis_tready = rdy[0];" if has_label else "")
    label_sample = ("if (rdy[0] && top->m_axis_tvalid) { take[0] = true; data[0] = get(top->m_axis_tdata); "
                    "last[0] = top->m_axis_tlast; }" if has_label else "")
    return render(Path(__file__).parent / "templates" / "pynq_harness.cpp.in", label=label, label_drive=label_drive,
                  label_sample=label_sample, label_reset="top->m_axis_tready = 0;" if has_label else "")


def build_harness(rtl_dir: Path, build_dir: Path, design: Design) -> tuple[Path, float]:
    """Verilate + compile dqhw_accel with the harness (cached by a stamp of sources, flags, main.cpp;
    Verilator's runtime objects reused across designs)."""
    sources = [rtl_dir / f for f in design.files]
    main = harness_cpp(design.label_width > 0)
    h = hashlib.sha256(json.dumps([list(HARNESS_ARGS), main]).encode())
    for s in sources:
        h.update(str(s).encode())
        h.update(s.read_bytes())
    return build_executable(build_dir, h.hexdigest(), main, sources, design.top, list(HARNESS_ARGS), EXE,
                            what="simulated PL: harness", jobs=1)


class SimulatedPL:
    """The accelerator behind the DMA channels: queue input words, arm receive ports, run until a
    channel is done. Beats taken on a receive port go to the callback registered for it."""

    _count = 0

    def __init__(self, build_dir: Path, work_dir: Path, stall: int = 0, seed: int = 1,
                 watchdog: int | None = None):
        self.build_dir = Path(build_dir)
        self.rtl_dir = self.build_dir / "rtl"
        self.design = Design.load(self.rtl_dir)
        self.watchdog = watchdog or max(WATCHDOG_CYCLES, 10 * int(self.design.expected_cycles_per_frame))
        work_dir = Path(work_dir)
        self.exe, self.build_s = build_harness(self.rtl_dir, work_dir / "build", self.design)
        # a run folder of its own (several simulations may share one harness build), holding every
        # memory file the RTL reads
        SimulatedPL._count += 1
        self.run_root = work_dir / f"pl-{os.getpid()}-{SimulatedPL._count}"
        run_dir = tb.fresh_run_dir(self.rtl_dir, self.run_root)
        self.log_path = run_dir / "pl.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen([str(self.exe), str(self.watchdog), str(int(stall)), str(int(seed))],
                                     cwd=run_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, bufsize=1)
        self.messages: list[str] = []
        self.cycles = 0
        self.on_beat: dict[int, object] = {}
        self.on_end: dict[int, object] = {}
        self._read_until(("READY",))
        self._check_messages()

    def _line(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            self._log.flush()
            err = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
            raise DqhwError(f"simulated PL: the simulation ended unexpectedly (exit {self.proc.poll()}): "
                            + " | ".join(self.messages[-3:] + err))
        return line.rstrip("\n")

    def _read_until(self, heads: tuple) -> str:
        while True:
            line = self._line()
            if line.split(" ", 1)[0] in heads:
                return line
            self.messages.append(line)

    def _check_messages(self) -> None:
        self._log.flush()
        problems = readmem_problems("\n".join(self.messages) + "\n" + self.log_path.read_text(errors="replace"))
        if problems:
            raise DqhwError(f"simulated PL: memory file problem: {problems[0]}")

    def _send(self, text: str) -> None:
        try:
            self.proc.stdin.write(text)
            self.proc.stdin.flush()
        except BrokenPipeError:
            self._line()  # reports how the simulation ended

    def send_words(self, words: list[int]) -> None:
        self._send("".join(f"S {w:x}\n" for w in words))

    def arm(self, port: int, beats: int) -> None:
        self._send(f"R {port} {int(beats)}\n")

    def run_until(self, what: str) -> tuple[bool, int]:
        """Run until `what` ("S": every queued input word taken; 0/1: that port's transfer ended).
        Returns (done, cycle); done False: nothing moved for the watchdog period."""
        self._send(f"W {what}\n")
        while True:
            line = self._line()
            parts = line.split()
            head = parts[0] if parts else ""
            if head == "B" and len(parts) == 4:
                port = int(parts[1])
                self.on_beat[port](int(parts[2], 16), parts[3] == "1")
            elif head == "E" and len(parts) == 3:
                self.on_end[int(parts[1])](parts[2])
            elif head in ("D", "H") and len(parts) == 2:
                self.cycles = int(parts[1])
                self._check_messages()
                return head == "D", self.cycles
            else:
                self.messages.append(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._send("Q\n")
                self._read_until(("Q",))
                self.proc.wait(timeout=10)
            except (DqhwError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if not self._log.closed:
            self._log.close()
            shutil.rmtree(self.run_root, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# the pynq API: allocate, Overlay, the AXI DMA and its channels
# --------------------------------------------------------------------------------------------------
_next_address = [0x1000_0000]


class PynqBuffer(np.ndarray):
    """An ndarray standing for physically contiguous memory (pynq.buffer.PynqBuffer): a physical
    address (page aligned; a view's address is offset into its base's), flush/invalidate, free."""

    def __array_finalize__(self, obj):
        if isinstance(obj, PynqBuffer) and getattr(obj, "physical_address", None) is not None:
            offset = self.__array_interface__["data"][0] - obj.__array_interface__["data"][0]
            self.physical_address = obj.physical_address + offset
        else:
            self.physical_address = None
        self.freed = False

    @property
    def device_address(self):
        return self.physical_address

    def flush(self):
        pass

    def invalidate(self):
        pass

    def sync_to_device(self):
        pass

    def sync_from_device(self):
        pass

    def freebuffer(self):
        self.freed = True

    def close(self):
        self.freed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.freebuffer()


def allocate(shape, dtype="u4", target=None, **kwargs) -> PynqBuffer:
    """pynq.allocate: contiguous memory, not zeroed (filled with 0xA5 here)."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    raw = np.full(max(nbytes, 1), FILL, dtype=np.uint8)
    buf = raw[:nbytes].view(dtype).reshape(shape).view(PynqBuffer)
    buf.physical_address = _next_address[0]
    _next_address[0] += (max(nbytes, 1) + 0xFFF) // 0x1000 * 0x1000
    return buf


@dataclass
class Transfer:
    dma: str
    channel: str  # mm2s | s2mm
    address: int
    nbytes: int
    beats: int = 0  # beats moved (DMA side)
    end: str = ""  # s2mm: tlast | full; mm2s: sent
    waited: bool = False
    overflow: bool = False
    bytes_written: int = 0
    buffer: np.ndarray | None = field(default=None, repr=False)

    def record(self) -> dict:
        return {"dma": self.dma, "channel": self.channel, "nbytes": self.nbytes, "beats": self.beats,
                "end": self.end, "bytes_written": self.bytes_written}


class SimulatedDMAError(RuntimeError):
    """What a real AXI DMA would signal with an error bit, or a wait that would never return."""


class DMAChannel:
    """One channel of the AXI DMA in simple mode (pynq.lib.dma._SDMAChannel / _DMAChannel)."""

    def __init__(self, sim: Simulation, dma: str, channel: str, cfg: dict, path: StreamPath | None):
        self.sim, self.dma, self.channel, self.path = sim, dma, channel, path
        self.name = f"{dma}.{'sendchannel' if channel == 'mm2s' else 'recvchannel'}"
        self.max_bytes = (1 << int(cfg["c_sg_length_width"])) - 1
        self.mm_bytes = int(cfg[f"c_m_axi_{channel}_data_width"]) // 8
        self.dre = cfg[f"c_include_{channel}_dre"] == "1"
        self.active: Transfer | None = None
        self._last_tlast = False
        self.port = PORTS.index(path.port) if path is not None and channel == "s2mm" else None
        if self.port is not None:
            sim.pl.on_beat[self.port] = self._beat
            sim.pl.on_end[self.port] = self._end

    @property
    def running(self) -> bool:
        return True

    @property
    def idle(self) -> bool:
        return self.active is None or self.active.waited or bool(self.active.end)

    def start(self):
        pass

    def stop(self):
        pass

    def _fail(self, msg: str):
        raise SimulatedDMAError(f"pynq (simulated PL): {self.name}: {msg}")

    def transfer(self, array, start: int = 0, nbytes: int = 0):
        if self.path is None:
            self._fail("this channel is not connected to the accelerator in the block design")
        if not isinstance(array, PynqBuffer) or array.physical_address is None:
            self._fail("transfer() needs a buffer from pynq.allocate (physically contiguous memory)")
        if getattr(array, "freed", False):
            self._fail("transfer() of a freed buffer")
        if not array.flags["C_CONTIGUOUS"]:
            self._fail("transfer() of a non-contiguous view")
        if self.active is not None and not self.active.waited:
            self._fail("DMA channel not idle: transfer() again before wait() on the previous transfer")
        nbytes = int(nbytes) or int(array.nbytes) - int(start)
        if start < 0 or nbytes <= 0 or start + nbytes > array.nbytes:
            self._fail(f"transfer of {nbytes} bytes at offset {start} outside the {array.nbytes}-byte buffer")
        if nbytes > self.max_bytes:
            raise ValueError(f"Transferred array is {nbytes} bytes, which exceeds the maximum DMA buffer size "
                             f"{self.max_bytes}.")
        address = array.physical_address + int(start)
        if not self.dre and address % self.mm_bytes:
            self._fail(f"address 0x{address:x} is not aligned to the {self.mm_bytes}-byte memory-map width "
                       "(the DMA has no data realignment engine)")
        flat = array.reshape(-1).view(np.uint8)[start:start + nbytes] if array.ndim else array.view(np.uint8)
        t = Transfer(self.dma, self.channel, address, nbytes, buffer=flat)
        self.active = t
        self.sim.transfers.append(t)
        beat_bytes = self.path.dma_bits // 8
        if self.channel == "mm2s":
            if nbytes % beat_bytes:
                self._fail(f"{nbytes} bytes are not whole {beat_bytes}-byte beats (a partial last beat: the "
                           "accelerator ignores TKEEP)")
            raw = np.array(flat, dtype=np.uint8).reshape(-1, beat_bytes)
            words = [self.path.to_accelerator(int.from_bytes(r.tobytes(), "little")) for r in raw]
            t.beats = len(words)
            self.sim.pl.send_words(words)
        else:
            self.sim.pl.arm(self.port, -(-nbytes // beat_bytes))

    def _beat(self, word: int, tlast: bool) -> None:
        t = self.active
        dma_word, last = self.path.to_dma(word, tlast)
        beat_bytes = self.path.dma_bits // 8
        data = dma_word.to_bytes(beat_bytes, "little")
        at = t.beats * beat_bytes
        n = max(0, min(beat_bytes, t.nbytes - at))
        t.buffer[at:at + n] = np.frombuffer(data[:n], dtype=np.uint8)
        t.beats += 1
        t.bytes_written += n
        t.overflow = t.overflow or n < beat_bytes  # a beat that does not fit: the packet is longer
        self._last_tlast = last

    def _end(self, how: str) -> None:
        t = self.active
        # the harness ends a transfer at the port's TLAST or when the buffer's beats are taken; the
        # DMA sees TLAST after the converters, and a beat that did not fit whole overflowed it
        t.end = "tlast" if how == "tlast" and self._last_tlast and not t.overflow else "full"

    def wait(self):
        t = self.active
        if t is None or t.waited:
            return
        what = "S" if self.channel == "mm2s" else str(self.port)
        if not t.end:
            done, cycle = self.sim.pl.run_until(what)
            if not done:
                t.end = "hang"
                self.sim.hangs += 1
                self._fail(f"wait() would never return: no AXI-Stream beat moved for {self.sim.pl.watchdog} cycles "
                           f"(cycle {cycle}); receive transfers armed: {self.sim.armed()}. An AXI DMA receive "
                           "transfer ends at TLAST (every frame here): a channel that is not re-armed stalls the "
                           "accelerator, and a send transfer then never finishes")
            if self.channel == "mm2s":
                t.end = "sent"
        t.waited = True
        if t.end == "full":
            self._fail(f"the {t.nbytes}-byte buffer filled before TLAST (the AXI DMA stops with an internal "
                       "error): the receive transfer is smaller than the packet, or TLAST does not reach the DMA")

    def __repr__(self):
        return f"<simulated {self.name}>"


class DMA:
    """pynq.lib.dma.DMA: `sendchannel` / `recvchannel` as the block design includes them."""

    def __init__(self, sim: Simulation, name: str):
        self.name = name
        cfg = sim.bd.dma_config(name)
        if cfg["c_include_sg"] != "0":
            raise SimulatedDMAError(f"pynq (simulated PL): {name} is built with scatter-gather "
                                    "(c_include_sg 1): pynq's DMA driver needs simple mode")
        paths = {(p.dma, p.channel): p for p in sim.paths.values()}
        for channel, attr in (("mm2s", "sendchannel"), ("s2mm", "recvchannel")):
            if cfg[f"c_include_{channel}"] == "1":
                setattr(self, attr, DMAChannel(sim, name, channel, cfg, paths.get((name, channel))))

    def __getattr__(self, key):
        if key in ("sendchannel", "recvchannel"):
            raise AttributeError(f"pynq (simulated PL): {self.name} has no {key} "
                                 "(the channel is not included in the block design)")
        raise AttributeError(key)


class Simulation:
    """The PL of one Overlay: the block design, the stream paths and the running simulation."""

    def __init__(self, build_dir: Path, work_dir: Path | None = None, stall: int = 0, seed: int = 1):
        self.build_dir = Path(build_dir)
        self.bd: BlockDesign = block_design(self.build_dir)
        design = Design.load(self.build_dir / "rtl")
        ports = {"s_axis": design.in_width, "m_axis_logits": design.logits_width}
        if design.label_width > 0:
            ports["m_axis"] = design.label_width
        self.paths = self.bd.stream_paths(ports)
        work = Path(work_dir) if work_dir else self.build_dir / "sim" / "pynq"
        self.pl = SimulatedPL(self.build_dir, work, stall=stall, seed=seed)
        self.transfers: list[Transfer] = []
        self.hangs = 0
        self.dmas = {name: DMA(self, name) for name in self.bd.dmas()}

    def armed(self) -> str:
        return ", ".join(f"{t.dma}.recvchannel ({t.beats} beats in)" for t in self.transfers
                         if t.channel == "s2mm" and not t.end) or "none"

    def report(self) -> dict:
        return {"build": str(self.build_dir), "cycles": self.pl.cycles, "hangs": self.hangs,
                "harness_build_s": round(self.pl.build_s, 2),
                "transfers": [t.record() for t in self.transfers], "messages": self.pl.messages[-20:]}

    def close(self) -> None:
        self.pl.close()


_simulations: list[Simulation] = []


def _at_exit() -> None:
    log = os.environ.get(ENV_LOG)
    for sim in _simulations:
        sim.close()
    if log and _simulations:
        Path(log).write_text(json.dumps([s.report() for s in _simulations], indent=1) + "\n")


atexit.register(_at_exit)


class Overlay:
    """pynq.Overlay over the simulated PL: the bit file must exist; the hardware is the build in
    $DQHW_PYNQ_SIM_BUILD (its block design from the Vivado script, its RTL in Verilator)."""

    def __init__(self, bitfile_name, dtbo=None, download=True, ignore_version=False, device=None, **kwargs):
        if not Path(bitfile_name).is_file():
            raise OSError(f"Bitstream file {bitfile_name} does not exist.")
        build = os.environ.get(ENV_BUILD)
        if not build:
            raise DqhwError(f"pynq (simulated PL): set {ENV_BUILD} to the dqhw build directory to simulate")
        self.bitfile_name = str(bitfile_name)
        self._sim = Simulation(Path(build), os.environ.get(ENV_WORK) or None,
                               stall=int(os.environ.get(ENV_STALL, "0") or 0),
                               seed=int(os.environ.get(ENV_SEED, "1") or 1))
        _simulations.append(self._sim)
        self.ip_dict = {name: {"type": "xilinx.com:ip:axi_dma:7.1", "fullpath": name} for name in self._sim.dmas}

    def __getattr__(self, key):
        sim = self.__dict__.get("_sim")
        if sim is not None and key in sim.dmas:
            return sim.dmas[key]
        names = ", ".join(sorted(sim.dmas)) if sim is not None else ""
        raise AttributeError(f"overlay has no IP {key!r} (IP: {names})")

    def download(self):
        pass

    def is_loaded(self) -> bool:
        return True


class _PL:
    def reset(self):
        pass


PL = _PL()

__all__ = ["DMA", "PL", "DMAChannel", "Overlay", "PynqBuffer", "SimulatedDMAError", "SimulatedPL", "Simulation",
           "allocate", "driver_env", "fake_pynq_dir"]
