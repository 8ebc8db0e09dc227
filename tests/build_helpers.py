"""Shared helpers for the dqhw build tests (no tests here): quick run directories without training,
and builds cached for the whole pytest session (imported by test_build_*.py, test_golden.py,
test_thresholds.py)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(tempfile.mkdtemp(prefix="dqhw-build-tests-"))
atexit.register(shutil.rmtree, ROOT, True)


def make_run(path: Path, model: str = "tiny", bits: str = "2", wbits: str = "2", width: float = 1.0,
             in_shape=(8, 8, 1), dataset: str = "digits", seed: int = 0, act: str = "relu6",
             input_bits: str | None = None, act_range: str = "fixed") -> Path:
    """A run directory in dqhw/train.py's format with a randomly initialised model whose BatchNorm
    statistics are calibrated on real (or random) frames and whose affine parameters are random, with
    some negative gammas (so FINN's sign handling is exercised)."""
    from dqhw.config import TrainConfig
    from dqhw.io import write_json
    from dqhw.models import build_model, to_input
    from dqhw.runs import CHECKPOINT, CONFIG, save_checkpoint

    torch.manual_seed(seed)
    cfg = TrainConfig(model=model, dataset=dataset, bits=bits, wbits=wbits, width=width, act=act, epochs=1,
                      out=str(path), input_bits=input_bits, act_range=act_range)
    model_ = build_model(model, cfg.quant_spec(), tuple(in_shape), 10, width=width)
    rng = np.random.default_rng(seed)
    if dataset == "digits" and tuple(in_shape) == (8, 8, 1):
        from dqhw.data import load_dataset

        x = load_dataset("digits").x_train[:256]
    else:
        x = rng.integers(0, 256, size=(64, *in_shape), dtype=np.uint8)
    for m in model_.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = 1.0
    model_.train()
    with torch.no_grad():
        model_(to_input(x))
        for m in model_.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                g = torch.as_tensor(rng.normal(1.0, 0.6, n), dtype=torch.float32)
                m.weight.copy_(g)
                m.bias.copy_(torch.as_tensor(rng.normal(0.8, 0.8, n), dtype=torch.float32))
                m.momentum = 0.1
    model_.eval()
    path.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path / CHECKPOINT, {"model": model_.state_dict(), "config": cfg.to_dict(), "epoch": 0,
                                        "in_shape": list(in_shape), "num_classes": 10})
    write_json(path / CONFIG, cfg.to_dict())
    return path


@functools.cache
def run_dir(name: str, **kw) -> Path:
    return make_run(ROOT / "runs" / name, **kw)


# tests build the cheapest design reaching this rate (small RTL, quick Verilator builds); the default,
# the fastest design that fits the board, is built by test_e2e and checked in test_folding_search
TEST_FPS = 10_000


@functools.cache
def built(name: str, target_fps: int | None = TEST_FPS, verify_frames: int = 16, exec_frames: int = 4,
          **run_kw) -> Path:
    """Build the run `name` (created with run_kw) once per session; returns the build directory."""
    from dqhw.flow.pipeline import BuildOptions, build

    run = run_dir(name, **run_kw)
    return build(BuildOptions(model=str(run), out=str(ROOT / "builds" / name), target_fps=target_fps,
                              verify_frames=verify_frames, exec_frames=exec_frames, rtl=False))


def load_dataflow(build_dir: Path):
    from qonnx.core.modelwrapper import ModelWrapper

    import dqhw.customop  # noqa: F401

    return ModelWrapper(str(build_dir / "dataflow.onnx"))
