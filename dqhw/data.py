"""Data sets as uint8 NHWC images + int64 labels with a fixed, seeded train/val/test split.

- `digits`: sklearn's load_digits (ships with scikit-learn), 8x8x1, grey levels 0..16 scaled to
  0..255 (round(v * 255 / 16)). The embedded default for the demo, the tests and CI.
- `cifar10`: the official `cifar-10-batches-py` folder, or an `.npz` with x_train/y_train/x_test/y_test
  (HWC uint8), e.g. a re-encoded copy (say so in results). `dqhw data cifar10` downloads the official
  folder (dqhw.datasets_fetch).
- `svhn`: the official cropped-digits `train_32x32.mat` / `test_32x32.mat` (label 10 -> 0), in one folder
  (`dqhw data svhn` writes data/svhn).
The validation split is carved from the training data with the data set's seed, never from test.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError

DATASETS = ("digits", "cifar10", "svhn")


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int = 10

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one image."""
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in ("train", "val", "test"):
            raise DqhwError(f"unknown split {name!r}; choose train, val or test")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


def load_dataset(name: str = "digits", data_dir: str | Path | None = None, seed: int = 0,
                 val_fraction: float = 0.1) -> Dataset:
    """Load a data set by name. `seed` fixes the split (not the training seed)."""
    if name not in DATASETS:
        raise DqhwError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if data_dir is not None and Path(data_dir).suffix == ".npz":  # any data set as x/y_train, x/y_test arrays
        x_tr, y_tr, x_te, y_te = _npz(name, Path(data_dir))
    elif name == "digits":
        x_tr, y_tr, x_te, y_te = _digits(seed)
    elif name == "cifar10":
        x_tr, y_tr, x_te, y_te = _cifar10(_need_dir(name, data_dir))
    elif name == "svhn":
        x_tr, y_tr, x_te, y_te = _svhn(_need_dir(name, data_dir))
    else:
        raise DqhwError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    x_tr, y_tr, x_va, y_va = _carve_val(x_tr, y_tr, val_fraction, seed)
    return Dataset(name, x_tr, y_tr, x_va, y_va, x_te, y_te)


def _need_dir(name: str, data_dir) -> Path:
    if data_dir is None:
        raise DqhwError(f"dataset {name!r} needs --data-dir ({_EXPECTED[name]})")
    path = Path(data_dir)
    if not path.exists():
        raise DqhwError(f"--data-dir {path} does not exist ({_EXPECTED[name]})")
    return path


_EXPECTED = {
    "cifar10": "a cifar-10-batches-py folder (data_batch_1..5, test_batch) or an .npz with "
    "x_train, y_train, x_test, y_test",
    "svhn": "a folder with train_32x32.mat and test_32x32.mat",
}


def _carve_val(x, y, frac, seed):
    rng = np.random.default_rng(seed + 1)
    idx = rng.permutation(len(x))
    n_val = int(round(len(x) * frac))
    va, tr = idx[:n_val], idx[n_val:]
    return x[tr], y[tr], x[va], y[va]


def _digits(seed: int):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.rint(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[..., None]
    y = d.target.astype(np.int64)
    idx = np.random.default_rng(seed).permutation(len(x))
    n_test = 360  # a fixed 20 % test split
    te, tr = idx[:n_test], idx[n_test:]
    return x[tr], y[tr], x[te], y[te]


def _check_images(name: str, x: np.ndarray, y: np.ndarray, source: Path) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or len(x) != len(y) or len(x) == 0:
        raise DqhwError(f"{source}: malformed {name} data (images {x.shape}, labels {y.shape})")
    if x.dtype != np.uint8:
        if x.min() < 0 or x.max() > 255:
            raise DqhwError(f"{source}: {name} images must be uint8 pixels 0..255")
        x = x.astype(np.uint8)
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if y.min() < 0 or y.max() > 9:
        raise DqhwError(f"{source}: {name} labels must be 0..9")
    return x, y


def _npz(name: str, path: Path):
    """x_train, y_train, x_test, y_test (uint8 NHWC, labels 0..9) from an .npz: a subset made by
    `dqhw mechanism`/`dqhw reproduce`, or the JPEG copy of CIFAR-10."""
    if not path.is_file():
        raise DqhwError(f"--data-dir {path} does not exist")
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as e:
        raise DqhwError(f"{path}: missing array {e.args[0]} (an .npz needs x_train, y_train, x_test, y_test)") from None
    except Exception as e:  # noqa: BLE001  (zip/pickle errors of a corrupt file)
        raise DqhwError(f"{path}: not a readable .npz ({type(e).__name__})") from None
    xtr, ytr = _check_images(name, arrays["x_train"], arrays["y_train"], path)
    xte, yte = _check_images(name, arrays["x_test"], arrays["y_test"], path)
    return xtr, ytr, xte, yte


def _cifar10(path: Path):
    folder = path / "cifar-10-batches-py" if (path / "cifar-10-batches-py").is_dir() else path
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DqhwError(f"{folder}: missing {', '.join(missing)} ({_EXPECTED['cifar10']})")
    parts = []
    for n in names:
        try:
            with open(folder / n, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            labels = np.asarray(batch[b"labels"], dtype=np.int64)
        except Exception as e:  # noqa: BLE001
            raise DqhwError(f"{folder / n}: not a CIFAR-10 python batch ({type(e).__name__})") from None
        parts.append(_check_images("cifar10", data, labels, folder / n))
    xtr = np.concatenate([p[0] for p in parts[:5]])
    ytr = np.concatenate([p[1] for p in parts[:5]])
    return xtr, ytr, parts[5][0], parts[5][1]


def _svhn(path: Path):
    from scipy.io import loadmat

    out = []
    for split in ("train", "test"):
        f = path / f"{split}_32x32.mat"
        if not f.is_file():
            raise DqhwError(f"{path}: missing {f.name} ({_EXPECTED['svhn']})")
        try:
            m = loadmat(f)
            x = np.asarray(m["X"]).transpose(3, 0, 1, 2)  # (32, 32, 3, N) -> NHWC
            y = np.asarray(m["y"]).reshape(-1).astype(np.int64)
        except Exception as e:  # noqa: BLE001
            raise DqhwError(f"{f}: not an SVHN cropped-digits .mat file ({type(e).__name__})") from None
        y = np.where(y == 10, 0, y)
        out.extend(_check_images("svhn", x, y, f))
    return out[0], out[1], out[2], out[3]


def write_stratified_subset(name: str, data_dir, n_train: int | None, n_test: int | None, seed: int,
                            dst: str | Path) -> dict:
    """Write a seeded class-stratified subset of the data set's whole training split (no validation carved
    off; training carves it from the subset) and test split to `dst` (.npz, atomically). Returns
    {"train": {"n", "of", "per_class"}, "test": {...}}. Used by dqhw reproduce and dqhw mechanism."""
    from dqhw.io import atomic_path
    from dqhw.sampling import class_counts, stratified_indices

    data = load_dataset(name, data_dir, val_fraction=0.0)
    arrays, counts = {}, {}
    for split, n in (("train", n_train), ("test", n_test)):
        x, y = data.split(split)
        idx = stratified_indices(y, n or len(y), seed)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x[idx], y[idx]
        counts[split] = {"n": int(len(idx)), "of": int(len(y)), "per_class": class_counts(y[idx])}
    with atomic_path(dst, ".npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return counts
