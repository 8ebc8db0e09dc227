"""Error amplification (the paper's Fig. 3) measured on the hardware: D = ‖A − A_adv‖₂ / ‖A‖₂ per
activation layer, where A is read from the RTL's own internal streams rather than from a model.

Clean and adversarial frames go through one stream-dump simulation (dqhw.simulate.streams: every
handshake on every internal stream of dqhw_accel is written out); each activation stream (the output
of a stage that applies thresholds: an MVAU with thresholds or a Thresholding stage, not the logits,
and not a FIFO / width converter / fork copy of the same tensor) is cut into frames and unpacked into
integer activation levels. The activation of a quantized ReLU is its level times one per-tensor scale,
so D of the levels is D of the activations (bipolar levels are mapped to -1/+1). The same D is
computed from the golden model's tensors of the same frames: on a bit-exact build the two are equal,
and the report says whether they are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dqhw import contract
from dqhw.errors import DqhwError

# stages whose output stream carries a thresholded activation (op types without their _hls/_rtl suffix)
ACTIVATION_STAGES = ("MVAU", "DqhwMVAU", "VVAU", "Thresholding")


def activation_specs(build_dir: str | Path, golden_tensors: dict[str, np.ndarray]) -> list:
    """The StreamSpecs of the activation streams, in stream order, one per tensor."""
    from dqhw.simulate.streams import stream_specs

    out, seen = [], set()
    for spec in stream_specs(build_dir):
        base = spec.op_type[:-4] if spec.op_type.endswith(("_rtl", "_hls")) else spec.op_type
        if base not in ACTIVATION_STAGES or spec.tensor in seen or spec.tensor not in golden_tensors:
            continue
        t = golden_tensors[spec.tensor]
        if not np.issubdtype(np.asarray(t).dtype, np.integer) and not np.all(np.asarray(t) == np.round(t)):
            continue
        if not spec.bipolar and (np.asarray(t).min() < 0 or spec.bits > 8):  # accumulators (the logits)
            continue
        seen.add(spec.tensor)
        out.append(spec)
    return out


def distance(clean: np.ndarray, adv: np.ndarray) -> float:
    """D averaged over images with ‖A‖ > 0 (the same rule as dqhw.amplification.normalized_distance)."""
    a, b = clean.reshape(len(clean), -1).astype(np.float64), adv.reshape(len(adv), -1).astype(np.float64)
    na = np.linalg.norm(a, axis=1)
    ok = na > 0
    return float((np.linalg.norm(a - b, axis=1)[ok] / na[ok]).mean()) if ok.any() else float("nan")


def rtl_amplification(build_dir: str | Path, clean: np.ndarray, adv: np.ndarray, work_dir: str | Path) -> dict:
    """D per activation layer from the RTL's internal streams and from the golden model, for uint8 NHWC
    `clean` images and their adversarial versions `adv` (same order). Returns {"layers": [tensor names],
    "stages": [producing stages], "D_rtl", "D_golden", "equal": bool, "images": n}."""
    from dqhw.golden import GoldenModel
    from dqhw.simulate.streams import dump_streams

    clean, adv = np.asarray(clean, dtype=np.uint8), np.asarray(adv, dtype=np.uint8)
    if clean.shape != adv.shape or len(clean) == 0:
        raise DqhwError(f"error amplification needs as many adversarial as clean images, got {clean.shape} and "
                        f"{adv.shape}")
    frames = np.concatenate([clean, adv])
    golden = GoldenModel.from_build(build_dir).run(frames, keep_intermediates=True)
    specs = activation_specs(build_dir, golden.tensors)
    if not specs:
        raise DqhwError(f"{build_dir}: no activation stream found in the RTL (nothing applies thresholds)")
    streams = dump_streams(build_dir, work_dir, frames)
    n = len(clean)
    layers, stages, d_rtl, d_golden = [], [], [], []
    for spec in specs:
        tensor = np.asarray(golden.tensors[spec.tensor])
        per_frame = len(spec.golden_beats(tensor[:1]))
        beats = streams.get(spec.index, [])
        if len(beats) < per_frame * len(frames):
            raise DqhwError(f"stream s{spec.index} ({spec.stage}) carried {len(beats)} beats for {len(frames)} "
                            f"frames of {per_frame}")
        size = tensor[0].size
        levels = np.stack([contract.unpack_beats([b & spec.mask for b in beats[k * per_frame:(k + 1) * per_frame]],
                                                 spec.bits, spec.elems_per_beat, signed=False)[:size]
                           for k in range(len(frames))])
        if spec.bipolar:
            levels = 2 * levels - 1
        gold = tensor.reshape(len(frames), -1).astype(np.int64)
        layers.append(spec.tensor)
        stages.append(spec.stage)
        d_rtl.append(distance(levels[:n], levels[n:]))
        d_golden.append(distance(gold[:n], gold[n:]))
    return {"layers": layers, "stages": stages, "D_rtl": d_rtl, "D_golden": d_golden, "equal": d_rtl == d_golden,
            "images": n}
