"""Small shared AXI4-Stream helpers for dqhw's cocotb testbenches (cocotbext-axi is not a dependency).

- AxisSource drives s_axis_{tdata,tvalid} (+ tlast if present) from a queue of integer beats, with
  a random probability of presenting a beat in any cycle (valid_prob < 1 inserts bubbles).
- AxisSink drives m_axis_tready with a random probability (ready_prob < 1 = backpressure) and
  records every beat accepted; it also checks the AXI-Stream rules on the DUT's master side: once
  TVALID is high it must stay high with TDATA unchanged until the handshake, and TDATA must not
  hold X/Z while TVALID is high.
- reset() and start_clock() for the dqhw convention: `clk`, synchronous active-low `rst_n`.

Timing model (works with Verilator's inertial writes): each coroutine writes its outputs right
after a rising edge and samples the handshake in the ReadOnly phase of the same cycle; a beat is
transferred at the next rising edge when TVALID and TREADY were both 1 in that phase.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


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


class AxisSource:
    """Drive `<prefix>_tdata/_tvalid` from queued integer beats; `<prefix>_tready` is sampled."""

    def __init__(self, dut, prefix: str = "s_axis", clk=None, valid_prob: float = 1.0,
                 rng: random.Random | None = None, clk_name: str = "clk"):
        self.clk = clk if clk is not None else getattr(dut, clk_name)
        self.tdata, self.tvalid, self.tready = (_sig(dut, prefix, n) for n in ("tdata", "tvalid", "tready"))
        self.valid_prob = valid_prob
        self.rng = rng or random.Random(0)
        self.queue: deque[int] = deque()
        self.sent: list[int] = []
        self.first_cycle: int | None = None  # cycle of the first transfer
        self.cycle = 0
        self.tvalid.value = 0
        self._current: int | None = None
        self._task = cocotb.start_soon(self._run())

    def send(self, beats: Iterable[int]) -> None:
        self.queue.extend(int(b) for b in beats)

    @property
    def idle(self) -> bool:
        return not self.queue and self._current is None

    async def _run(self) -> None:
        cur: int | None = None
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1
            if cur is None:
                if self.queue and (self.valid_prob >= 1.0 or self.rng.random() < self.valid_prob):
                    cur = self.queue.popleft()
                    self.tdata.value = cur
                    self.tvalid.value = 1
                else:
                    self.tvalid.value = 0
            self._current = cur
            await ReadOnly()
            if cur is not None and self.tready.value == 1:
                self.sent.append(cur)
                if self.first_cycle is None:
                    self.first_cycle = self.cycle
                cur = None
                self._current = None

    def kill(self) -> None:
        self._task.cancel()


class AxisSink:
    """Drive `<prefix>_tready` randomly and collect the beats of `<prefix>_tdata` that were accepted."""

    def __init__(self, dut, prefix: str = "m_axis", clk=None, ready_prob: float = 1.0,
                 rng: random.Random | None = None, clk_name: str = "clk"):
        self.clk = clk if clk is not None else getattr(dut, clk_name)
        self.tdata, self.tvalid, self.tready = (_sig(dut, prefix, n) for n in ("tdata", "tvalid", "tready"))
        self.ready_prob = ready_prob
        self.rng = rng or random.Random(1)
        self.received: list[int] = []
        self.cycles: list[int] = []  # cycle of each transfer
        self.errors: list[str] = []
        self.cycle = 0
        self.tready.value = 0
        self._task = cocotb.start_soon(self._run())

    async def _run(self) -> None:
        pending: int | None = None  # a beat offered but not yet taken
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1
            ready = self.ready_prob >= 1.0 or self.rng.random() < self.ready_prob
            self.tready.value = 1 if ready else 0
            await ReadOnly()
            if self.tvalid.value == 1:
                v = self.tdata.value
                if not v.is_resolvable:
                    self.errors.append(f"cycle {self.cycle}: TDATA {v} not resolvable while TVALID")
                    data = -1
                else:
                    data = v.to_unsigned()
                if pending is not None and data != pending and len(self.errors) < 20:
                    self.errors.append(f"cycle {self.cycle}: TDATA changed from {pending:#x} to {data:#x} "
                                       "before the handshake")
                if ready:
                    self.received.append(data)
                    self.cycles.append(self.cycle)
                    pending = None
                else:
                    pending = data
            elif pending is not None:
                if len(self.errors) < 20:
                    self.errors.append(f"cycle {self.cycle}: TVALID dropped before the handshake")
                pending = None

    async def wait_for(self, n: int, max_cycles: int) -> None:
        """Wait until n beats have arrived; AssertionError after max_cycles cycles."""
        for _ in range(max_cycles):
            if len(self.received) >= n:
                return
            await RisingEdge(self.clk)
        raise AssertionError(f"timeout: {len(self.received)} of {n} beats after {max_cycles} cycles")

    def kill(self) -> None:
        self._task.cancel()


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
