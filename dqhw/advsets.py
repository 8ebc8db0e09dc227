"""Pre-generated adversarial sets: `RUN/adv/<attack>-eps<eps>[-fs][-from-<source>]-<sample>.npz`, where
<sample> is the split (`test`: all of it) or the split plus a seeded stratified sample (`test-n500-s0`).

The RTL simulation (`dqhw sim`) and `dqhw build` read these files, so the keys are a stable interface
(documented in docs/attacks.md):
- `images`: uint8 NHWC, the adversarial images exactly as the FPGA receives them;
- `labels`: int64 (N,), the true labels of the source images;
- `indices`: int64 (N,), the source images' indices into the data set split;
- `provenance`: a 1-element unicode array holding one JSON object (attack, eps, alpha, steps, queries,
  seed, split, sample (dqhw.sampling.Sample.to_dict: size, of, seed, per_class), dataset, image_shape,
  crafted_by_hash = Run.model_hash() of the model that crafted it,
  crafted_by_run, source_run (the substitute, black-box only), target_run, target_hash,
  mode = white-box | score-based | noise | black-box (dqhw.attacks.threat_mode), squeeze, dqhw_version, ...).
Written atomically (temp file + rename); read back with `load_set`, which validates everything it can.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dqhw.attacks import AttackParams, attack_images, attack_params, check_eps, check_linf, threat_mode
from dqhw.errors import DqhwError
from dqhw.io import atomic_path
from dqhw.sampling import Sample, sample_split, shard_slice

FORMAT = "dqhw-advset"
FORMAT_VERSION = 1
KEYS = ("images", "labels", "indices", "provenance")
REQUIRED_PROVENANCE = ("format", "format_version", "attack", "eps", "seed", "split", "dataset", "image_shape",
                       "crafted_by_hash", "target_run", "mode", "squeeze", "dqhw_version")


@dataclass
class AdvSet:
    images: np.ndarray  # uint8 NHWC
    labels: np.ndarray  # int64
    indices: np.ndarray  # int64, into the split
    provenance: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def attack(self) -> str:
        return self.provenance["attack"]

    @property
    def eps(self) -> int:
        return int(self.provenance["eps"])

    @property
    def black_box(self) -> bool:
        return self.provenance.get("mode") == "black-box"

    @property
    def squeezed(self) -> bool:
        return bool(self.provenance.get("squeeze"))

    def __len__(self) -> int:
        return len(self.images)


def set_name(attack: str, eps: int, sample: Sample, source: str | None = None, squeeze: bool = False) -> str:
    """The file name says what was attacked: the split and the sample (two sets never collide)."""
    return f"{attack}-eps{eps}{'-fs' if squeeze else ''}{f'-from-{source}' if source else ''}-{sample.tag()}.npz"


def check_compatible(target, source) -> None:
    """A substitute must see the same images as the target (data set and image shape)."""
    if source.config.dataset != target.config.dataset or tuple(source.in_shape) != tuple(target.in_shape):
        raise DqhwError(f"--source {source.path} was trained on {source.config.dataset} {tuple(source.in_shape)}, "
                        f"the target {target.path} on {target.config.dataset} {tuple(target.in_shape)}")


def craft_set(target, attack: str, eps: int, source=None, split: str = "test", limit: int | None = None,
              seed: int = 0, squeeze: bool = False, queries: int | None = None, batch_size: int = 256,
              data=None, on_batch: Callable[[int], None] | None = None,
              params: AttackParams | None = None, shard: tuple[int, int] | None = None, device: str = "cpu") -> AdvSet:
    """Craft `attack` at ε on `source` (white-box on the target when source is None), on the split or a
    seeded stratified sample of `limit` of its images (dqhw.sampling; `seed` also seeds the attack).
    `target`/`source` are dqhw.runs.Run; `data` a loaded Dataset (else loaded)."""
    from dqhw.data import load_dataset

    params = params or attack_params(attack, eps, queries)
    if source is not None:
        check_compatible(target, source)
    crafter = source if source is not None else target
    if data is None:
        data = load_dataset(target.config.dataset, target.config.data_dir)
    x, y = data.split(split)
    if tuple(x.shape[1:]) != tuple(target.in_shape):
        raise DqhwError(f"{target.path}: the model expects {tuple(target.in_shape)} images, "
                        f"the {target.config.dataset} {split} split has {tuple(x.shape[1:])}")
    sample = sample_split(y, split, limit, seed)
    idx = sample.indices
    if shard is not None:  # slice i of n of the sample (merge_shards puts them back together)
        idx = shard_slice(idx, shard)
    model = crafter.model
    if squeeze:
        from dqhw.squeeze import Squeezed

        model = Squeezed(model)
    from dqhw.device import OnDevice

    adv = attack_images(OnDevice(device)(model), x[idx], y[idx], params, seed=seed, batch_size=batch_size,
                        device=device, on_batch=on_batch)
    prov = provenance(target, crafter, params, seed, sample, x.shape[1:], squeeze)
    if shard is not None:
        prov["shard"] = f"{shard[0]}/{shard[1]}"
        prov["num_images"] = len(idx)
    return AdvSet(adv, y[idx].astype(np.int64), idx, prov)


def provenance(target, crafter, params: AttackParams, seed: int, sample: Sample, image_shape, squeeze: bool) -> dict:
    """The provenance record of a set crafted on `crafter` (a Run) and meant for `target` (a Run)."""
    from dqhw import __version__

    white = crafter is target or crafter.model_hash() == target.model_hash()
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, **params.to_dict(), "seed": int(seed),
        "split": sample.split, "num_images": sample.size, "sample": sample.to_dict(), "dataset": target.config.dataset,
        "image_shape": [int(v) for v in image_shape],
        "crafted_by_hash": crafter.model_hash(), "crafted_by_run": str(crafter.path),
        "target_run": str(target.path), "target_hash": target.model_hash(),
        "mode": threat_mode(params.name, white), "source_run": None if white else str(crafter.path),
        "squeeze": bool(squeeze), "dqhw_version": __version__,
    }


def shard_path(set_path: Path, shard: tuple[int, int]) -> Path:
    """Shards live in RUN/adv/shards/ (not RUN/adv/, which `dqhw sim` and `dqhw build` read as whole sets)."""
    return set_path.parent / "shards" / f"{set_path.stem}.shard{shard[0]}of{shard[1]}.npz"


def merge_shards(paths: list[Path]) -> tuple[AdvSet, str]:
    """The sets of `dqhw attack --shard i/n` (i = 0..n-1, one attack, ε, sample and crafting model)
    joined into the whole set; returns it and its canonical file name. Refuses an incomplete or mixed
    collection in one line."""
    if not paths:
        raise DqhwError("--merge: no shard files given")
    sets = [load_set(p, check_source=False) for p in paths]
    shards = [s.provenance.get("shard") for s in sets]
    if any(sh is None for sh in shards):
        raise DqhwError(f"--merge: {paths[shards.index(None)]} is not a shard (no `shard` in its provenance)")
    counts = {sh.split("/")[1] for sh in shards}
    if len(counts) != 1:
        raise DqhwError(f"--merge: shards of different splits ({', '.join(sorted(counts))} shards)")
    n = int(counts.pop())
    by_index = {int(sh.split("/")[0]): s for sh, s in zip(shards, sets)}
    missing = [i for i in range(n) if i not in by_index]
    if missing:
        raise DqhwError(f"--merge: shard {missing[0]}/{n} is missing")
    same = ("attack", "eps", "alpha", "steps", "seed", "split", "sample", "crafted_by_hash", "target_hash", "squeeze")
    ref = by_index[0].provenance
    for i, s in by_index.items():
        diff = [k for k in same if s.provenance.get(k) != ref.get(k)]
        if diff:
            raise DqhwError(f"--merge: shard {i}/{n} differs from shard 0/{n} in {', '.join(diff)}")
    ordered = [by_index[i] for i in range(n)]
    prov = {k: v for k, v in ref.items() if k != "shard"}
    prov["num_images"] = sum(len(s) for s in ordered)
    prov["merged_shards"] = n
    merged = AdvSet(np.concatenate([s.images for s in ordered]), np.concatenate([s.labels for s in ordered]),
                    np.concatenate([s.indices for s in ordered]), prov)
    if len(np.unique(merged.indices)) != len(merged):
        raise DqhwError("--merge: the shards overlap (an image index appears twice)")
    sample = Sample(ref["split"], np.sort(merged.indices), int(ref["sample"]["of"]), int(ref["sample"]["seed"]), {})
    source = Path(ref["source_run"]).name if ref.get("mode") == "black-box" and ref.get("source_run") else None
    return merged, set_name(ref["attack"], int(ref["eps"]), sample, source, bool(ref.get("squeeze")))


def save_set(path: str | os.PathLike, advset: AdvSet) -> Path:
    path = Path(path)
    if path.suffix != ".npz":
        raise DqhwError(f"{path}: adversarial sets are .npz files")
    with atomic_path(path, ".npz") as tmp:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to the temp name
            np.savez_compressed(
                f, images=np.ascontiguousarray(advset.images, dtype=np.uint8),
                labels=np.asarray(advset.labels, dtype=np.int64), indices=np.asarray(advset.indices, dtype=np.int64),
                provenance=np.array([json.dumps(advset.provenance, sort_keys=True)]))
    advset.path = path
    return path


def default_path(target, attack: str, eps: int, sample: Sample, source=None, squeeze: bool = False) -> Path:
    return Path(target.path) / "adv" / set_name(attack, eps, sample, source.name if source is not None else None,
                                                squeeze)


def load_set(path: str | os.PathLike, run=None, clean: tuple[np.ndarray, np.ndarray] | None = None,
             check_source: bool = True) -> AdvSet:
    """Read and validate a set. With `run` (a dqhw.runs.Run) the set must match the run's data set and image
    shape; with `clean` = (images, labels) of the split (or, by default, the run's data set loaded here when
    `check_source`) the indices, labels and ‖adv − x‖∞ ≤ ε are checked against the clean images.
    Every problem is a one-line DqhwError."""
    path = Path(path)
    if not path.is_file():
        raise DqhwError(f"{path}: no such adversarial set")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in KEYS if k not in z.files]
            if missing:
                raise DqhwError(f"{path}: not a dqhw adversarial set (missing {', '.join(missing)})")
            images, labels, indices, prov_arr = (z[k] for k in KEYS)
    except DqhwError:
        raise
    except Exception as e:  # noqa: BLE001  (zip/zlib/format errors of a corrupt or foreign file)
        raise DqhwError(f"{path}: corrupt or unreadable adversarial set ({type(e).__name__})") from None
    try:
        prov = json.loads(str(prov_arr.reshape(-1)[0]))
        if not isinstance(prov, dict):
            raise ValueError
    except (ValueError, IndexError, TypeError):
        raise DqhwError(f"{path}: corrupt provenance (expected a JSON object in a string array)") from None
    missing = [k for k in REQUIRED_PROVENANCE if k not in prov]
    if missing or prov.get("format") != FORMAT:
        raise DqhwError(f"{path}: provenance is not a {FORMAT} record (missing {', '.join(missing) or 'format'})")
    if int(prov["format_version"]) > FORMAT_VERSION:
        raise DqhwError(f"{path}: set format {prov['format_version']} is newer than this dqhw reads ({FORMAT_VERSION})")
    if images.dtype != np.uint8:
        raise DqhwError(f"{path}: images must be uint8, got {images.dtype}")
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise DqhwError(f"{path}: images must be NHWC with 1 or 3 channels, got shape {images.shape}")
    if list(images.shape[1:]) != [int(v) for v in prov["image_shape"]]:
        raise DqhwError(f"{path}: images are {tuple(images.shape[1:])} but provenance says {prov['image_shape']}")
    n = len(images)
    for name, arr in (("labels", labels), ("indices", indices)):
        if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
            raise DqhwError(f"{path}: {name} must be {n} integers, got {arr.dtype} {arr.shape}")
    if n and (indices.min() < 0 or len(np.unique(indices)) != n):
        raise DqhwError(f"{path}: indices must be distinct and non-negative")
    try:
        eps = check_eps(prov["eps"])
    except DqhwError:
        raise DqhwError(f"{path}: eps in provenance must be an integer 0..255, got {prov['eps']!r}") from None
    if run is not None:
        shape = tuple(int(v) for v in run.in_shape)
        if tuple(images.shape[1:]) != shape or prov["dataset"] != run.config.dataset:
            raise DqhwError(f"{path}: set of {prov['dataset']} {tuple(images.shape[1:])} images does not fit "
                            f"run {run.path} ({run.config.dataset} {shape})")
        if clean is None and check_source:
            from dqhw.data import load_dataset

            clean = load_dataset(run.config.dataset, run.config.data_dir).split(prov["split"])
    if clean is not None:
        x, y = clean
        if n and indices.max() >= len(x):
            raise DqhwError(f"{path}: index {int(indices.max())} is outside the {prov['split']} split ({len(x)})")
        if tuple(x.shape[1:]) != tuple(images.shape[1:]):
            raise DqhwError(f"{path}: images {tuple(images.shape[1:])} do not match the split's {tuple(x.shape[1:])}")
        if not np.array_equal(np.asarray(y)[indices], labels):
            raise DqhwError(f"{path}: labels do not match the {prov['split']} split at the stored indices")
        check_linf(images, x[indices], eps, what=str(path))
    return AdvSet(images, labels.astype(np.int64), indices.astype(np.int64), prov, path)
