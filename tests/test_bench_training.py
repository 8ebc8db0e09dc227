"""bench/bench_training.py without training: the run plan, the target arithmetic and the stratified
subset (the CIFAR-10 runs themselves take hours; docs/training.md has their numbers)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_training as bt  # noqa: E402


def test_plan_trains_fp_first_and_every_model_with_and_without_the_levers():
    runs = bt.plan(screen=False)
    assert list(runs)[0] == "fp" and runs["fp"] == {"bits": "fp", "wbits": "fp", "beta": 0.0}
    for name in ("a2w2-vanilla", "a2w2-dq", "a1w2-vanilla", "a1w2-dq"):
        assert runs[f"{name}+levers"] == runs[name] | bt.ADOPTED
    assert runs["a2w2-vanilla"]["beta"] == 0.0 and runs["a1w2-dq"]["beta"] == 2e-3
    screen = bt.plan(screen=True)
    assert list(screen)[:2] == ["fp", "a2w2-vanilla"] and len(screen) == 2 + len(bt.LEVERS) + 1


def test_targets_are_points_below_full_precision():
    rows = {n: {"test_acc": t, "val_acc": 0.5} for n, t in
            {"fp": 0.80, "a2w2-vanilla+levers": 0.75, "a2w2-dq+levers": 0.7499, "a1w2-dq+levers": 0.68,
             "a2w2-vanilla+cosine": 0.1, "a2w2-dq": 0.2}.items()}
    got = {c["run"]: c["passed"] for c in bt.check_targets(rows)}
    # the paper-faithful default (a2w2-dq) and screening rows are reported, not judged
    assert got == {"a2w2-vanilla+levers": True, "a2w2-dq+levers": False, "a1w2-dq+levers": True}


def test_beta_variants_are_chosen_on_validation_never_on_test():
    assert bt.beta_variant("a1w2-dq+levers-beta1e-3") == ("a1w2-dq+levers", 1e-3)
    for name in ("a1w2-vanilla+levers-beta1e-3", "a1w2-dq-beta1e-3", "a1w2-dq+levers-betax", "a1w2-dq+levers"):
        assert bt.beta_variant(name) is None
    rows = {"fp": {"test_acc": 0.70, "val_acc": 0.70},
            "a1w2-dq+levers": {"test_acc": 0.50, "val_acc": 0.52, "beta": 2e-3},
            "a1w2-dq+levers-beta1e-3": {"test_acc": 0.57, "val_acc": 0.55, "beta": 1e-3},
            # best on test but not on val: must not be the one judged
            "a1w2-dq+levers-beta5e-4": {"test_acc": 0.65, "val_acc": 0.54, "beta": 5e-4}}
    (check,) = bt.check_targets(rows)
    assert check["run"] == "a1w2-dq+levers" and check["judged_on"] == "a1w2-dq+levers-beta1e-3"
    assert check["beta"] == 1e-3 and check["passed"] is False and round(check["need"], 6) == 58.0


def test_stratified_subset_is_class_balanced_seeded_and_independent_of_file_order(tmp_path):
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(10), 50)  # a class-sorted file
    x = rng.integers(0, 256, (500, 4, 4, 3), dtype=np.uint8)
    src = tmp_path / "src.npz"
    np.savez(src, x_train=x, y_train=y, x_test=x[:200], y_test=y[:200])
    a = np.load(bt.stratified_subset(str(src), tmp_path / "a.npz", 100, None, seed=0))
    b = np.load(bt.stratified_subset(str(src), tmp_path / "b.npz", 100, None, seed=0))
    assert np.bincount(a["y_train"], minlength=10).tolist() == [10] * 10
    assert np.array_equal(a["x_train"], b["x_train"]) and len(a["y_test"]) == 200
    assert len(set(a["y_train"][:10].tolist())) > 1  # shuffled, not one class after the other
