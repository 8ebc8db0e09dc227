"""Live progress of long RTL simulations: frames done, frames/s and ETA, read from the testbench's
`frames.out` files while the simulators run (tb_dqhw_accel flushes one `out <frame> <cycle>` line per
finished frame). One watcher can follow many files, so `dqhw sim --jobs N` rolls its shards up into
one line. On a terminal the line is redrawn in place; otherwise (a log file, CI) a full line is
printed every `every` seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


def count_frames_out(path: Path, state: dict) -> int:
    """Finished frames in a growing frames.out, reading only what was appended since the last call
    (`state` keeps the offset and the count per file)."""
    offset, count = state.get(path, (0, 0))
    try:
        with path.open("rb") as f:
            if f.seek(0, 2) < offset:  # the file was recreated (a new run): start over
                offset, count = 0, 0
            f.seek(offset)
            chunk = f.read()
    except OSError:
        return count
    end = chunk.rfind(b"\n") + 1  # only whole lines
    count += sum(1 for line in chunk[:end].splitlines() if line.startswith(b"out "))
    state[path] = (offset + end, count)
    return count


def _written_since(path: Path, since: float) -> bool:
    try:
        return path.stat().st_mtime >= since
    except OSError:
        return False


def format_eta(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class FrameProgress:
    """with FrameProgress(files, total, label): ...  - a background thread that reports the frames
    finished in `files()` (a callable: the set of frames.out files can grow while shards start)."""

    def __init__(self, files: Callable[[], list[Path]], total: int, label: str, every: float = 30.0,
                 stream=None, poll: float = 1.0):
        self.files, self.total, self.label = files, max(1, int(total)), label
        self.stream = stream if stream is not None else sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 1.0 if self.tty else every
        self.poll = poll
        self.done_frames = 0
        self._state: dict = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._first: tuple[float, int] | None = None  # (time, frames) when frames first came out
        # a frames.out older than this watcher is an earlier run's, left until its shard starts over:
        # not counted (1 s of slack for coarse file-system timestamps)
        self._since = time.time() - 1.0

    def frames(self) -> int:
        return sum(count_frames_out(p, self._state) for p in self.files() if _written_since(p, self._since))

    def line(self) -> str:
        # the rate counts from the first finished frame: compiles, start-up and the pipeline's latency
        # before it are not frames/s
        if self._first is None:
            rate = 0.0
        else:
            t1, n1 = self._first
            elapsed = time.monotonic() - t1
            rate = (self.done_frames - n1) / elapsed if elapsed > 0 and self.done_frames > n1 else 0.0
        eta = format_eta((self.total - self.done_frames) / rate) if rate > 0 else "?"
        width = 24
        filled = int(width * min(1.0, self.done_frames / self.total))
        return (f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done_frames}/{self.total} frames, "
                f"{rate:.1f} frames/s, ETA {eta}")

    def _emit(self, final: bool = False) -> None:
        text = self.line()
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.poll):
            self.done_frames = self.frames()
            if self._first is None and self.done_frames:
                self._first = (time.monotonic(), self.done_frames)
            if time.monotonic() - last >= self.every:
                last = time.monotonic()
                self._emit()

    def __enter__(self) -> FrameProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.done_frames = self.frames()
        if self.tty:
            self._emit(final=True)
