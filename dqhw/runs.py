"""A run directory: config.json, checkpoint.pt, metrics.json, layers.json (+ adv/ sets, reports).

`load_run(path)` is how every later stage (attack, eval, build) gets the trained model back.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from dqhw.config import TrainConfig
from dqhw.errors import DqhwError
from dqhw.io import atomic_path

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
METRICS = "metrics.json"
LAYERS = "layers.json"


@dataclass
class Run:
    path: Path
    config: TrainConfig
    model: nn.Module
    metrics: dict = field(default_factory=dict)
    in_shape: tuple[int, int, int] = (8, 8, 1)
    num_classes: int = 10

    @property
    def name(self) -> str:
        return self.path.name

    def model_hash(self) -> str:
        return state_hash(self.model)


def state_hash(model: nn.Module) -> str:
    """sha256 (first 16 hex digits) of the model's parameters and buffers, in order."""
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save to a temp file, then rename: a crash never leaves a truncated checkpoint."""
    with atomic_path(path, ".pt") as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise DqhwError(f"{path}: no checkpoint (train a run first: dqhw train --out {path.parent})")
    try:
        data = path.read_bytes()
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001  (a corrupt or foreign file can fail in many ways)
        raise DqhwError(f"{path}: corrupt or unreadable checkpoint ({type(e).__name__})") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise DqhwError(f"{path}: not a dqhw checkpoint (missing model/config)")
    return state


def build_from_config(cfg: TrainConfig, in_shape, num_classes: int) -> nn.Module:
    from dqhw.models import build_model

    return build_model(cfg.model, cfg.quant_spec(), tuple(in_shape), num_classes, width=cfg.width)


def load_run(path: str | Path) -> Run:
    """Load a trained run (model in eval mode, on the CPU)."""
    path = Path(path)
    if not path.is_dir():
        raise DqhwError(f"{path}: not a run directory (expected {CONFIG} and {CHECKPOINT})")
    state = load_checkpoint(path / CHECKPOINT)
    cfg = TrainConfig.from_dict(state["config"])
    in_shape, num_classes = tuple(state.get("in_shape", (8, 8, 1))), int(state.get("num_classes", 10))
    model = build_from_config(cfg, in_shape, num_classes)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise DqhwError(f"{path / CHECKPOINT}: weights do not fit the configured model "
                        f"({str(e).strip().splitlines()[0][:80]})") from None
    model.eval()
    metrics = {}
    if (path / METRICS).is_file():
        import json

        try:
            metrics = json.loads((path / METRICS).read_text())
        except ValueError:
            raise DqhwError(f"{path / METRICS}: corrupt metrics file") from None
    return Run(path, cfg, model, metrics, in_shape, num_classes)
