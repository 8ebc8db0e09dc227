"""Samples of a data split: seeded and class-stratified, never "the first N".

Every place that takes a subset of images (`--limit` of attack, eval and sim, the frames a build is
verified on) goes through `sample_split`, so a class-sorted file gives the same kind of sample as a
shuffled one. Stratified = each class gets round(n * its share) images (largest remainder, ties to the
lower class), drawn without replacement by a generator seeded with `seed`; the indices come back sorted,
so two samples with the same split, size and seed are the same images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dqhw.errors import DqhwError


def stratified_indices(labels: np.ndarray | None, n: int, seed: int = 0, total: int | None = None) -> np.ndarray:
    """Sorted indices of a seeded sample of n out of len(labels) (or `total` when labels are unknown),
    stratified by class where labels are known."""
    size = len(labels) if labels is not None else int(total or 0)
    if n >= size:
        return np.arange(size, dtype=np.int64)
    rng = np.random.default_rng(seed)
    if labels is None:
        return np.sort(rng.choice(size, n, replace=False)).astype(np.int64)
    labels = np.asarray(labels).reshape(-1)
    classes, counts = np.unique(labels, return_counts=True)
    exact = n * counts / size
    quota = np.floor(exact).astype(np.int64)
    # largest remainder; a stable sort on the negated remainder keeps ties in class order
    for k in np.argsort(-(exact - quota), kind="stable")[: n - int(quota.sum())]:
        quota[k] += 1
    picked = [rng.choice(np.flatnonzero(labels == c), q, replace=False) for c, q in zip(classes, quota) if q]
    return np.sort(np.concatenate(picked)).astype(np.int64)


@dataclass(frozen=True)
class Sample:
    """Which images of a split a command used."""

    split: str
    indices: np.ndarray  # sorted, into the split
    total: int  # images in the split
    seed: int
    per_class: dict[int, int]  # class -> images (empty when labels are unknown)

    @property
    def size(self) -> int:
        return len(self.indices)

    @property
    def whole(self) -> bool:
        return self.size == self.total

    def tag(self) -> str:
        """For file names: `test` (the whole split) or `test-n500-s0` (a sample)."""
        return self.split if self.whole else f"{self.split}-n{self.size}-s{self.seed}"

    def describe(self) -> str:
        what = (f"all {self.total:,} images" if self.whole
                else f"{self.size:,} of {self.total:,} images (seeded class-stratified sample, seed {self.seed})")
        counts = ""
        if self.per_class:
            values = set(self.per_class.values())
            counts = (f"; {values.pop()} per class x {len(self.per_class)}" if len(values) == 1 else
                      "; per class " + ", ".join(f"{c}: {k}" for c, k in sorted(self.per_class.items())))
        return f"{self.split} split, {what}{counts}"

    def to_dict(self) -> dict:
        return {"split": self.split, "size": self.size, "of": self.total, "seed": self.seed,
                "method": "all" if self.whole else "stratified",
                "per_class": {str(c): k for c, k in sorted(self.per_class.items())}}


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise DqhwError(f"--limit must be >= 1, got {limit}")


def sample_split(labels: np.ndarray | None, split: str, limit: int | None, seed: int = 0,
                 total: int | None = None) -> Sample:
    """The images of `split` a command with `--limit` uses: all of them, or a seeded stratified sample."""
    check_limit(limit)
    size = len(labels) if labels is not None else int(total or 0)
    idx = stratified_indices(labels, size if limit is None else limit, seed, total=size)
    return Sample(split, idx, size, int(seed), class_counts(None if labels is None else np.asarray(labels)[idx]))


def class_counts(labels: np.ndarray | None) -> dict[int, int]:
    if labels is None or len(labels) == 0:
        return {}
    classes, counts = np.unique(np.asarray(labels).reshape(-1), return_counts=True)
    return {int(c): int(k) for c, k in zip(classes, counts)}


def parse_shard(text: str | None) -> tuple[int, int]:
    """`i/n` (SHARD, --shard of sim and attack) -> (i, n); None or empty -> (0, 1)."""
    if not text:
        return 0, 1
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise DqhwError(f"SHARD must look like i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise DqhwError(f"SHARD {text}: need 0 <= i < n")
    return i, n


def shard_slice(items, shard: tuple[int, int]):
    """Slice i of n of a sequence: items[len * i // n : len * (i + 1) // n] (attack and sim shards)."""
    i, n = shard
    return items[len(items) * i // n: len(items) * (i + 1) // n]
