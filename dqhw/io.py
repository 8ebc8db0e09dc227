"""Atomic file and directory writes: an artefact either exists complete or not at all."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, on_stale: Callable[[Path, int], None] | None = None) -> Iterator[Path]:
    """Yield a temporary directory next to `path`; it replaces `path` only if the block succeeds.

    The temporary `.NAME.tmp-XXXX` holds an exclusive lock (flock on `.NAME.tmp-XXXX.lock`) while its
    process lives, so temporaries that a killed process left (the lock is free) are removed first; a
    live one (another process writing the same NAME) is left alone. on_stale(folder, bytes) is told of
    each removed one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale, size in remove_stale_temporaries(path):
        if on_stale is not None:
            on_stale(stale, size)
    tmp, lock_fd, lock = _locked_temporary(path)
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        lock.unlink(missing_ok=True)
        os.close(lock_fd)


STALE_LOCKLESS_S = 60.0  # a lock file without its folder is only someone's (being created) this long


def _locked_temporary(path: Path) -> tuple[Path, int, Path]:
    """(.NAME.tmp-XXXX, the fd holding its lock, .NAME.tmp-XXXX.lock): the lock exists and is held
    before the folder is made, and is removed only after the folder is renamed or removed."""
    while True:
        fd, lock = tempfile.mkstemp(prefix=f".{path.name}.tmp-", suffix=".lock", dir=path.parent)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a filesystem without flock: the folder is never taken for stale (no lock-free test)
            pass
        tmp = Path(lock[: -len(".lock")])
        try:
            tmp.mkdir()
            return tmp, fd, Path(lock)
        except FileExistsError:  # an older temporary of that name (without a lock): draw another
            os.close(fd)
            Path(lock).unlink(missing_ok=True)


def _owner_gone(lock: Path) -> bool:
    """True when nobody holds the lock (its process ended, killed or not)."""
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:  # held, or no flock here: not provably stale
        return False
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[tuple[Path, int]]:
    """Remove what killed writers of `path` left next to it: `.NAME.tmp-*` folders whose lock is free
    (or that have no lock file: from before locks) and `.NAME.old-PID` folders whose process is gone.
    Returns [(folder, bytes)] of what was removed."""
    import glob
    import time

    path = Path(path)
    removed = []
    for p in sorted(path.parent.glob(f".{glob.escape(path.name)}.tmp-*")):
        lock = p.with_name(p.name + ".lock")
        if p.suffix == ".lock":
            if not p.with_name(p.stem).exists() and time.time() - _mtime(p) > STALE_LOCKLESS_S and _owner_gone(p):
                p.unlink(missing_ok=True)
            continue
        if not p.is_dir() or (lock.exists() and not _owner_gone(lock)):
            continue
        removed.append((p, _tree_bytes(p)))
        shutil.rmtree(p, ignore_errors=True)
        lock.unlink(missing_ok=True)
    for p in sorted(path.parent.glob(f".{glob.escape(path.name)}.old-*")):
        pid = p.name.rsplit("-", 1)[-1]
        if p.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
            removed.append((p, _tree_bytes(p)))
            shutil.rmtree(p, ignore_errors=True)
    return removed


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def _tree_bytes(p: Path) -> int:
    total = 0
    for root, _, files in os.walk(p):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path, ".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")
