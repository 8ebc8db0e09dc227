"""cocotb test of rtl/dqhw_uart_axis.v (the host link of dqhw's ECP5 board tops): bytes sent on
uart_rx as 8N1 frames (bit times of CLKS_PER_BIT cycles, random idle gaps) arrive as m_axis beats of
IN_BYTES bytes, the first byte in bits 7:0, whatever the stalls on m_axis; s_axis beats (random
TVALID) leave on uart_tx as OUT_BYTES 8N1 frames each, bits 7:0 first, sampled here in the middle of
every bit. A third beat completing while two wait sets `overrun`; a byte without its stop bit sets
`frame_error` and is dropped.

DQHW_TB_CFG = JSON with CLKS_PER_BIT, IN_BYTES, OUT_BYTES, BEATS, SEED.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge


def _cfg() -> dict:
    return json.loads(os.environ["DQHW_TB_CFG"])


async def _reset(dut) -> None:
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst_n.value = 0
    dut.uart_rx.value = 1
    dut.m_axis_tready.value = 0
    dut.s_axis_tvalid.value = 0
    dut.s_axis_tdata.value = 0
    await ClockCycles(dut.clk, 5)
    dut.rst_n.value = 1
    await ClockCycles(dut.clk, 2)


async def _send_byte(dut, value: int, cpb: int, stop: int = 1) -> None:
    for bit in [0] + [(value >> i) & 1 for i in range(8)] + [stop]:
        dut.uart_rx.value = bit
        await ClockCycles(dut.clk, cpb)
    dut.uart_rx.value = 1


async def _send_bytes(dut, data: list[int], cpb: int, rng: random.Random) -> None:
    for b in data:
        await _send_byte(dut, b, cpb)
        if rng.random() < 0.3:
            await ClockCycles(dut.clk, rng.randint(1, 3 * cpb))


async def _take_beats(dut, n: int, ready_prob: float, rng: random.Random) -> list[int]:
    beats = []
    while len(beats) < n:
        dut.m_axis_tready.value = 1 if rng.random() < ready_prob else 0
        await RisingEdge(dut.clk)
        if dut.m_axis_tvalid.value == 1 and dut.m_axis_tready.value == 1:
            beats.append(int(dut.m_axis_tdata.value))
    dut.m_axis_tready.value = 0
    return beats


@cocotb.test()
async def test_receive_bytes_into_beats(dut):
    cfg = _cfg()
    rng = random.Random(cfg["SEED"])
    cpb, nb = cfg["CLKS_PER_BIT"], cfg["IN_BYTES"]
    await _reset(dut)
    data = [rng.getrandbits(8) for _ in range(cfg["BEATS"] * nb)]
    sender = cocotb.start_soon(_send_bytes(dut, data, cpb, rng))
    # ready often enough that at most one beat waits while the next one is assembled
    beats = await _take_beats(dut, cfg["BEATS"], 0.3, rng)
    await sender
    want = [int.from_bytes(bytes(data[k * nb:(k + 1) * nb]), "little") for k in range(cfg["BEATS"])]
    assert beats == want
    assert dut.overrun.value == 0 and dut.frame_error.value == 0


async def _decode_tx(dut, n_bytes: int, cpb: int) -> list[int]:
    got = []
    while len(got) < n_bytes:
        await RisingEdge(dut.clk)
        if dut.uart_tx.value != 0:
            continue
        await ClockCycles(dut.clk, cpb // 2)  # the middle of the start bit
        assert dut.uart_tx.value == 0, "start bit too short"
        value = 0
        for i in range(8):
            await ClockCycles(dut.clk, cpb)
            value |= int(dut.uart_tx.value) << i
        await ClockCycles(dut.clk, cpb)
        assert dut.uart_tx.value == 1, "no stop bit"
        got.append(value)
    return got


@cocotb.test()
async def test_transmit_beats_as_bytes(dut):
    cfg = _cfg()
    rng = random.Random(cfg["SEED"] + 1)
    cpb, nb = cfg["CLKS_PER_BIT"], cfg["OUT_BYTES"]
    await _reset(dut)
    beats = [rng.getrandbits(8 * nb) for _ in range(cfg["BEATS"])]
    decoder = cocotb.start_soon(_decode_tx(dut, len(beats) * nb, cpb))
    for beat in beats:
        while rng.random() < 0.5:
            await RisingEdge(dut.clk)
        dut.s_axis_tdata.value = beat
        dut.s_axis_tvalid.value = 1
        await RisingEdge(dut.clk)
        while dut.s_axis_tready.value != 1:
            await RisingEdge(dut.clk)
        dut.s_axis_tvalid.value = 0
    got = await decoder
    want = [(beat >> (8 * i)) & 0xFF for beat in beats for i in range(nb)]
    assert got == want


@cocotb.test()
async def test_overrun_and_frame_error_are_flagged(dut):
    cfg = _cfg()
    cpb, nb = cfg["CLKS_PER_BIT"], cfg["IN_BYTES"]
    await _reset(dut)
    await _send_byte(dut, 0x5A, cpb, stop=0)  # no stop bit: dropped, frame_error
    await ClockCycles(dut.clk, 2 * cpb)
    assert dut.frame_error.value == 1
    assert dut.overrun.value == 0
    for k in range(2 * nb):  # two beats wait (tready low) ...
        await _send_byte(dut, k, cpb)
    assert dut.overrun.value == 0 and dut.m_axis_tvalid.value == 1
    for k in range(nb):  # ... and a third completes
        await _send_byte(dut, 0x80 + k, cpb)
    await ClockCycles(dut.clk, 2)
    assert dut.overrun.value == 1
    beats = await _take_beats(dut, 2, 1.0, random.Random(0))
    assert beats == [int.from_bytes(bytes(range(k * nb, (k + 1) * nb)), "little") for k in range(2)]
