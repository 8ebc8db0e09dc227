"""Where a build's graph comes from: a QONNX / FINN-ONNX file written by anyone, or a dqhw run
(which Brevitas exports, and which adds the trained model as an extra oracle).

Either way the build starts from one QONNX graph with one input and one output:
- input: float NCHW values; the FPGA receives uint8 pixels NHWC, and the graph's input is
  `pixel * input_scale + input_offset` (the input convention; dqhw runs take raw pixels 0..255:
  scale 1, offset 0). dqhw puts that affine in front of the graph and annotates the new input UINT8;
- output: the float logits (the build appends the argmax itself, after streamlining).
Frames: the clean set (the run's test split, a `--frames` file, or seeded random frames) and, for a
run, its adversarial sets (RUN/adv/*.npz). Frame files: `images` uint8 NHWC, `labels` optional.

A rewrite that changes what the graph computes (dqhw.flow.export.rewrite_graph: Brevitas' 1-bit
unsigned activation exported as Relu -> BipolarQuant) is refused for a model file unless
--accept-rewrites; a dqhw run takes it without the flag (the rewritten graph is what the trained
model computes, and the Brevitas oracle checks that). Either way `raw` is the rewritten graph (what the
hardware computes, the qonnx oracle runs it) and `original` the graph as written, which the build
compares with too ("RTL vs original file: N frames differ").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError
from dqhw.frames import FrameSet, load_frames, random_frames


@dataclass
class GraphSource:
    kind: str  # "run" | "onnx"
    path: Path
    raw: object  # ModelWrapper: the graph dqhw builds: as exported / given, shapes annotated, rewritten (raw_note)
    in_shape: tuple  # (H, W, C) of one frame
    input_scale: float = 1.0
    input_offset: float = 0.0
    run: object = None  # dqhw.runs.Run, for a run
    raw_note: str | None = None  # the rewrite applied to `raw` (Brevitas' 1-bit export), None: none
    frame_sets: list[FrameSet] = field(default_factory=list)
    original: object = None  # the graph as written (annotated) when `raw` was rewritten, else None
    rewrites: list[str] = field(default_factory=list)  # the rewritten nodes

    @property
    def name(self) -> str:
        return self.path.stem if self.kind == "onnx" else self.path.name

    def describe(self) -> dict:
        d = {"kind": self.kind, "path": str(self.path.resolve()), "input_scale": self.input_scale,
             "input_offset": self.input_offset, "in_shape_hwc": list(self.in_shape)}
        if self.run is not None:
            cfg = self.run.config
            d.update(run_name=self.run.name, model_hash=self.run.model_hash(), model=cfg.model, bits=cfg.bits,
                     wbits=cfg.wbits, act=cfg.act)
        if self.raw_note:
            d["repair"] = self.raw_note
            d["rewrites"] = list(self.rewrites)
            d["hardware_computes"] = "the rewritten graph (not the graph as written; see repair)"
        return d

    def graph_input(self, images: np.ndarray) -> np.ndarray:
        """uint8 NHWC frames -> what the original graph takes (float32 NCHW, input convention applied)."""
        x = np.asarray(images).astype(np.float64).transpose(0, 3, 1, 2)
        return (x * self.input_scale + self.input_offset).astype(np.float32)


# --------------------------------------------------------------------------------------------------
def from_run(path: Path, n_frames: int, seed: int = 0) -> GraphSource:
    from dqhw.flow.export import check_run, export_run
    from dqhw.runs import load_run
    from dqhw.verification import adversarial_sets, clean_frames

    if path.is_file():
        raise DqhwError(f"{path}: a run directory (dqhw train --out DIR) or a .onnx file is expected")
    run = load_run(path)
    check_run(run)
    original, raw, note, names = export_run(run)
    src = GraphSource("run", path, raw, tuple(run.in_shape), run=run, raw_note=note,
                      original=original if names else None, rewrites=names)
    x, y, desc = clean_frames(run, n_frames, seed)
    src.frame_sets = [FrameSet("clean", x, y, desc)]
    src.frame_sets += [FrameSet(f"adv/{name}", images, labels, str(Path(run.path) / "adv" / f"{name}.npz"))
                       for name, images, labels in adversarial_sets(run)]
    return src


def from_model_file(path: Path, input_scale: float, input_offset: float, frames: str | None, n_frames: int,
                    seed: int = 0, accept_rewrites: bool = False) -> GraphSource:
    """A QONNX or FINN-ONNX file: one input of shape (1, C, H, W), one output."""
    from qonnx.core.modelwrapper import ModelWrapper

    from dqhw.flow.export import REWRITE_WHAT, rewrite_graph

    if not path.is_file():
        raise DqhwError(f"{path}: no such model file")
    try:
        model = ModelWrapper(str(path))
    except Exception as e:  # noqa: BLE001  (onnx raises many types on bad files)
        raise DqhwError(f"{path}: not a readable ONNX model ({type(e).__name__})") from None
    inputs = [i.name for i in model.graph.input if model.get_initializer(i.name) is None]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise DqhwError(f"{path}: the graph must have one input and one output, it has "
                        f"{len(inputs)} and {len(model.graph.output)}")
    shape = model.get_tensor_shape(inputs[0])
    if shape is None or len(shape) != 4 or shape[0] != 1 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise DqhwError(f"{path}: the input must have a fixed shape (1, C, H, W), got {shape}")
    if not np.isfinite(input_scale) or input_scale == 0 or not np.isfinite(input_offset):
        raise DqhwError(f"--input-scale must be finite and non-zero, --input-offset finite "
                        f"(got {input_scale}, {input_offset})")
    _, c, h, w = shape
    original, raw, note, names = rewrite_graph(ModelWrapper(copy.deepcopy(model.model)))
    if names and not accept_rewrites:
        raise DqhwError(f"{path}: node {names[0]}" + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")
                        + f": dqhw would build {REWRITE_WHAT}, which changes what the file computes; "
                        "--accept-rewrites builds the rewritten graph and reports how far it is from the file")
    src = GraphSource("onnx", path, raw, (h, w, c), input_scale=float(input_scale), input_offset=float(input_offset),
                      raw_note=note, original=original if names else None, rewrites=names)
    src.frame_sets = [load_frames(frames, src.in_shape) if frames else random_frames(src.in_shape, n_frames, seed)]
    return src
