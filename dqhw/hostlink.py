"""The host side of dqhw's board link (rtl/dqhw_frame.v behind rtl/dqhw_uart_axis.v; the protocol
table is in docs/board.md, "Host link protocol"): encode frames, decode responses, and talk to a
board (or the Verilated board behind a pseudo-terminal, dqhw.hostlink_sim) through pyserial.

Byte stuffing as in HDLC (RFC 1662): 0x7E is the sync byte and occurs nowhere else, 0x7D escapes a
0x7E or 0x7D inside a frame (followed by the byte XOR 0x20).
    request   7E | SEQ | LEN lo | LEN hi | LEN frame bytes (uint8 NHWC) | 7E
    response  7E | SEQ | STATUS | RLEN lo | RLEN hi | RLEN result bytes | 7E
STATUS 0: the result is the class (or the logits beats); otherwise the frame was damaged on the way
(bit 0 header/LEN, bit 1 byte count, bit 2 stuffing) and RLEN is 0.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from dqhw.errors import DqhwError

SYNC = 0x7E
ESC = 0x7D
STATUS_BITS = {1: "header/LEN", 2: "byte count (a byte lost or added)", 4: "bad stuffing"}


def stuff(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        out += bytes((ESC, b ^ 0x20)) if b in (SYNC, ESC) else bytes((b,))
    return bytes(out)


def encode_request(seq: int, frame: bytes) -> bytes:
    """One request, both sync bytes included."""
    n = len(frame)
    return bytes((SYNC,)) + stuff(bytes((seq & 0xFF, n & 0xFF, n >> 8)) + frame) + bytes((SYNC,))


@dataclass
class Response:
    seq: int
    status: int
    payload: bytes

    def problem(self) -> str:
        return ", ".join(v for k, v in STATUS_BITS.items() if self.status & k) or f"status {self.status:#x}"


@dataclass
class Decoder:
    """Bytes from the board -> Responses (feed() as they come). A frame that does not parse (bad
    stuffing, short header, RLEN not the payload's length) is counted in `garbled`, not returned."""

    garbled: int = 0
    _cur: bytearray = field(default_factory=bytearray)
    _esc: bool = False
    _bad: bool = False

    def feed(self, data: bytes) -> list[Response]:
        out = []
        for b in data:
            if b == SYNC:
                if self._cur or self._esc or self._bad:
                    r = self._close()
                    if r is None:
                        self.garbled += 1
                    else:
                        out.append(r)
                self._cur, self._esc, self._bad = bytearray(), False, False
            elif b == ESC:
                self._bad |= self._esc
                self._esc = True
            else:
                v = b ^ 0x20 if self._esc else b
                self._bad |= self._esc and v not in (SYNC, ESC)
                self._esc = False
                self._cur.append(v)
        return out

    def _close(self) -> Response | None:
        c = self._cur
        if self._bad or self._esc or len(c) < 4 or c[2] | c[3] << 8 != len(c) - 4:
            return None
        return Response(c[0], c[1], bytes(c[4:]))


@dataclass
class LinkShape:
    """What the board top sends back per frame (from the build's rtl/design.json)."""

    frame_bytes: int
    result_bytes: int
    has_class: bool
    class_bits: int  # bits of the class beat that hold the class (has_class)

    @classmethod
    def of(cls, design) -> LinkShape:
        frame = design.in_width // 8 * design.in_beats_per_frame
        if design.label_width > 0:
            return cls(frame, design.label_width // 8, True, design.label_bits)
        return cls(frame, design.logits_width // 8 * design.logits_beats_per_frame, False, 0)


@dataclass
class RunStats:
    answers: list = field(default_factory=list)  # per frame sent: the result bytes (None: not answered)
    errors: list = field(default_factory=list)  # (frame index, STATUS) of damaged frames
    seconds: float = 0.0
    garbled: int = 0
    flushed: int = 0  # responses to what a previous session left on the line, dropped


def exchange(port, frames: list[bytes], timeout_s: float, window: int = 1, progress=None) -> RunStats:
    """Send `frames` (each one frame's bytes) over the open serial `port`, at most `window` without a
    response, and collect the responses in order. A response out of order, or one with a wrong
    length, is a protocol error (DqhwError); a damaged frame (STATUS != 0) is recorded, not retried.
    Stops with a DqhwError after `timeout_s` seconds without any response."""
    stats = RunStats(answers=[None] * len(frames))
    dec = Decoder()
    pending: deque[int] = deque()
    nxt = 0
    t0 = last = time.monotonic()
    port.write(bytes((SYNC, SYNC)))  # closes whatever a previous session left half-sent ...
    stats.flushed = _drain(port, dec)  # ... and its error response, if any, is not an answer
    while nxt < len(frames) or pending:
        while nxt < len(frames) and len(pending) < window:
            port.write(encode_request(nxt & 0xFF, frames[nxt]))
            pending.append(nxt)
            nxt += 1
        data = port.read(max(1, port.in_waiting))
        for r in dec.feed(data):
            k = _match(r, pending)
            if r.status:
                stats.errors.append((k, r.status))
            stats.answers[k] = r.payload
            last = time.monotonic()
            if progress:
                progress(k)
        if not data and time.monotonic() - last > timeout_s:
            answered = sum(a is not None for a in stats.answers)
            raise DqhwError(f"timeout: no response for {timeout_s:g} s; {answered} of {len(frames)} frames "
                            f"answered (frame {pending[0] if pending else nxt} waits)")
    stats.seconds = time.monotonic() - t0
    stats.garbled = dec.garbled
    return stats


def _drain(port, dec: Decoder, quiet_s: float = 0.3) -> int:
    """Read and drop responses until the line has been quiet for `quiet_s`; how many there were."""
    n, last = 0, time.monotonic()
    while time.monotonic() - last < quiet_s:
        data = port.read(max(1, port.in_waiting))
        if data:
            n += len(dec.feed(data))
            last = time.monotonic()
    return n


def _match(r: Response, pending: deque) -> int:
    """The frame a response answers: the oldest one waiting, whose SEQ it must carry."""
    if not pending:
        raise DqhwError(f"protocol error: a response (SEQ {r.seq}) with no frame waiting")
    k = pending.popleft()
    if r.seq != k & 0xFF:
        raise DqhwError(f"protocol error: response SEQ {r.seq} while frame {k} (SEQ {k & 0xFF}) waits "
                        f"(status: {r.problem() if r.status else 'ok'})")
    return k


def classes_of(shape: LinkShape, answers: list, design=None, golden=None) -> np.ndarray:
    """Class per frame (-1: not answered or damaged). Logits results go through the golden model's
    host-side class rule (GoldenModel.class_of) like every other consumer of the logits."""
    out = np.full(len(answers), -1, dtype=np.int64)
    for k, a in enumerate(answers):
        if a is None or len(a) != shape.result_bytes:
            continue
        if shape.has_class:
            out[k] = int.from_bytes(a, "little") & ((1 << shape.class_bits) - 1)
        else:
            from dqhw.simulate.testbench import decode_logits

            width = design.logits_width // 8
            beats = [int.from_bytes(a[i:i + width], "little") for i in range(0, len(a), width)]
            out[k] = int(golden.class_of(decode_logits(design, beats))[0])
    return out
