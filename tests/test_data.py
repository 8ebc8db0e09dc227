import pickle

import numpy as np
import pytest

from dqhw.data import load_dataset
from dqhw.errors import DqhwError


def test_digits_is_uint8_nhwc_with_fixed_disjoint_splits():
    a = load_dataset("digits")
    b = load_dataset("digits")
    assert a.shape == (8, 8, 1)
    for x, y in (a.split("train"), a.split("val"), a.split("test")):
        assert x.dtype == np.uint8 and x.ndim == 4 and y.dtype == np.int64 and len(x) == len(y)
    assert len(a.x_train) + len(a.x_val) + len(a.x_test) == 1797
    assert a.x_train.max() == 255 and a.x_train.min() == 0
    # 17 grey levels (0..16) scaled to 0..255
    assert len(np.unique(a.x_train)) == 17
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert set(np.unique(a.y_test)) == set(range(10))
    # splits are disjoint (compare image bytes + labels)
    keys = lambda x, y: {(xi.tobytes(), int(yi)) for xi, yi in zip(x, y)}  # noqa: E731
    assert not keys(a.x_test, a.y_test) & keys(a.x_val, a.y_val)


def _cifar_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n).tolist()
    with open(path, "wb") as f:
        pickle.dump({b"data": data, b"labels": labels}, f)
    return data, labels


def test_cifar10_official_python_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        _cifar_batch(folder / f"data_batch_{i}", 10, i)
    data, labels = _cifar_batch(folder / "test_batch", 7, 9)
    ds = load_dataset("cifar10", tmp_path)
    assert ds.shape == (32, 32, 3)
    assert len(ds.x_train) + len(ds.x_val) == 50 and len(ds.x_test) == 7
    # CHW rows -> HWC: the red plane of image 0 is its first 1024 bytes
    np.testing.assert_array_equal(ds.x_test[0, :, :, 0].reshape(-1), data[0, :1024])
    assert ds.y_test.tolist() == labels


def test_cifar10_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "c.npz"
    np.savez(path, x_train=rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), y_train=np.arange(20) % 10,
             x_test=rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8), y_test=np.arange(5))
    ds = load_dataset("cifar10", path)
    assert ds.x_test.shape == (5, 32, 32, 3) and ds.y_test.tolist() == [0, 1, 2, 3, 4]


def test_svhn_mat_maps_label_10_to_0(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 6)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = np.array([[10], [1], [2], [3], [4], [5]] * (n // 6), dtype=np.uint8)
        savemat(tmp_path / f"{split}_32x32.mat", {"X": x, "y": y})
        if split == "test":
            expected = x
    ds = load_dataset("svhn", tmp_path)
    assert ds.y_test.tolist() == [0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(ds.x_test[2], expected[:, :, :, 2])


@pytest.mark.parametrize("name,make,needle", [
    ("cifar10", lambda p: p, "data_batch_1"),
    ("svhn", lambda p: p, "train_32x32.mat"),
    ("cifar10", lambda p: p / "nope", "does not exist"),
    ("imagenet", lambda p: p, "unknown dataset"),
])
def test_missing_or_unknown_data_is_a_clear_error(tmp_path, name, make, needle):
    with pytest.raises(DqhwError, match=needle):
        load_dataset(name, make(tmp_path))


def test_corrupt_files_are_clear_errors(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DqhwError, match="not a readable"):
        load_dataset("cifar10", tmp_path / "bad.npz")
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / n).write_bytes(b"garbage")
    with pytest.raises(DqhwError, match="not a CIFAR-10 python batch"):
        load_dataset("cifar10", tmp_path)
    with pytest.raises(DqhwError, match="needs --data-dir"):
        load_dataset("svhn", None)
