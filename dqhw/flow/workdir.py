"""The folder a build runs in: dqhw.io.atomic_dir (a hidden `.OUT.tmp-XXXX` next to OUT, renamed to
OUT only when every step succeeded), plus what happens around it:

- temporaries that killed builds of the same OUT left (their lock is free) are removed when the next
  build of that OUT starts, with a progress line naming each and its size; a build still running into
  the same OUT keeps its own;
- a failed build keeps its log next to OUT as `OUT.failed.log` (the error, the traceback of an internal
  error, the models the steps had saved, finn's console output) and its error line ends with
  `(build log: OUT.failed.log)`; the next successful build of OUT removes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.io import atomic_dir, write_text

FAILED_LOG_SUFFIX = ".failed.log"


def failed_log_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + FAILED_LOG_SUFFIX)


@contextlib.contextmanager
def build_workdir(out: str | Path, progress: Callable[[str], None] | None = None, opts=None) -> Iterator[Path]:
    """Yield the temporary build folder for OUT (see the module docstring)."""
    out = Path(out)

    def stale(folder: Path, size: int) -> None:
        if progress:
            progress(f"removed {folder} ({_size(size)}): the temporary folder a killed build of {out.name} left")

    with atomic_dir(out, on_stale=stale) as tmp:
        try:
            yield tmp
        except GeneratorExit:
            raise
        except BaseException as e:
            log = keep_failed_log(tmp, out, e, opts)
            if log is not None:
                name_log(e, log)
            raise
    failed_log_path(out).unlink(missing_ok=True)  # this build succeeded: an older failure's log is stale


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def name_log(e: BaseException, log: Path) -> None:
    """Make the error's one line say where the log is: a DqhwError's message ends with it; any other
    exception carries it as a note (cli.main prints notes on the internal-error line)."""
    if isinstance(e, DqhwError) and len(e.args) == 1 and isinstance(e.args[0], str):
        e.args = (f"{e.args[0]} (build log: {log})",)
    else:
        e.add_note(f"build log: {log}")


def keep_failed_log(tmp: Path, out: Path, e: BaseException, opts=None) -> Path | None:
    """Write OUT.failed.log from the temporary build folder before it is removed; None when even that
    fails (the build's own error is what the user needs to see then)."""
    when = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    kind = "error" if isinstance(e, DqhwError) else "interrupted" if isinstance(e, KeyboardInterrupt) \
        else "internal error"
    lines = [f"# dqhw build of {out} failed ({when})", "", f"{kind}: {type(e).__name__}: {e}", ""]
    if opts is not None and dataclasses.is_dataclass(opts):
        lines += ["## options", ""] + [f"{k} = {v!r}" for k, v in dataclasses.asdict(opts).items()] + [""]
    if not isinstance(e, DqhwError):
        lines += ["## traceback", "", *"".join(traceback.format_exception(e)).rstrip().splitlines(), ""]
    saved = sorted(p.name for p in (tmp / "intermediate").glob("*.onnx")) if (tmp / "intermediate").is_dir() else []
    lines += ["## models the steps saved before the failure (removed with the temporary folder)", ""]
    lines += saved or ["none"]
    lines += ["", "## build.log (finn's console output)", ""]
    log = tmp / "build.log"
    try:
        lines.append(log.read_text(errors="replace") if log.is_file() else "(empty)")
        path = failed_log_path(out)
        write_text(path, "\n".join(lines).rstrip() + "\n")
        return path
    except OSError:
        return None
