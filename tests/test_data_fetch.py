"""`dqhw data cifar10|svhn`, offline: tiny archives in the official formats served from a local HTTP
server (or a local folder), with the official MD5 sums swapped for the tiny files' own."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import io
import pickle
import socket
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from dqhw.data import load_dataset
from dqhw.datasets_fetch import MIRROR_ENV, SOURCES, Remote, base_url
from dqhw.errors import DqhwError
from tests.conftest import assert_one_line_error, run_cli

PER_BATCH = 4


def _cifar_tarball() -> tuple[bytes, dict[str, np.ndarray]]:
    """A cifar-10-python.tar.gz with data_batch_1..5, test_batch and batches.meta of 4 images each."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    labels = {}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        for k, name in enumerate(names):
            y = [(k * PER_BATCH + j) % 10 for j in range(PER_BATCH)]
            labels[name] = np.array(y)
            batch = {b"batch_label": name.encode(), b"labels": y,
                     b"data": rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8),
                     b"filenames": [f"{name}_{j}.png".encode() for j in range(PER_BATCH)]}
            _add(tar, f"cifar-10-batches-py/{name}", pickle.dumps(batch, protocol=2))
        meta = {b"label_names": [b"c%d" % i for i in range(10)], b"num_cases_per_batch": PER_BATCH}
        _add(tar, "cifar-10-batches-py/batches.meta", pickle.dumps(meta, protocol=2))
        _add(tar, "cifar-10-batches-py/readme.html", b"<html>tiny</html>")
    return buf.getvalue(), labels


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _svhn_mats(folder: Path) -> dict[str, np.ndarray]:
    from scipy.io import savemat

    rng = np.random.default_rng(1)
    labels = {}
    for split, n in (("train", 12), ("test", 5)):
        y = 10 - np.arange(n) % 10  # 10, 9, ..., 1: 10 is the digit 0
        savemat(folder / f"{split}_32x32.mat",
                {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8), "y": y.reshape(-1, 1).astype(np.uint8)})
        labels[split] = np.where(y == 10, 0, y)
    return labels


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; /broken/NAME announces the whole file but sends half of it and hangs up."""

    def do_GET(self):  # noqa: N802
        if self.path.startswith("/broken/"):
            data = (Path(self.directory) / self.path.removeprefix("/broken/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """(folder served, base URL) of a local HTTP server on 127.0.0.1."""
    root = tmp_path / "mirror"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def cifar(server, monkeypatch):
    """The tiny CIFAR-10 archive on the server, its MD5 patched in; returns (root, url, archive, labels)."""
    root, url = server
    archive, labels = _cifar_tarball()
    (root / "cifar-10-python.tar.gz").write_bytes(archive)
    _patch_md5(monkeypatch, "cifar10", {"cifar-10-python.tar.gz": _md5(archive)})
    return root, url, archive, labels


def _patch_md5(monkeypatch, name: str, md5s: dict[str, str]) -> None:
    src = SOURCES[name]
    remotes = tuple(Remote(r.filename, md5s.get(r.filename, r.md5)) for r in src.remotes)
    monkeypatch.setitem(SOURCES, name, dataclasses.replace(src, remotes=remotes))


def test_cifar10_download_loads_and_rerun_says_so(cifar, tmp_path, capsys):
    _, url, _, labels = cifar
    out = tmp_path / "data"
    code, stdout, err = run_cli(["data", "cifar10", "--out", out, "--mirror", url], capsys)
    assert code == 0, err
    folder = out / "cifar-10-batches-py"
    assert f"--data-dir {folder}" in stdout
    assert "cifar-10-python.tar.gz [" in stdout  # the progress bar
    assert sorted(p.name for p in out.iterdir()) == ["cifar-10-batches-py"]  # no archive, no temporaries
    for data_dir in (folder, out):  # the folder itself or its parent
        ds = load_dataset("cifar10", data_dir=data_dir, val_fraction=0.0)
        assert ds.x_train.shape == (5 * PER_BATCH, 32, 32, 3) and ds.x_test.shape == (PER_BATCH, 32, 32, 3)
        assert ds.x_train.dtype == np.uint8
        assert sorted(ds.y_train.tolist()) == sorted(np.concatenate(
            [labels[f"data_batch_{i}"] for i in range(1, 6)]).tolist())
        assert ds.y_test.tolist() == labels["test_batch"].tolist()
    code, stdout, err = run_cli(["data", "cifar10", "--out", out, "--mirror", url], capsys)
    assert code == 0, err
    assert "already in" in stdout and f"--data-dir {folder}" in stdout


def test_svhn_from_a_local_folder_named_by_the_environment(tmp_path, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    labels = _svhn_mats(mirror)
    _patch_md5(monkeypatch, "svhn", {f: _md5((mirror / f).read_bytes()) for f in ("train_32x32.mat", "test_32x32.mat")})
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    out = tmp_path / "data"
    code, stdout, err = run_cli(["data", "svhn", "--out", out, "--quiet"], capsys)
    assert code == 0, err
    assert f"--data-dir {out / 'svhn'}" in stdout
    ds = load_dataset("svhn", data_dir=out / "svhn", val_fraction=0.0)
    assert ds.x_train.shape == (12, 32, 32, 3) and ds.x_test.shape == (5, 32, 32, 3)
    assert sorted(ds.y_train.tolist()) == sorted(labels["train"].tolist())  # the split shuffles train
    assert ds.y_test.tolist() == labels["test"].tolist() and 0 in ds.y_test.tolist()  # label 10 -> 0
    assert sorted(p.name for p in out.iterdir()) == ["svhn"]


def _bad_archive(kind: str, root: Path, archive: bytes, monkeypatch) -> str:
    """Put a bad archive on the server; returns the URL path prefix to fetch from."""
    if kind == "corrupt":  # one byte flipped, the official (here: the good archive's) MD5
        bad = bytearray(archive)
        bad[len(bad) // 2] ^= 0xFF
        (root / "cifar-10-python.tar.gz").write_bytes(bytes(bad))
    elif kind == "truncated":  # cut short, the good archive's MD5
        (root / "cifar-10-python.tar.gz").write_bytes(archive[: len(archive) // 2])
    elif kind == "truncated-md5-matches":  # cut short and its own MD5 patched in: extraction must fail
        (root / "cifar-10-python.tar.gz").write_bytes(archive[: len(archive) // 2])
        _patch_md5(monkeypatch, "cifar10", {"cifar-10-python.tar.gz": _md5(archive[: len(archive) // 2])})
    elif kind == "broken-connection":  # the server announces the whole file and hangs up half-way
        return "broken/"
    return ""


@pytest.mark.parametrize("kind, needle", [("corrupt", "MD5"), ("truncated", "MD5"),
                                          ("truncated-md5-matches", "not a readable tar.gz"),
                                          ("broken-connection", "partial download")])
def test_bad_download_one_line_and_nothing_left(kind, needle, cifar, tmp_path, monkeypatch, capsys):
    root, url, archive, _ = cifar
    prefix = _bad_archive(kind, root, archive, monkeypatch)
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run_cli(["data", "cifar10", "--out", out, "--mirror", url + prefix, "--quiet"], capsys)
    assert_one_line_error(code, err, needle)
    assert err.startswith("dqhw data: error: ")
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]  # no folder, no hidden temporaries


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_and_missing_file(server, tmp_path, capsys):
    _, url = server
    out = tmp_path / "data"
    code, _, err = run_cli(["data", "svhn", "--out", out, "--mirror", f"http://127.0.0.1:{_closed_port()}/x"], capsys)
    assert_one_line_error(code, err, "cannot download")
    assert not out.exists()  # the folder it would have created is gone too
    code, _, err = run_cli(["data", "svhn", "--out", out, "--mirror", url], capsys)  # nothing served: 404
    assert_one_line_error(code, err, "HTTP 404")
    assert not out.exists()


def test_cli_subprocess_official_md5_rejects_other_file(server, tmp_path):
    """As a user runs it: a mirror serving a file that is not the official archive (the tiny one, checked
    against the real MD5) gives one line on stderr, exit 2, and no folder."""
    root, url = server
    (root / "cifar-10-python.tar.gz").write_bytes(_cifar_tarball()[0])
    out = tmp_path / "data"
    proc = subprocess.run([sys.executable, "-m", "dqhw", "data", "cifar10", "--out", str(out), "--mirror", url],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dqhw data: error: ") and "MD5" in lines[0], proc.stderr
    assert "c58f30108f718f92721af3b95e74349a" in lines[0]  # the official checksum
    assert not out.exists()


def test_incomplete_existing_folder_is_left_alone(tmp_path, capsys):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(b"x")
    code, _, err = run_cli(["data", "cifar10", "--out", tmp_path / "data", "--mirror", "http://127.0.0.1:9/"], capsys)
    assert_one_line_error(code, err, "lacks data_batch_2")
    assert [p.name for p in folder.iterdir()] == ["data_batch_1"]


def test_mirror_urls():
    assert base_url("cifar10") == "https://www.cs.toronto.edu/~kriz/"
    assert base_url("svhn", "http://example.org/svhn") == "http://example.org/svhn/"
    assert base_url("svhn", "/srv/data").startswith("file:///")
    with pytest.raises(DqhwError, match="only http"):
        base_url("svhn", "ftp://example.org/")
