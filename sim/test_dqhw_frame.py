"""cocotb test of rtl/dqhw_frame.v, the framing layer of dqhw's host link (docs/board.md, "Host link
protocol"), under random stalls on all four streams.

A model accelerator beside the DUT takes FRAME_BYTES/IN_BYTES beats from m_axis per frame and
answers with OUT_BEATS beats on s_axis (bytes of the frame's SHA-256). The expected behaviour comes
from a plain reference of the protocol written here (not from dqhw.hostlink): split the byte stream
at 0x7E, unstuff, check the header and the count. Checked: the accelerator receives every frame's
payload cut or zero-padded to FRAME_BYTES, in order; every non-empty frame gets exactly one
response, in order, with the reference STATUS; a whole frame's response carries the accelerator's
bytes; damaged frames (a byte lost or added in the header or payload, a wrong LEN, bad stuffing, a
lost sync byte, junk between frames) are reported, never shifted into the next frame: the good
frames after them come back right. The AXI-Stream rules hold on both master ports.

DQHW_TB_CFG = JSON with IN_BYTES, FRAME_BYTES, OUT_BYTES, OUT_BEATS, FRAMES, SEED.
"""

from __future__ import annotations

import hashlib
import json
import os
import random

import cocotb
from axis import AxisSink, AxisSource, reset, start_clock
from cocotb.triggers import RisingEdge

SYNC, ESC = 0x7E, 0x7D


def _cfg() -> dict:
    return json.loads(os.environ["DQHW_TB_CFG"])


def _stuff(data: list[int]) -> list[int]:
    out = []
    for b in data:
        out += [ESC, b ^ 0x20] if b in (SYNC, ESC) else [b]
    return out


def _request(seq: int, payload: list[int], length: int | None = None) -> list[int]:
    n = len(payload) if length is None else length
    return _stuff([seq, n & 0xFF, n >> 8] + payload)


def _split(stream: list[int]) -> list[tuple[list[int], bool]]:
    """Reference receiver: (unstuffed bytes, stuffing error) of every non-empty frame."""
    frames, cur, esc, bad = [], [], False, False
    for b in stream:
        if b == SYNC:
            if cur or esc or bad:
                frames.append((cur, bad or esc))
            cur, esc, bad = [], False, False
        elif b == ESC:
            bad = bad or esc
            esc = True
        else:
            v = b ^ 0x20 if esc else b
            bad = bad or (esc and v not in (SYNC, ESC))
            esc = False
            cur.append(v)
    return frames


def _expected(stream: list[int], frame_bytes: int) -> list[tuple[int, int, list[int]]]:
    """(SEQ, STATUS, the FRAME_BYTES the accelerator gets) per frame, from the reference receiver."""
    out = []
    for data, bad in _split(stream):
        length = data[1] | data[2] << 8 if len(data) >= 3 else -1
        status = int(length != frame_bytes) | int(len(data) != frame_bytes + 3) << 1 | int(bad) << 2
        body = data[3:3 + frame_bytes]
        out.append((data[0] if data else 0, status, body + [0] * (frame_bytes - len(body))))
    return out


def _result_bytes(frame: list[int], n: int) -> list[int]:
    return list(hashlib.sha256(bytes(frame)).digest()[:n])


async def _accelerator(dut, sink: AxisSink, source: AxisSource, cfg: dict) -> None:
    """Frame by frame: FRAME_BYTES/IN_BYTES beats in, OUT_BEATS beats of the frame's hash out."""
    nb, ob = cfg["IN_BYTES"], cfg["OUT_BYTES"]
    per_frame = cfg["FRAME_BYTES"] // nb
    done = 0
    while True:
        await RisingEdge(dut.clk)
        beats = sink.received
        while len(beats) >= (done + 1) * per_frame:
            frame = [b for beat in beats[done * per_frame:(done + 1) * per_frame]
                     for b in int(beat).to_bytes(nb, "little")]
            res = _result_bytes(frame, ob * cfg["OUT_BEATS"])
            source.send([int.from_bytes(bytes(res[k * ob:(k + 1) * ob]), "little") for k in range(cfg["OUT_BEATS"])])
            done += 1


def _damage(rng: random.Random, req: list[int], kind: str) -> list[int]:
    """A request with one fault of `kind` (the sync bytes around it are added by the caller)."""
    i = rng.randrange(len(req))
    if kind == "lost":
        return req[:i] + req[i + 1:]
    if kind == "extra":
        return req[:i] + [rng.choice([rng.getrandbits(8) & 0x7C, 0x00])] + req[i:]
    if kind == "escape":
        return req[:i] + [ESC, 0x11] + req[i:]
    return req


def _stream(cfg: dict, rng: random.Random) -> tuple[list[int], list[str]]:
    """The host's byte stream: good frames (payloads rich in 0x7E/0x7D) and damaged ones; the kinds."""
    fb = cfg["FRAME_BYTES"]
    stream, kinds = [SYNC], []
    for k in range(cfg["FRAMES"]):
        payload = [rng.choice([SYNC, ESC, rng.getrandbits(8)]) for _ in range(fb)]
        kind = rng.choice(["good"] * 3 + ["lost", "extra", "escape", "len", "nosync", "junk", "shared"])
        req = _request(k & 0xFF, payload, fb + 1 if kind == "len" else None)
        if kind in ("lost", "extra", "escape"):
            req = _damage(rng, req, kind)
        if kind == "junk":  # bytes between frames: a frame of their own, reported
            stream += [0x41, 0x42, SYNC]
        stream += req
        if kind != "nosync":  # "nosync": the closing sync byte is lost, two frames run together
            stream += [SYNC] if kind == "shared" else [SYNC, SYNC]
        kinds.append(kind)
    return stream + [SYNC], kinds


def _responses(data: list[int]) -> list[list[int]]:
    return [d for d, bad in _split(data) if not bad]


async def _run(dut, probs: tuple[float, float, float, float]) -> None:
    cfg = _cfg()
    rng = random.Random(cfg["SEED"])
    start_clock(dut.clk)
    host = AxisSource(dut, "s_byte", valid_prob=probs[0], rng=random.Random(rng.random()))
    link = AxisSink(dut, "m_byte", ready_prob=probs[1], rng=random.Random(rng.random()))
    acc_in = AxisSink(dut, "m_axis", ready_prob=probs[2], rng=random.Random(rng.random()))
    acc_out = AxisSource(dut, "s_axis", valid_prob=probs[3], rng=random.Random(rng.random()))
    await reset(dut)
    cocotb.start_soon(_accelerator(dut, acc_in, acc_out, cfg))
    stream, kinds = _stream(cfg, rng)
    want = _expected(stream, cfg["FRAME_BYTES"])
    host.send(stream)
    rlen = cfg["OUT_BYTES"] * cfg["OUT_BEATS"]
    for _ in range(200 * len(stream) + 1000):
        await RisingEdge(dut.clk)
        if len(_split(link.received)) >= len(want):
            break
    for _ in range(100 * rlen + 200):  # time for a response too many to show up
        await RisingEdge(dut.clk)
    got = _responses(link.received)
    assert len(got) == len(want), f"{len(got)} responses for {len(want)} frames ({kinds})"
    per_frame = cfg["FRAME_BYTES"] // cfg["IN_BYTES"]
    frames_in = [[b for beat in acc_in.received[k * per_frame:(k + 1) * per_frame]
                  for b in int(beat).to_bytes(cfg["IN_BYTES"], "little")] for k in range(len(want))]
    assert len(acc_in.received) == len(want) * per_frame, "the accelerator left frame step"
    for k, ((seq, status, body), resp, frame) in enumerate(zip(want, got, frames_in)):
        assert frame == body, f"frame {k}: the accelerator got {frame}, expected {body}"
        assert resp[:3] == [seq, status, 0 if status else rlen], f"frame {k}: header {resp[:5]}"
        assert resp[3] == 0 and len(resp) == 4 + (0 if status else rlen), f"frame {k}: length {resp}"
        if status == 0:
            assert resp[4:] == _result_bytes(body, rlen), f"frame {k}: result bytes"
    assert sum(1 for _, s, _ in want if s) >= 1 and sum(1 for _, s, _ in want if not s) >= 1
    assert not link.errors and not acc_in.errors, link.errors + acc_in.errors
    dut._log.info("%d frames (%s), %d responses, %d errors reported", len(kinds),
                  ",".join(sorted(set(kinds))), len(got), sum(1 for _, s, _ in want if s))


@cocotb.test()
async def test_full_rate(dut):
    await _run(dut, (1.0, 1.0, 1.0, 1.0))


@cocotb.test()
async def test_random_stalls(dut):
    await _run(dut, (0.5, 0.4, 0.3, 0.5))


@cocotb.test()
async def test_slow_link_out(dut):
    # responses leave slower than frames arrive: the status queue fills and the receiver waits
    await _run(dut, (0.9, 0.05, 0.8, 0.7))
