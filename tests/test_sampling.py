"""Samples are seeded and class-stratified everywhere (`--limit` of attack, eval and sim, the frames a
build is verified on): a class-sorted data file gives every class, never "the first N" images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dqhw.data import load_dataset
from dqhw.sampling import sample_split, stratified_indices
from tests.conftest import assert_one_line_error, run_cli


def reference_quota(labels: np.ndarray, n: int) -> dict[int, int]:
    """Largest-remainder apportionment written out with exact fractions, class by class."""
    from fractions import Fraction

    classes = sorted(set(labels.tolist()))
    share = {c: Fraction(n * int((labels == c).sum()), len(labels)) for c in classes}
    quota = {c: int(share[c]) for c in classes}
    left = n - sum(quota.values())
    by_remainder = sorted(classes, key=lambda c: (-(share[c] - quota[c]), c))
    for c in by_remainder[:left]:
        quota[c] += 1
    return quota


@pytest.mark.parametrize("counts,n", [([100] * 10, 64), ([2, 50], 10), ([7, 13, 1, 29], 17), ([5, 5, 5], 1)])
def test_stratified_counts_match_an_exact_apportionment(counts, n):
    labels = np.repeat(np.arange(len(counts)), counts)  # class-sorted
    idx = stratified_indices(labels, n, seed=3)
    assert len(idx) == n and len(np.unique(idx)) == n and np.all(np.diff(idx) > 0)
    got = {c: int((labels[idx] == c).sum()) for c in range(len(counts))}
    assert got == {c: reference_quota(labels, n).get(c, 0) for c in range(len(counts))}


def test_stratified_is_seeded_and_independent_of_file_order():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 100)
    a, b, c = (stratified_indices(labels, 50, seed=s) for s in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(a, np.arange(50))  # never the first N
    shuffled = labels[rng.permutation(len(labels))]
    assert np.bincount(shuffled[stratified_indices(shuffled, 50, 0)]).tolist() == [5] * 10
    assert np.array_equal(stratified_indices(labels, 5000, 0), np.arange(1000))  # more than exist: all of them
    unlabeled = stratified_indices(None, 7, 0, total=40)
    assert len(unlabeled) == 7 and unlabeled.max() < 40


def test_sample_describes_itself():
    labels = np.repeat(np.arange(10), 100)
    s = sample_split(labels, "test", 30, seed=2)
    assert s.tag() == "test-n30-s2" and s.per_class == {c: 3 for c in range(10)}
    assert "30 of 1,000 images" in s.describe() and "3 per class x 10" in s.describe()
    whole = sample_split(labels, "val", None)
    assert whole.whole and whole.tag() == "val" and whole.to_dict()["method"] == "all"


# ---------------------------------------------------------------------------------------------------
# the commands on a class-sorted file


@pytest.fixture(scope="module")
def sorted_run(tmp_path_factory):
    """digits written as a CIFAR-10-style .npz with every split sorted by class, and a run trained on it."""
    tmp = tmp_path_factory.mktemp("sorted")
    d = load_dataset("digits")
    xs, ys = [], []
    for x, y in ((np.concatenate([d.x_train, d.x_val]), np.concatenate([d.y_train, d.y_val])), (d.x_test, d.y_test)):
        order = np.argsort(y, kind="stable")
        xs.append(x[order])
        ys.append(y[order].astype(np.uint8))
    npz = tmp / "sorted.npz"
    np.savez(npz, x_train=xs[0], y_train=ys[0], x_test=xs[1], y_test=ys[1])
    assert np.all(np.diff(load_dataset("cifar10", npz).y_test) >= 0)  # the test split really is sorted
    return npz, tmp


def test_commands_sample_every_class_of_a_sorted_file(sorted_run, tmp_path, capsys):
    npz, tmp = sorted_run
    run = tmp / "run"
    code, _, err = run_cli(["train", "--dataset", "cifar10", "--data-dir", npz, "--epochs", "1", "--out", run,
                            "--quiet"], capsys)
    assert code == 0, err
    y_test = load_dataset("cifar10", npz).y_test

    # dqhw attack --limit: 20 images, two of each class, the sample in the file name and provenance
    code, out, err = run_cli(["attack", run, "--attack", "fgsm", "--eps", "16", "--limit", "20", "--quiet"], capsys)
    assert code == 0, err
    quota = reference_quota(y_test, 20)
    assert "20 of 360 images" in out and ("2 per class x 10" in out or f"0: {quota[0]}" in out)
    from dqhw.advsets import load_set
    from dqhw.runs import load_run

    s = load_set(run / "adv" / "fgsm-eps16-test-n20-s0.npz", run=load_run(run))
    assert np.bincount(s.labels, minlength=10).tolist() == [quota[c] for c in range(10)]
    assert s.provenance["sample"]["per_class"] == {str(c): k for c, k in quota.items()}

    # dqhw eval --limit: the report names the split, the sample size and its per-class counts
    code, _, err = run_cli(["eval", run, "--attacks", "fgsm", "--eps", "16", "--limit", "30", "--out", tmp_path / "e",
                            "--quiet", "--no-amplification", "--large-eps", "0"], capsys)
    assert code == 0, err
    rep = json.loads((tmp_path / "e" / "report.json").read_text())
    assert rep["sample"]["per_class"] == {str(c): k for c, k in reference_quota(y_test, 30).items()}
    assert rep["num_images"] == 30
    assert "test split, 30 of 360 images" in (tmp_path / "e" / "report.md").read_text()

    # the frames a build is verified on
    from dqhw.verification import clean_frames

    _, labels, desc = clean_frames(load_run(run), 40)
    assert np.bincount(labels, minlength=10).tolist() == list(reference_quota(y_test, 40).values())
    assert "40 of 360" in desc

    # dqhw sim --limit (the set selection; the RTL path itself is test_e2e's)
    from dqhw.simsession.session import collect_sets

    build = tmp / "build"
    build.mkdir()
    (build / "build.json").write_text(json.dumps({"source": {"kind": "run", "path": str(run),
                                                             "in_shape_hwc": [8, 8, 1]}}))
    sets = collect_sets(build, "test", limit=10)
    clean, adv = sets
    assert np.bincount(clean.labels, minlength=10).tolist() == list(reference_quota(y_test, 10).values())
    assert np.array_equal(clean.labels, y_test[clean.indices])
    assert np.bincount(adv.labels, minlength=10).tolist() == list(reference_quota(s.labels, 10).values())
    assert adv.split == "test"
    assert set(adv.indices) <= set(s.indices)  # a sample of the set, paired by index with its clean sources
    assert "crafted on the test split" in adv.sample

    code, _, err = run_cli(["attack", run, "--attack", "fgsm", "--eps", "16", "--limit", "0"], capsys)
    assert_one_line_error(code, err, "--limit")
