"""`dqhw run BUILD --port DEV --frames F.npz`: classify frames on a board over its serial host link
(dqhw.hostlink; the protocol in docs/board.md) and report accuracy, agreement with the golden model's
classes (a `golden` array in the frames file) and frames/s."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError

DEFAULT_BAUD = 1_000_000  # the ECP5 board tops' link (dqhw.synth.ecp5.UART_BAUD)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build", metavar="BUILD", help="build directory from `dqhw build` (its rtl/design.json: frame "
                   "size and what the board sends back)")
    p.add_argument("--port", required=True, help="serial device of the board's UART, e.g. /dev/ttyUSB0")
    p.add_argument("--frames", required=True, metavar="FRAMES.npz",
                   help="`images` uint8 NHWC; `labels` (accuracy) and `golden` (the golden model's classes: "
                        "agreement) optional")
    p.add_argument("--baud", type=int, default=DEFAULT_BAUD, help=f"baud rate (default {DEFAULT_BAUD}, the "
                   "board tops' rate)")
    p.add_argument("--limit", type=int, default=None, help="send only the first N frames (default: all)")
    p.add_argument("--window", type=int, default=1,
                   help="frames sent ahead of their response (default 1; the board queues up to 16 responses)")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds without any response before giving up (default 5)")
    p.add_argument("--json", default=None, metavar="OUT.json", help="also write the classes and figures here")
    p.add_argument("--quiet", action="store_true")


def _load(args) -> tuple:
    from dqhw.frames import load_frames
    from dqhw.rtlgen.generate import Design

    build = Path(args.build)
    if not (build / "rtl" / "design.json").is_file():
        raise DqhwError(f"{build}: not a build directory (no rtl/design.json; run dqhw build first)")
    design = Design.load(build / "rtl")
    fs = load_frames(args.frames, tuple(design.in_shape))
    n = len(fs.images) if args.limit is None else min(args.limit, len(fs.images))
    if n < 1 or (args.limit is not None and args.limit < 1):
        raise DqhwError(f"{args.frames}: no frames to send (--limit {args.limit})")
    golden = None
    with np.load(args.frames, allow_pickle=False) as z:
        if "golden" in z:
            golden = np.asarray(z["golden"]).reshape(-1).astype(np.int64)
            if len(golden) != len(fs.images):
                raise DqhwError(f"{args.frames}: `golden` has {len(golden)} classes for {len(fs.images)} images")
    return build, design, fs, n, golden


def _open(port: str, baud: int, timeout: float):
    import serial

    if baud < 1:
        raise DqhwError(f"--baud must be positive, got {baud}")
    if not os.path.exists(port):
        raise DqhwError(f"{port}: no such serial port")
    try:
        return serial.Serial(port, baudrate=baud, timeout=min(0.05, timeout), write_timeout=timeout)
    except (serial.SerialException, ValueError, OSError) as e:
        raise DqhwError(f"{port}: cannot open the serial port ({' '.join(str(e).split())})") from None


def run(args: argparse.Namespace) -> int:
    from dqhw import hostlink

    if args.window < 1 or args.window > 16:
        raise DqhwError(f"--window must be 1..16 (the board's response queue), got {args.window}")
    if args.timeout <= 0:
        raise DqhwError(f"--timeout must be positive, got {args.timeout}")
    build, design, fs, n, golden = _load(args)
    shape = hostlink.LinkShape.of(design)
    frames = [np.ascontiguousarray(fs.images[k]).tobytes() for k in range(n)]
    if any(len(f) != shape.frame_bytes for f in frames):
        raise DqhwError(f"frames of {len(frames[0])} bytes, the board takes {shape.frame_bytes}")
    gm = None
    if not shape.has_class:
        from dqhw.golden import GoldenModel

        gm = GoldenModel.from_build(build)  # the host-side class rule of a logits build
    say = (lambda *a: None) if args.quiet else (lambda m: print(m, flush=True))
    say(f"run {args.port}: {n} frames of {shape.frame_bytes} bytes at {args.baud} baud, window {args.window}")
    import serial

    step = max(1, n // 10)
    try:
        with _open(args.port, args.baud, args.timeout) as port:
            stats = hostlink.exchange(port, frames, args.timeout, args.window,
                                      progress=lambda k: (k + 1) % step == 0 and say(f"  {k + 1}/{n} frames answered"))
    except serial.SerialException as e:  # unplugged, a write that does not drain, ...
        raise DqhwError(f"{args.port}: serial port error ({' '.join(str(e).split())})") from None
    classes = hostlink.classes_of(shape, stats.answers, design, gm)
    summary = _summary(classes, fs.labels, golden, n, stats, args.baud, shape)
    say(_line(summary))
    if args.json:
        _write_json(Path(args.json), summary | {"classes": classes.tolist()})
    return 0 if not stats.errors else 3


def _summary(classes, labels, golden, n, stats, baud, shape) -> dict:
    ok = classes >= 0
    s = {"frames": n, "answered": int(ok.sum()), "damaged": [[k, st] for k, st in stats.errors],
         "seconds": round(stats.seconds, 4), "frames_per_s": round(n / stats.seconds, 2) if stats.seconds else None,
         "baud": baud, "frame_bytes": shape.frame_bytes, "result_bytes": shape.result_bytes,
         "garbled_responses": stats.garbled, "flushed_responses": stats.flushed}
    if labels is not None:
        s["accuracy"] = round(float((classes == labels[:n]).mean()), 6)
    if golden is not None:
        s["golden_agree"] = int((classes == golden[:n]).sum())
    return s


def _line(s: dict) -> str:
    parts = [f"{s['answered']}/{s['frames']} frames answered"]
    if "accuracy" in s:
        parts.append(f"accuracy {100 * s['accuracy']:.2f} %")
    if "golden_agree" in s:
        parts.append(f"golden model agrees on {s['golden_agree']}/{s['frames']}")
    if s["damaged"]:
        parts.append(f"{len(s['damaged'])} frames damaged on the link (first: frame {s['damaged'][0][0]})")
    parts.append(f"{s['frames_per_s']} frames/s")
    return "run: " + ", ".join(parts)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)

