"""Batched inference on uint8 NHWC images (no gradients)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from dqhw.models import to_input


@torch.no_grad()
def predict_logits(model: nn.Module, images: np.ndarray, batch_size: int = 256, device: str = "cpu") -> np.ndarray:
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        out.append(model(to_input(images[i:i + batch_size]).to(device)).float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 256,
             device: str = "cpu") -> float:
    if len(images) == 0:
        return float("nan")
    pred = predict_logits(model, images, batch_size, device).argmax(1)
    return float((pred == np.asarray(labels)).mean())
