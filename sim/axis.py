"""AXI4-Stream helpers for dqhw's cocotb testbenches, built on cocotbext-axi (the verilog-axis
author's verification components).

- AxisSource: cocotbext-axi's AxiStreamSource driving `<prefix>_tdata/_tvalid` from queued integer
  beats (one beat = one TDATA word: `byte_lanes=1`), with a random pause generator: in any cycle
  a new beat is presented with probability `valid_prob` (< 1 inserts bubbles). A presented beat
  is never withdrawn (cocotbext's source only changes TVALID/TDATA after a handshake).
- AxisSink: cocotbext-axi's AxiStreamSink driving `<prefix>_tready` through a random pause
  generator (ready with probability `ready_prob`: < 1 = backpressure). `frames()` gives
  cocotbext's TLAST-delimited frames (a beat per frame on ports without TLAST).
- AxisChecker (inside both): a passive per-cycle monitor of one port that records every handshake
  (value and cycle, the basis of the bit-exact and throughput checks) and checks the AXI-Stream
  rule cocotbext-axi's monitor does not check: once TVALID is high it stays high, with TDATA
  unchanged, until the handshake. There is no X/Z check on TDATA: the Verilator builds are
  two-state, so such a check could never fire.
- reset() and start_clock() for the dqhw convention: `clk`, synchronous active-low `rst_n`.

Sampling: cocotbext-axi and AxisChecker sample the signals at the rising edge (the values of the
cycle that ends there); a beat is transferred at an edge where TVALID and TREADY were both 1.
Signals are found as `<prefix>_tdata` (verilog-axis style) or `<prefix>_TDATA` (FINN/Vivado
style): cocotb-bus matches signal names case-insensitively.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


def start_clock(clk, period_ns: int = 10) -> None:
    Clock(clk, period_ns, unit="ns").start()


async def reset(dut, cycles: int = 5, rst_name: str = "rst_n", clk_name: str = "clk") -> None:
    """Hold the active-low synchronous reset for `cycles` rising edges (create the AxisSource/AxisSink
    first: they drive TVALID/TREADY low from the start)."""
    clk = getattr(dut, clk_name)
    getattr(dut, rst_name).value = 0
    for _ in range(cycles):
        await RisingEdge(clk)
    getattr(dut, rst_name).value = 1
    await RisingEdge(clk)


def _sig(dut, prefix: str, name: str):
    """`<prefix>_tdata` (verilog-axis style) or `<prefix>_TDATA` (FINN/Vivado style)."""
    try:
        return getattr(dut, f"{prefix}_{name}")
    except AttributeError:
        return getattr(dut, f"{prefix}_{name.upper()}")


def _quiet(dut, prefix: str) -> None:
    """cocotbext-axi logs every frame at INFO (a line per beat on ports without TLAST)."""
    logging.getLogger(f"cocotb.{dut._name}.{prefix}").setLevel(logging.WARNING)


class AxisChecker:
    """Passive monitor of one port: every handshake (value, cycle) and the TVALID/TDATA stability rule.

    `cycle` counts rising edges since the checker was created. Beats seen while `rst` is low are
    ignored (a module may drop TVALID in reset).
    """

    def __init__(self, dut, prefix: str, clk, rst=None, max_errors: int = 20):
        self.clk = clk
        self.rst = rst
        self.tdata, self.tvalid, self.tready = (_sig(dut, prefix, n) for n in ("tdata", "tvalid", "tready"))
        self.prefix = prefix
        self.max_errors = max_errors
        self.data: list[int] = []
        self.cycles: list[int] = []
        self.errors: list[str] = []
        self.cycle = 0
        self._task = cocotb.start_soon(self._run())

    def _error(self, msg: str) -> None:
        if len(self.errors) < self.max_errors:
            self.errors.append(f"{self.prefix}: cycle {self.cycle}: {msg}")

    async def _run(self) -> None:
        pending: int | None = None  # a beat offered and not yet taken
        edge = RisingEdge(self.clk)
        while True:
            await edge
            self.cycle += 1
            if self.rst is not None and self.rst.value == 0:
                pending = None
                continue
            if self.tvalid.value == 1:
                data = self.tdata.value.to_unsigned()
                if pending is not None and data != pending:
                    self._error(f"TDATA changed from {pending:#x} to {data:#x} before the handshake")
                if self.tready.value == 1:
                    self.data.append(data)
                    self.cycles.append(self.cycle)
                    pending = None
                else:
                    pending = data
            elif pending is not None:
                self._error("TVALID dropped before the handshake")
                pending = None

    def kill(self) -> None:
        self._task.cancel()


def _random_pauses(owner, attr: str) -> Iterator[bool]:
    """Pause generator: paused with probability 1 - owner.<attr>, read every cycle (may change)."""
    while True:
        p = getattr(owner, attr)
        yield not (p >= 1.0 or owner.rng.random() < p)


class _AxisEnd:
    """What a cocotbext-axi source and sink share here: clock/reset lookup, the checker, and a
    probability of moving each cycle (< 1: random pauses) that tests may change mid-run."""

    def __init__(self, dut, prefix: str, clk, prob: float, rng: random.Random, clk_name: str,
                 rst_name: str | None, endpoint_cls):
        self.clk = clk if clk is not None else getattr(dut, clk_name)
        rst = getattr(dut, rst_name) if rst_name and hasattr(dut, rst_name) else None
        self.rng = rng
        _quiet(dut, prefix)
        self.axis = endpoint_cls(AxiStreamBus.from_prefix(dut, prefix), self.clk, rst,
                                 reset_active_level=False, byte_lanes=1)
        self.checker = AxisChecker(dut, prefix, self.clk, rst)
        self._prob = 1.0
        self._set_prob(prob)

    def _set_prob(self, p: float) -> None:
        self._prob = p
        self.axis.set_pause_generator(None if p >= 1.0 else _random_pauses(self, "_prob"))


class AxisSource(_AxisEnd):
    """Drive `<prefix>_tdata/_tvalid` from queued integer beats (cocotbext-axi AxiStreamSource)."""

    def __init__(self, dut, prefix: str = "s_axis", clk=None, valid_prob: float = 1.0,
                 rng: random.Random | None = None, clk_name: str = "clk", rst_name: str | None = "rst_n"):
        super().__init__(dut, prefix, clk, valid_prob, rng or random.Random(0), clk_name, rst_name,
                         AxiStreamSource)

    @property
    def valid_prob(self) -> float:
        return self._prob

    @valid_prob.setter
    def valid_prob(self, p: float) -> None:
        self._set_prob(p)

    def send(self, beats: Iterable[int]) -> None:
        beats = [int(b) for b in beats]
        if beats:
            self.axis.send_nowait(AxiStreamFrame(beats))

    @property
    def sent(self) -> list[int]:
        """Beats the DUT has taken, in order."""
        return self.checker.data

    @property
    def first_cycle(self) -> int | None:
        """Cycle of the first transfer."""
        return self.checker.cycles[0] if self.checker.cycles else None

    @property
    def cycle(self) -> int:
        return self.checker.cycle

    @property
    def idle(self) -> bool:
        return self.axis.idle()

    def kill(self) -> None:
        self.axis.clear_pause_generator()
        self.axis.assert_reset(True)  # stops its coroutine and drives TVALID low
        self.checker.kill()


class AxisSink(_AxisEnd):
    """Drive `<prefix>_tready` randomly (cocotbext-axi AxiStreamSink) and record the beats accepted."""

    def __init__(self, dut, prefix: str = "m_axis", clk=None, ready_prob: float = 1.0,
                 rng: random.Random | None = None, clk_name: str = "clk", rst_name: str | None = "rst_n"):
        super().__init__(dut, prefix, clk, ready_prob, rng or random.Random(1), clk_name, rst_name,
                         AxiStreamSink)

    @property
    def ready_prob(self) -> float:
        return self._prob

    @ready_prob.setter
    def ready_prob(self, p: float) -> None:
        self._set_prob(p)

    @property
    def received(self) -> list[int]:
        """Every beat transferred, in order (also those of a frame whose TLAST has not come yet)."""
        return self.checker.data

    @property
    def cycles(self) -> list[int]:
        """Cycle of each transfer."""
        return self.checker.cycles

    @property
    def errors(self) -> list[str]:
        """AXI-Stream rule violations seen on this port (the DUT's master side)."""
        return self.checker.errors

    @property
    def cycle(self) -> int:
        return self.checker.cycle

    def frames(self) -> list[list[int]]:
        """cocotbext-axi's frames received so far (TLAST-delimited), drained from its queue."""
        out = []
        while not self.axis.empty():
            out.append([int(v) for v in self.axis.recv_nowait(compact=False).tdata])
        return out

    async def wait_for(self, n: int, max_cycles: int) -> None:
        """Wait until n beats have arrived; AssertionError after max_cycles cycles."""
        for _ in range(max_cycles):
            if len(self.checker.data) >= n:
                return
            await RisingEdge(self.clk)
        errors = f"; AXI-Stream errors: {self.errors[:3]}" if self.errors else ""
        raise AssertionError(f"timeout: {len(self.checker.data)} of {n} beats after {max_cycles} cycles{errors}")

    def kill(self) -> None:
        self.axis.clear_pause_generator()
        self.axis.assert_reset(True)  # stops its coroutine and drives TREADY low
        self.checker.kill()


async def settle(clk, cycles: int) -> None:
    """Let `cycles` more cycles run (e.g. to catch extra, duplicated output beats)."""
    for _ in range(cycles):
        await RisingEdge(clk)


def compare_streams(got: list[int], expected: list[int], what: str = "beat") -> None:
    """Assert equal sequences; the message names the count and the first differing position."""
    if got == expected:
        return
    n = min(len(got), len(expected))
    first = next((i for i in range(n) if got[i] != expected[i]), n)
    detail = ""
    if first < n:
        detail = f"; first difference at {what} {first}: got {got[first]:#x}, expected {expected[first]:#x}"
    raise AssertionError(f"{len(got)} {what}s received, {len(expected)} expected{detail}")


async def run_stream_test(dut, sources: dict, sinks: dict, seed: int, slack: int = 4, what: str = "beat",
                          full_rate_check=None) -> None:
    """Drive a stream module from every input and check every output, under random stalls.

    sources: {prefix: (beats, valid_prob)}; sinks: {prefix: (expected beats, ready_prob)}; each end
    has its own seeded random TVALID / TREADY pattern, so the ports run out of step. Every output beat
    is compared. When nothing stalls, `full_rate_check(dut, srcs, snks)` asserts the module's own
    timing if given; by default the run (first input beat to last output beat) must fit in the longest
    input's beat count + `slack` cycles."""
    start_clock(dut.clk)
    srcs = {p: AxisSource(dut, prefix=p, valid_prob=vp, rng=random.Random(seed + i))
            for i, (p, (_, vp)) in enumerate(sources.items())}
    snks = {p: AxisSink(dut, prefix=p, ready_prob=rp, rng=random.Random(seed + len(sources) + i))
            for i, (p, (_, rp)) in enumerate(sinks.items())}
    await reset(dut)
    for p, (beats, _) in sources.items():
        srcs[p].send(beats)
    longest = max(len(beats) for beats, _ in sources.values())
    slowest = min(vp for _, vp in sources.values()) * min(rp for _, rp in sinks.values())
    for p, (expected, _) in sinks.items():
        await snks[p].wait_for(len(expected), int(longest / slowest * 4) + 1000)
    await settle(dut.clk, 50)
    for p, (beats, _) in sources.items():
        assert len(srcs[p].sent) == len(beats), f"{p}: {len(srcs[p].sent)} of {len(beats)} beats taken"
    for p, (expected, _) in sinks.items():
        assert not snks[p].errors, snks[p].errors
        compare_streams(snks[p].received, expected, what)
    if all(vp == 1.0 for _, vp in sources.values()) and all(rp == 1.0 for _, rp in sinks.values()):
        if full_rate_check is not None:
            full_rate_check(dut, srcs, snks)
        else:
            used = (max(k.cycles[-1] for k in snks.values()) - max(s.first_cycle for s in srcs.values()) + 1)
            assert used <= longest + slack, f"{used} cycles for {longest} input beats"
    for end in (*srcs.values(), *snks.values()):
        end.kill()


def load_vectors() -> tuple[dict, dict]:
    """(DQHW_TB_CFG, its "vectors" file): {name: [int beats]} from the file's hex strings."""
    import json
    import os

    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    with open(cfg["vectors"]) as f:
        v = json.load(f)
    return cfg, {k: [int(b, 16) for b in beats] for k, beats in v.items()}


async def run_vector_test(dut, valid_prob: float, ready_prob: float, seed: int, slack: int = 4,
                          what: str = "beat", full_rate_check=None) -> None:
    """run_stream_test for a one-in one-out stage driven from a vectors file: DQHW_TB_CFG's "vectors"
    JSON {"in": [hex beats], "out": [hex beats]} (written by the pytest side from its own plain-loop
    reference). full_rate_check(dut, cfg, src, snk) replaces the default cycle bound."""
    cfg, v = load_vectors()
    check = None
    if full_rate_check is not None:
        def check(dut, srcs, snks):
            full_rate_check(dut, cfg, srcs["s_axis"], snks["m_axis"])
    await run_stream_test(dut, {"s_axis": (v["in"], valid_prob)}, {"m_axis": (v["out"], ready_prob)}, seed,
                          slack, what, check)
