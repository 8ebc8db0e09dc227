"""Issue 28 item 5: an input exactly on a threshold goes to the side qonnx's execute_onnx (and Brevitas)
put it, and so does one LSB below and one above, for every threshold kind dqhw builds.

The reference semantics (qonnx/custom_op/general): MultiThreshold counts `x >= t` (a tie goes up);
BipolarQuant and 1-bit signed Quant give +1 for `x >= 0` (a tie goes up); a multi-bit (or 1-bit
unsigned) Quant with rounding_mode ROUND rounds with np.round, half to even (Brevitas: torch.round,
the same), so a tie x/scale = k + 1/2 goes to the even one of k, k + 1: down where k + 1 is odd.

Each graph below is written by hand with onnx.helper (nothing from dqhw's contract or golden model
builds it), with scales that make ties exact in float32 (and one whose BatchNorm makes finn's
streamlined thresholds land a float32 rounding error off the tie, as in FINN's CNV W1A1). The frames
put accumulators exactly on every threshold, one below and one above; `dqhw build` builds it (the
build's own qonnx oracle checks it too), and the golden model of the dataflow graph must give qonnx's
logits on every frame: (qonnx(original file) - logits_bias) / logits_scale == golden logits. Three
kinds (RTL_KINDS) also go through the RTL: the build's proof and `dqhw sim` on every frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import run_cli

QDOMAIN = "qonnx.custom_op.general"


class G:
    """A tiny QONNX graph under construction: input x (1, 1, 1, P), float."""

    def __init__(self, pixels: int):
        self.nodes, self.inits, self.k = [], [], 0
        self.x = "x"
        self.inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, pixels])
        shape = self.name("shape")
        self.inits.append(helper.make_tensor(shape, TensorProto.INT64, [2], [1, -1]))
        self.cur = self.node("Reshape", [self.x, shape])

    def name(self, base: str) -> str:
        self.k += 1
        return f"{base}_{self.k}"

    def const(self, value) -> str:
        n = self.name("c")
        self.inits.append(helper.make_tensor(n, TensorProto.FLOAT, np.shape(value),
                                             np.asarray(value, dtype=np.float32).reshape(-1).tolist()))
        return n

    def node(self, op: str, inputs: list[str], domain: str = "", **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.name(op), domain=domain, **attrs))
        return out

    def quant(self, x: str, scale, bits: int, signed: bool, narrow: bool = False) -> str:
        return self.node("Quant", [x, self.const(scale), self.const(0.0), self.const(float(bits))], QDOMAIN,
                         signed=int(signed), narrow=int(narrow), rounding_mode="ROUND")

    def bipolar(self, x: str, scale: float = 1.0) -> str:
        return self.node("BipolarQuant", [x, self.const(scale)], QDOMAIN)

    def matmul(self, w: np.ndarray, bits: int = 4) -> str:
        """x @ w with integer weights w (K, N), exported as Brevitas does: Quant(w, scale 1)."""
        w = np.asarray(w, dtype=np.float32)
        if bits == 1:
            wq = self.bipolar(self.const(w))
        else:
            wq = self.quant(self.const(w), 1.0, bits, signed=True, narrow=True)
        self.cur = self.node("MatMul", [self.cur, wq])
        return self.cur

    def model(self, out: str) -> onnx.ModelProto:
        y = helper.make_tensor_value_info(out, TensorProto.FLOAT, None)
        graph = helper.make_graph(self.nodes, "ties", [self.inp], [y], initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QDOMAIN, 1)])
        m.ir_version = 8
        return m


def _identity_head(g: G, hidden: int, classes: int) -> str:
    """The last layer passes each hidden unit to its own logit (others 0), so every activation is
    visible in the logits."""
    w = np.zeros((hidden, classes), dtype=np.float32)
    w[np.arange(hidden), np.arange(hidden) % classes] = 1
    return g.matmul(w, bits=2)


def unsigned_graph():
    """acc_j = x_j (4 pixels); UINT2 Quant of acc with scale 2: ties at acc 1, 3, 5 (round half even:
    1 -> 0, 3 -> 2, 5 -> 2)."""
    g = G(4)
    g.matmul(np.eye(4))
    g.cur = g.quant(g.cur, 2.0, 2, signed=False)
    out = _identity_head(g, 4, 4)
    frames = np.repeat(np.arange(0, 9, dtype=np.uint8)[:, None], 4, axis=1)
    return g.model(out), frames


def signed_graph():
    """acc = (x0 - x1, x1 - x0, x2 - x3, x3 - x2); INT3 Quant (scale 2, not narrow): ties at odd acc in
    -7..5; and a narrow INT2 on another layer is not needed: INT3 covers both signs' ties."""
    g = G(4)
    g.matmul(np.array([[1, -1, 0, 0], [-1, 1, 0, 0], [0, 0, 1, -1], [0, 0, -1, 1]]).T)
    g.cur = g.quant(g.cur, 2.0, 3, signed=True)
    out = _identity_head(g, 4, 4)
    d = np.arange(-9, 10)
    frames = np.stack([np.clip(d, 0, None), np.clip(-d, 0, None), np.clip(d + 1, 0, None),
                       np.clip(-d - 1, 0, None)], axis=1).astype(np.uint8)
    return g.model(out), frames


def narrow_graph():
    """INT2 narrow (levels -1, 0, 1) of acc with scale 4: ties at acc -2 (-0.5 -> 0) and 2 (0.5 -> 0)."""
    g = G(4)
    g.matmul(np.array([[1, -1, 0, 0], [-1, 1, 0, 0], [0, 0, 1, -1], [0, 0, -1, 1]]).T)
    g.cur = g.quant(g.cur, 4.0, 2, signed=True, narrow=True)
    out = _identity_head(g, 4, 4)
    d = np.arange(-5, 6)
    frames = np.stack([np.clip(d, 0, None), np.clip(-d, 0, None), np.clip(d + 1, 0, None),
                       np.clip(-d - 1, 0, None)], axis=1).astype(np.uint8)
    return g.model(out), frames


def input_quant_graph():
    """A UINT4 input quantizer with scale 2 on the pixels: ties at odd pixels 1..29 (half even), then
    Relu -> 1-bit unsigned Quant with scale 8 (Brevitas' QuantReLU(bit_width=1) after dqhw's repair of
    its export) on acc = level * 2 (the input quantizer's scale): a tie at level 2 goes down to 0
    (half even), level 1 and 3 are one LSB below and above."""
    g = G(4)
    g.cur = g.quant(g.cur, 2.0, 4, signed=False)
    g.matmul(np.eye(4), bits=3)
    g.cur = g.quant(g.node("Relu", [g.cur]), 8.0, 1, signed=False)
    out = _identity_head(g, 4, 4)
    p = np.arange(0, 34)
    frames = np.stack([p, p[::-1], (p * 7) % 34, (p * 5 + 3) % 34], axis=1).astype(np.uint8)
    return g.model(out), frames


def bipolar_graph():
    """BipolarQuant of acc - c (c = 100, 37, 0 and a threshold on -x: ties at acc = c go to +1), then
    XNOR layers: a BipolarQuant of (bipolar dot - b) with b = 0, 2, -2, 4 on the popcount (ties at
    dot = b: +1), and a bipolar last layer."""
    g = G(4)
    g.matmul(np.diag([1, 1, 1, -1]))
    g.cur = g.node("Add", [g.cur, g.const(np.array([-100.0, -37.0, 0.0, 50.0], dtype=np.float32))])
    g.cur = g.bipolar(g.cur)
    w2 = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [-1, 1, 1, 1]], dtype=np.float32)
    g.matmul(w2, bits=1)
    g.cur = g.node("Add", [g.cur, g.const(np.array([0.0, -2.0, 2.0, -4.0], dtype=np.float32))])
    g.cur = g.bipolar(g.cur)
    out = g.matmul(np.array([[1, -1, 1, -1], [1, 1, -1, -1], [1, 1, 1, 1], [-1, 1, -1, 1]]).T, bits=1)
    levels = [[99, 100, 101], [36, 37, 38], [0, 1, 2], [49, 50, 51]]
    grid = np.stack(np.meshgrid(*levels, indexing="ij"), axis=-1).reshape(-1, 4)
    return g.model(out), grid.astype(np.uint8)


def batchnorm_graph():
    """MatMul -> BatchNormalization (beta 0, integer means, variances that are not powers of two) ->
    BipolarQuant, FINN's CNV W1A1 pattern: qonnx computes exactly 0.0 at acc = mean (a tie: +1), while
    finn's streamlined threshold is the mean a float32 rounding error off."""
    means = np.array([3, 7, 11, 13, 17, 19, 23, 29], dtype=np.float32)
    var = np.array([0.3, 1.7, 2.9, 0.11, 5.3, 7.7, 0.37, 3.1], dtype=np.float32)
    gamma = np.array([0.9, 1.3, 0.7, 2.1, 0.45, 1.9, 0.33, 1.1], dtype=np.float32)
    g = G(8)
    g.matmul(np.eye(8), bits=2)
    g.cur = g.node("BatchNormalization", [g.cur, g.const(gamma), g.const(np.zeros(8)), g.const(means),
                                          g.const(var)], epsilon=1e-5)
    g.cur = g.bipolar(g.cur)
    out = g.matmul(np.where(np.eye(8, 4, dtype=bool) | np.eye(8, 4, -4, dtype=bool), 1.0, -1.0), bits=1)
    offsets = (np.arange(18)[:, None] * (np.arange(8)[None, :] + 1)) % 3 - 1  # each channel: mean - 1, mean, mean + 1
    return g.model(out), (means[None, :].astype(np.int64) + offsets).astype(np.uint8)


GRAPHS = {"unsigned": unsigned_graph, "signed": signed_graph, "signed-narrow": narrow_graph,
          "input-quantizer": input_quant_graph, "bipolar-xnor": bipolar_graph, "batchnorm": batchnorm_graph}


def qonnx_reference(path: Path, frames: np.ndarray) -> np.ndarray:
    """execute_onnx of the file as written, one frame at a time (float32, as qonnx runs it)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    m = ModelWrapper(str(path)).transform(InferShapes())
    name, out = m.graph.input[0].name, m.graph.output[0].name
    rows = [np.asarray(execute_onnx(m, {name: f.reshape(1, 1, 1, -1).astype(np.float32)})[out]).reshape(-1)
            for f in frames]
    return np.stack(rows).astype(np.float64)


RTL_KINDS = ("signed", "input-quantizer", "batchnorm")  # also through the RTL (Verilator): `dqhw sim`


@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.rtl) if k in RTL_KINDS else k for k in GRAPHS])
def test_ties_agree_with_qonnx(kind, tmp_path, capsys):
    """dqhw's golden model of the built graph = qonnx on the file, frame by frame (and for RTL_KINDS the
    RTL = the golden model on every frame, `dqhw sim`)."""
    from dqhw.golden import GoldenModel

    model, frames = GRAPHS[kind]()
    path = tmp_path / f"{kind}.onnx"
    onnx.save(model, str(path))
    images = frames.reshape(len(frames), 1, frames.shape[1], 1).astype(np.uint8)  # NHWC of (1, 1, 1, P)
    np.savez(tmp_path / "frames.npz", images=images)
    ref = qonnx_reference(path, frames)
    out = tmp_path / "b"
    rtl = [] if kind in RTL_KINDS else ["--no-rtl"]
    code, _, err = run_cli(["build", path, "--frames", tmp_path / "frames.npz", "--out", out, *rtl,
                            "--verify-frames", len(frames), "--prove-frames", max(16, len(frames)),
                            "--no-synth", "--quiet"], capsys)
    assert code == 0, err
    if rtl == []:
        code, _, err = run_cli(["sim", out, "--quiet", "--jobs", "1"], capsys)
        assert code == 0, err
        assert json.loads((out / "sim" / "report.json").read_text())["total_frames"] == len(frames)
    info = json.loads((out / "build.json").read_text())
    scale, bias = info["outputs"]["logits_scale"], info["outputs"]["logits_bias"]
    golden = GoldenModel.from_build(out).run(images).logits
    want = (ref - np.asarray(bias)) / np.asarray(scale)
    bad = np.flatnonzero(np.abs(want - golden).max(axis=1) > 1e-6)
    assert len(bad) == 0, f"{len(bad)} of {len(frames)} frames differ from qonnx, first {frames[bad[0]]}: " \
                          f"qonnx {want[bad[0]]}, dqhw {golden[bad[0]]}"


def test_integer_thresholds_by_hand():
    """A float threshold a rounding error off an integer is a tie there (up: n, down: n + 1); one
    clearly between integers is ceil'ed whatever the tie side."""
    from dqhw.transforms.ties import half_even_ties, integer_thresholds

    t = np.array([[7.0 + 4e-15, 13.0 - 1e-14, 2.5, -3.0, 1425.0005]])
    assert integer_thresholds(t, [1, 1, 1, 1, 1]).tolist() == [[7, 13, 3, -3, 1426]]
    assert integer_thresholds(t, [0, 0, 0, 0, 0]).tolist() == [[8, 14, 3, -2, 1426]]
    assert half_even_ties("UINT2", 3) == [0, 1, 0]  # levels 1, 2, 3: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2
    assert half_even_ties("INT3", 7) == [0, 1, 0, 1, 0, 1, 0]  # levels -3 .. 3
    assert half_even_ties("INT2", 2) == [1, 0]  # narrow: levels 0, 1
    assert half_even_ties("UINT1", 1) == [0]
    assert half_even_ties("BIPOLAR", 1) is None  # BipolarQuant: x >= 0 (up)


def test_other_rounding_modes_are_refused(tmp_path, capsys):
    from tests.conftest import assert_one_line_error

    g = G(4)
    g.matmul(np.eye(4))
    q = g.quant(g.cur, 2.0, 2, signed=False)
    next(a for a in g.nodes[-1].attribute if a.name == "rounding_mode").s = b"FLOOR"
    g.cur = q
    path = tmp_path / "floor.onnx"
    onnx.save(g.model(_identity_head(g, 4, 4)), str(path))
    code, _, err = run_cli(["build", path, "--out", tmp_path / "b", "--no-rtl", "--quiet"], capsys)
    assert_one_line_error(code, err, "rounding_mode FLOOR")
    assert "(Quant;" in err
