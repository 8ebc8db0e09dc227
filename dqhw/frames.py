"""Frame files and frame sets: uint8 NHWC `images` (+ `labels` where known), the layout of an
adversarial set file. Used by `dqhw build` (the clean frames of a model-file build) and `dqhw sim`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError


@dataclass
class FrameSet:
    name: str
    images: np.ndarray  # uint8 NHWC
    labels: np.ndarray | None
    source: str


def load_frames(path: str | Path, in_shape: tuple) -> FrameSet:
    """A frame file: `images` uint8 NHWC of one frame shape (the graph's), `labels` optional."""
    path = Path(path)
    if not path.is_file():
        raise DqhwError(f"{path}: no such frame file")
    if path.stat().st_size == 0:
        raise DqhwError(f"{path}: empty file (0 bytes), not a frame file (an .npz with uint8 `images` NHWC)")
    try:
        with np.load(path, allow_pickle=False) as z:
            images = np.asarray(z["images"])
            labels = np.asarray(z["labels"]).reshape(-1).astype(np.int64) if "labels" in z else None
    except KeyError:
        raise DqhwError(f"{path}: not a frame file (no `images` array; an .npz with uint8 `images` NHWC)") from None
    except Exception as e:  # noqa: BLE001  (zip/zlib/EOF/format errors of a truncated or foreign file)
        raise DqhwError(f"{path}: truncated, corrupt or not a frame file (an .npz with uint8 `images` NHWC; "
                        f"{type(e).__name__})") from None
    if images.dtype != np.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != tuple(in_shape):
        raise DqhwError(f"{path}: `images` must be uint8 NHWC frames of shape {tuple(in_shape)}, "
                        f"got {images.dtype} {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise DqhwError(f"{path}: {len(labels)} labels for {len(images)} images")
    if len(images) == 0:
        raise DqhwError(f"{path}: no frames")
    return FrameSet("clean", images, labels, str(path))


def random_frames(in_shape: tuple, n: int, seed: int = 0) -> FrameSet:
    rng = np.random.default_rng(seed)
    return FrameSet("clean", rng.integers(0, 256, size=(n, *in_shape), dtype=np.uint8), None,
                    f"{n} seeded random uint8 frames (seed {seed})")


def as_stream_shape(images: np.ndarray, shape) -> np.ndarray | None:
    """uint8 NHWC frames (N, H, W, C) reshaped to an accelerator input of `shape` (one frame), or None
    when that would reorder elements. Allowed: the same shape, or shapes that differ only by
    dimensions of size 1 (finn leaves no NCHW->NHWC transpose in front of a graph whose input has one
    channel, so its accelerator takes (1, H, W): the same element order as (H, W, 1))."""
    x = np.asarray(images)
    shape = tuple(int(d) for d in shape)
    if tuple(x.shape[1:]) == shape:
        return x
    squeeze = tuple(d for d in x.shape[1:] if d != 1)
    if squeeze == tuple(d for d in shape if d != 1):
        return x.reshape(len(x), *shape)
    return None
