"""cocotb test of rtl/dqhw_fifo.v: data integrity under random stalls, capacity, throughput, and the
`count` / `peak` outputs checked cycle by cycle against a model built from the observed handshakes.

DQHW_TB_CFG = JSON with WIDTH, DEPTH (module parameters), BEATS, SEED; with LIMIT (a build with
DQHW_FIFO_LIMIT) the run-time capacity written into `limit`, and DEPTH is then that capacity.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from axis import AxisSink, AxisSource, compare_streams, reset, settle, start_clock
from cocotb.triggers import ReadOnly, RisingEdge


class OccupancyMonitor:
    """Every cycle: count == beats accepted - beats delivered so far, peak == max count so far."""

    def __init__(self, dut):
        self.dut = dut
        self.errors: list[str] = []
        self.max_count = 0
        self.model = 0
        self._task = cocotb.start_soon(self._run())

    async def _run(self) -> None:
        d = self.dut
        cycle = 0
        while True:
            await RisingEdge(d.clk)
            await ReadOnly()
            cycle += 1
            if d.rst_n.value != 1:
                self.model = 0
                self.max_count = 0
                continue
            count, peak = int(d.count.value), int(d.peak.value)
            if count != self.model and len(self.errors) < 10:
                self.errors.append(f"cycle {cycle}: count {count}, expected {self.model}")
            self.max_count = max(self.max_count, count)
            if peak != self.max_count and len(self.errors) < 10:
                self.errors.append(f"cycle {cycle}: peak {peak}, expected {self.max_count}")
            push = d.s_axis_tvalid.value == 1 and d.s_axis_tready.value == 1
            pop = d.m_axis_tvalid.value == 1 and d.m_axis_tready.value == 1
            self.model += int(push) - int(pop)


def _data(cfg: dict, seed: int) -> list[int]:
    rng = random.Random(cfg["SEED"] + seed)
    return [rng.getrandbits(cfg["WIDTH"]) for _ in range(cfg["BEATS"])]


async def _setup(dut, valid_prob: float, ready_prob: float, seed: int):
    start_clock(dut.clk)
    src = AxisSource(dut, valid_prob=valid_prob, rng=random.Random(seed))
    snk = AxisSink(dut, ready_prob=ready_prob, rng=random.Random(seed + 1))
    mon = OccupancyMonitor(dut)
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    if "LIMIT" in cfg:  # compiled with DQHW_FIFO_LIMIT: the capacity is set at run time, as FIFO sizing does
        dut.limit.value = cfg["LIMIT"]
    await reset(dut)
    return src, snk, mon


@cocotb.test()
async def test_random_stalls(dut):
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    src, snk, mon = await _setup(dut, 0.5, 0.5, seed=1)
    data = _data(cfg, 1)
    src.send(data)
    await snk.wait_for(len(data), len(data) * 12 + 500)
    await settle(dut.clk, 30)
    assert not snk.errors, snk.errors
    assert not mon.errors, mon.errors
    compare_streams(snk.received, data)
    assert int(dut.count.value) == 0


@cocotb.test()
async def test_fill_and_drain(dut):
    """Consumer stalled: exactly DEPTH beats are accepted, count and peak reach DEPTH; then a slow
    drain with a bursty producer."""
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    depth = cfg["DEPTH"]
    src, snk, mon = await _setup(dut, 1.0, 0.0, seed=2)
    data = _data(cfg, 2)[: depth + 20]
    src.send(data)
    await settle(dut.clk, 3 * depth + 20)
    assert len(src.sent) == depth, f"{len(src.sent)} beats accepted by a full FIFO of depth {depth}"
    assert int(dut.count.value) == depth and int(dut.peak.value) == depth
    assert dut.s_axis_tready.value == 0
    snk.ready_prob = 0.3
    src.valid_prob = 0.7
    await snk.wait_for(len(data), len(data) * 20 + 500)
    await settle(dut.clk, 20)
    assert not snk.errors, snk.errors
    assert not mon.errors, mon.errors
    compare_streams(snk.received, data)
    assert int(dut.peak.value) == depth


@cocotb.test()
async def test_full_rate(dut):
    """Both sides always ready: one beat per cycle, the occupancy stays tiny."""
    cfg = json.loads(os.environ["DQHW_TB_CFG"])
    src, snk, mon = await _setup(dut, 1.0, 1.0, seed=3)
    data = _data(cfg, 3)
    src.send(data)
    await snk.wait_for(len(data), len(data) * 2 + 100)
    await settle(dut.clk, 10)
    assert not mon.errors, mon.errors
    compare_streams(snk.received, data)
    used = snk.cycles[-1] - src.first_cycle + 1
    assert used <= len(data) + 3, f"{used} cycles for {len(data)} beats"
    assert int(dut.peak.value) <= 2
