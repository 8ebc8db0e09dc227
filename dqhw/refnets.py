"""FINN's reference networks (brevitas_examples `bnn_pynq`: TFC, SFC, LFC, CNV at W1A1, W1A2, W2A2),
exported to QONNX the way a FINN user would, for `dqhw build MODEL.onnx` acceptance runs.

The networks are randomly initialised (no pretrained weights can be fetched here); their BatchNorm
statistics are calibrated on real frames and their affine parameters randomised, so every layer's
thresholds are non-trivial. They take values in [0, 1] (the models compute 2x - 1 themselves): build
them with `--input-scale 1/255`. Frames: sklearn digits scaled up to 28x28 (FC nets) or 32x32x3 (CNV).

    python -m dqhw.refnets NAME OUT.onnx [FRAMES.npz]      NAME e.g. tfc_1w1a, cnv_2w2a
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError

TOPOLOGIES = ("tfc", "sfc", "lfc", "cnv")
PRECISIONS = ("1w1a", "1w2a", "2w2a")
NAMES = tuple(f"{t}_{p}" for t in TOPOLOGIES for p in PRECISIONS)
INPUT_SCALE = 1.0 / 255.0


def frame_shape(name: str) -> tuple[int, int, int]:
    return (32, 32, 3) if name.startswith("cnv") else (28, 28, 1)


def frames(name: str, n: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n uint8 NHWC frames of the network's input shape (digits, scaled up by pixel repetition and
    zero-padded) and their labels."""
    from dqhw.data import load_dataset

    d = load_dataset("digits")
    x = np.concatenate([d.x_test, d.x_train])[offset:offset + n]
    y = np.concatenate([d.y_test, d.y_train])[offset:offset + n]
    h, w, c = frame_shape(name)
    up = x[..., 0].repeat(3, axis=1).repeat(3, axis=2)  # 24 x 24
    out = np.zeros((len(x), h, w), np.uint8)
    t, left = (h - 24) // 2, (w - 24) // 2
    out[:, t:t + 24, left:left + 24] = up
    return np.repeat(out[..., None], c, axis=-1), y.astype(np.int64)


def export(name: str, path: str | Path, seed: int = 0) -> Path:
    """Export the randomly initialised, BN-calibrated network `name` to QONNX at `path`."""
    import torch
    from brevitas.export import export_qonnx

    if name not in NAMES:
        raise DqhwError(f"unknown reference network {name!r}; choose one of {', '.join(NAMES)}")
    torch.manual_seed(seed)
    net = _model(name)
    x, _ = frames(name, 128)
    xt = torch.as_tensor(x.transpose(0, 3, 1, 2) * INPUT_SCALE, dtype=torch.float32)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for m in bns:
            m.momentum = None  # cumulative average over the calibration passes
        net.train()
        for _ in range(2):
            net(xt)
        for m in bns:
            m.weight.copy_(torch.as_tensor(rng.normal(1.0, 0.3, m.num_features), dtype=torch.float32))
            m.bias.copy_(torch.as_tensor(rng.normal(0.0, 0.3, m.num_features), dtype=torch.float32))
    net.eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w, c = frame_shape(name)
    export_qonnx(net, input_t=torch.zeros(1, c, h, w), export_path=str(path), dynamo=False)
    return path


def _model(name: str):
    """brevitas_examples' model; LFC W2A2, which brevitas_examples does not ship a config for, is its
    LFC W1A2 config with 2-bit weights (the same change that turns TFC/SFC W1A2 into W2A2)."""
    from brevitas_examples.bnn_pynq.models import get_model_cfg, model_impl, model_with_cfg

    try:
        return model_with_cfg(name, pretrained=False)[0]
    except AssertionError:  # no .ini for this name
        topo, prec = name.split("_")
        cfg = get_model_cfg(f"{topo}_1w{prec[-2]}a")
        cfg.set("QUANT", "WEIGHT_BIT_WIDTH", prec[0])
        return model_impl[cfg.get("MODEL", "ARCH")](cfg)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (2, 3):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    try:
        export(args[0], args[1])
    except DqhwError as e:
        print(f"dqhw.refnets: error: {e}", file=sys.stderr)
        return 2
    if len(args) == 3:
        x, y = frames(args[0], 200)
        np.savez(args[2], images=x, labels=y)
    return 0


if __name__ == "__main__":
    sys.exit(main())
