"""`dqhw data cifar10|svhn`: download a data set into the layout dqhw.data reads.

- cifar10: the official `cifar-10-python.tar.gz` (MD5-checked), unpacked to `OUT/cifar-10-batches-py`.
- svhn: the official cropped-digits `train_32x32.mat` and `test_32x32.mat` (each MD5-checked) in `OUT/svhn`.

The URLs and MD5 sums are the ones torchvision's CIFAR10 and SVHN classes use. torchvision itself is
not used: PyPI's torchvision wheels for torch 2.13 are CUDA builds that fail to import beside the CPU
torch pinned in requirements/base.txt ('operator torchvision::nms does not exist'), and the CPU wheels
are not on PyPI. So the download is urllib + hashlib + tarfile, with the same checks.

Nothing half-written is ever left in OUT: files are downloaded and unpacked in hidden temporary folders
next to the destination, which is renamed into place only after every checksum and the extraction
passed. `--mirror URL` (or the DQHW_DATA_MIRROR environment variable) replaces the official folder
URL: the file names are appended to it. A local folder (no scheme) or a file:// URL works too.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from dqhw.errors import DqhwError
from dqhw.io import atomic_dir

MIRROR_ENV = "DQHW_DATA_MIRROR"
CHUNK = 1 << 20
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Remote:
    """One file to download: its name (appended to the base URL) and official MD5."""

    filename: str
    md5: str


@dataclass(frozen=True)
class Source:
    title: str
    base_url: str
    folder: str  # the destination folder under OUT
    remotes: tuple[Remote, ...]
    expected: tuple[str, ...]  # files the destination folder must hold
    archive_root: str | None = None  # for an archive: the folder inside it that becomes `folder`


CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")

SOURCES: dict[str, Source] = {
    "cifar10": Source(
        title="CIFAR-10",
        base_url="https://www.cs.toronto.edu/~kriz/",
        folder="cifar-10-batches-py",
        remotes=(Remote("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
        expected=CIFAR10_FILES,
        archive_root="cifar-10-batches-py",
    ),
    "svhn": Source(
        title="SVHN",
        base_url="http://ufldl.stanford.edu/housenumbers/",
        folder="svhn",
        remotes=(Remote("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
                 Remote("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3")),
        expected=("train_32x32.mat", "test_32x32.mat"),
    ),
}


@dataclass
class FetchResult:
    name: str
    path: Path  # what --data-dir takes
    downloaded: bool  # False: it was already there


def base_url(name: str, mirror: str | None = None) -> str:
    """The folder URL the files are fetched from: --mirror, else $DQHW_DATA_MIRROR, else the official one."""
    url = mirror or os.environ.get(MIRROR_ENV) or SOURCES[name].base_url
    scheme = urllib.parse.urlsplit(url).scheme
    if not scheme:  # a local folder
        url = Path(url).expanduser().resolve().as_uri()
    elif scheme not in ("http", "https", "file"):
        raise DqhwError(f"mirror {url!r}: only http://, https://, file:// URLs or a local folder")
    return url if url.endswith("/") else url + "/"


def present(name: str, out: str | os.PathLike = "data") -> Path | None:
    """OUT's folder for data set `name` if it holds every expected file; None if there is no such folder."""
    dest = Path(out) / SOURCES[name].folder
    if not dest.exists():
        return None
    missing = [f for f in SOURCES[name].expected if not (dest / f).is_file()]
    if missing:
        raise DqhwError(f"{dest} exists but lacks {', '.join(missing)}: remove it or choose another --out")
    return dest


def fetch(name: str, out: str | os.PathLike = "data", mirror: str | None = None, progress: bool = True,
          stream=None) -> FetchResult:
    """Download data set `name` into OUT (see the module docstring). Raises DqhwError on any failure."""
    if name not in SOURCES:
        raise DqhwError(f"unknown data set {name!r}; choose one of {', '.join(SOURCES)}")
    src = SOURCES[name]
    out = Path(out)
    dest = out / src.folder
    if present(name, out):
        return FetchResult(name, dest, downloaded=False)
    if out.exists() and not out.is_dir():
        raise DqhwError(f"--out {out} is not a folder")
    url = base_url(name, mirror)
    stream = stream if stream is not None else sys.stdout
    created_out = not out.exists()
    try:
        _fetch_into(src, url, out, dest, progress, stream)
    except BaseException:
        if created_out and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    return FetchResult(name, dest, downloaded=True)


def _fetch_into(src: Source, url: str, out: Path, dest: Path, progress: bool, stream) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{src.folder}.download-", dir=out) as work, \
            atomic_dir(dest) as tmp:
        work = Path(work)
        for remote in src.remotes:
            target = (work if src.archive_root else tmp) / remote.filename
            download(url + remote.filename, target, remote.md5, progress=progress, stream=stream)
            if src.archive_root:
                _unpack(target, work / "unpacked", src.archive_root, tmp)
        missing = [f for f in src.expected if not (tmp / f).is_file()]
        if missing:
            raise DqhwError(f"{url}: the download lacks {', '.join(missing)}")


def download(url: str, target: Path, md5: str, progress: bool = True, stream=None) -> None:
    """Stream `url` to `target`, checking the length the server announced and the MD5."""
    name = target.name
    digest = hashlib.md5()
    stream = stream if stream is not None else sys.stdout
    done, total, bar = 0, None, None
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, open(target, "wb") as f:
            total = _length(resp)
            bar = _Bar(name, total, stream) if progress else None
            while chunk := resp.read(CHUNK):
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if bar:
                    bar.update(done)
            if bar:
                bar.close(done)
                bar = None
    except urllib.error.HTTPError as e:
        raise DqhwError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise DqhwError(f"cannot download {url}: {_reason(e.reason)}") from None
    except http.client.IncompleteRead as e:
        raise DqhwError(f"{url}: the download broke off after {_mb(done + len(e.partial))} of "
                        f"{_mb(total) if total else '?'} (a partial download; nothing was kept)") from None
    except (http.client.HTTPException, OSError) as e:
        raise DqhwError(f"cannot download {url}: {_reason(e)}") from None
    finally:
        if bar:  # broken off: end the bar's line so the error starts on its own
            bar.abort()
    if total is not None and done != total:
        raise DqhwError(f"{url}: got {done} bytes, the server announced {total} (a partial download; nothing was kept)")
    got = digest.hexdigest()
    if got != md5:
        raise DqhwError(f"{url}: MD5 {got} is not the official {md5} ({_mb(done)}: a corrupt or partial "
                        "download, or the mirror serves another file; nothing was kept)")


def _unpack(archive: Path, into: Path, root: str, dest: Path) -> None:
    """Extract `archive` (tar.gz) into `into`, then move the files of its `root` folder into `dest`."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DqhwError(f"{archive.name}: not a readable tar.gz archive ({_reason(e)})") from None
    except OSError as e:
        raise DqhwError(f"{archive.name}: cannot unpack into {into.parent} ({_reason(e)})") from None
    folder = into / root
    if not folder.is_dir():
        raise DqhwError(f"{archive.name}: no {root}/ folder inside the archive")
    for item in folder.iterdir():
        os.replace(item, dest / item.name)


def _length(resp) -> int | None:
    try:
        n = int(resp.headers.get("Content-Length", ""))
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def _reason(e) -> str:
    text = str(getattr(e, "strerror", None) or e) or type(e).__name__
    return text if len(text) < 200 else text[:197] + "..."


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class _Bar:
    """A download progress bar: redrawn in place on a terminal, a line every 10 s otherwise."""

    def __init__(self, name: str, total: int | None, stream):
        self.name, self.total, self.stream = name, total, stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.start = self.last = time.monotonic()
        self.every = 0.2 if self.tty else 10.0
        if self.tty:
            self._emit(0, final=False)

    def line(self, done: int) -> str:
        rate = done / max(time.monotonic() - self.start, 1e-6)
        if self.total:
            width = 24
            filled = int(width * min(1.0, done / self.total))
            return (f"{self.name} [{'#' * filled}{'.' * (width - filled)}] {_mb(done)} / {_mb(self.total)}, "
                    f"{rate / 1e6:.1f} MB/s")
        return f"{self.name} {_mb(done)}, {rate / 1e6:.1f} MB/s"

    def update(self, done: int) -> None:
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            self._emit(done, final=False)

    def close(self, done: int) -> None:
        self._emit(done, final=True)

    def abort(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _emit(self, done: int, final: bool) -> None:
        if self.tty:
            self.stream.write("\r" + self.line(done) + ("\n" if final else ""))
        else:
            self.stream.write(self.line(done) + "\n")
        self.stream.flush()
