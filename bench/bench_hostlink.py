"""What limits frames/s over the board's UART host link (docs/board.md, "What limits frames/s").

    python bench/bench_hostlink.py BUILD [--frames 16] [--window 4] [--out results/hostlink/X.json]

For an ECP5 build: the link's bound (baud / 10 bits / request bytes per frame, the request bytes
measured by encoding the build's frames), the accelerator's (clock / cycles per frame, design.json),
the CIFAR-size link bound (a 32x32x3 frame), and a measurement: the build's board top Verilated at
the bitstream's UART divider (clock / baud clocks per bit) behind a pty, `dqhw run`'s exchange with
--window frames in flight, the board cycles between consecutive responses (the bridge counts them,
so the simulation's own speed does not enter). Writes JSON (temp file, then renamed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dqhw import hostlink  # noqa: E402
from dqhw.hostlink_sim import BoardSim, build_board_sim  # noqa: E402
from dqhw.rtlgen.generate import Design  # noqa: E402
from dqhw.synth.ecp5 import UART_BAUD  # noqa: E402

BITS_PER_BYTE = 10  # 8N1: start, 8 data, stop
CIFAR_FRAME = 32 * 32 * 3


def _clock_mhz(build: Path) -> float:
    info = json.loads((build / "build.json").read_text())
    pr = info.get("place_route") or {}
    return float(pr.get("clock_mhz") or 1e3 / float(info["board"]["clock_ns"]))


def measure(build: Path, n: int, window: int, work: Path) -> dict:
    import serial

    design = Design.load(build / "rtl")
    mhz = _clock_mhz(build)
    cpb = round(mhz * 1e6 / UART_BAUD)
    with np.load(build / "frames" / "clean.npz") as z:
        images = z["images"][:n]
    frames = [np.ascontiguousarray(x).tobytes() for x in images]
    req = [len(hostlink.encode_request(k & 0xFF, f)) for k, f in enumerate(frames)]
    print(f"bench_hostlink: building the board simulation ({cpb} clocks per bit) ...", flush=True)
    exe = build_board_sim(build, work, cpb)
    with BoardSim(exe) as sim, serial.Serial(sim.port, timeout=0.05) as port:
        print(f"bench_hostlink: {n} frames, window {window}, on {sim.port}", flush=True)
        stats = hostlink.exchange(port, frames, timeout_s=60, window=window)
    ends = sim.stats["sync_out_cycles"][1::2]  # closing sync byte of each response
    steady = (ends[-1] - ends[1]) / (len(ends) - 2) if len(ends) > 2 else None
    shape = hostlink.LinkShape.of(design)
    link_fps = UART_BAUD / (BITS_PER_BYTE * float(np.mean(req)))
    acc_fps = mhz * 1e6 / design.expected_cycles_per_frame
    return {
        "build": str(build), "clock_mhz": mhz, "baud": UART_BAUD, "clks_per_bit": cpb,
        "frame_bytes": shape.frame_bytes, "request_bytes_mean": float(np.mean(req)),
        "response_bytes": 5 + shape.result_bytes + 1, "accelerator_cycles_per_frame": design.expected_cycles_per_frame,
        "link_bound_fps": round(link_fps, 1), "accelerator_bound_fps": round(acc_fps, 1),
        "limit": "link" if link_fps < acc_fps else "accelerator",
        "measured": {"frames": n, "window": window, "answered": sum(a is not None for a in stats.answers),
                     "damaged": len(stats.errors), "board_cycles_per_frame_steady": steady,
                     "fps_at_clock": round(mhz * 1e6 / steady, 1) if steady else None,
                     "bridge": {k: v for k, v in sim.stats.items() if k != "sync_out_cycles"}},
        "cifar_size": {"frame_bytes": CIFAR_FRAME, "request_bytes": CIFAR_FRAME + 5,
                       "link_bound_fps": round(UART_BAUD / (BITS_PER_BYTE * (CIFAR_FRAME + 5)), 2)},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-hostlink-") as work:
        res = measure(Path(args.build).resolve(), args.frames, args.window, Path(work))
    text = json.dumps(res, indent=1) + "\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
