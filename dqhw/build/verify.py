"""Verification inside `dqhw build`: the chain Brevitas <-> QONNX <-> finn graph <-> dqhw graph <-> golden.

On N clean test frames and on every adversarial set of the run (RUN/adv/*.npz: images uint8 NHWC,
labels):
- golden (batched, all frames) vs Brevitas (float fake-quant, all frames): argmax disagreements
  (counted, never hidden) and max |Brevitas logits / final_scale - integer logits|;
- golden vs execute_onnx of the dqhw dataflow graph (a subset, it is slow): labels, logits and every
  intermediate tensor must be bit-for-bit equal;
- golden vs execute_onnx of finn's own folded graph (MVAU_hls/Pool_hls/LabelSelect_hls, finn's
  Python semantics; subset): labels and integer logits must be equal;
- QONNX (qonnx execute of the exported file) vs Brevitas (clean subset): max |logits diff|, argmax.
Any golden-vs-graph difference fails the build (MismatchError).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dqhw import finn_compat
from dqhw.errors import DqhwError, MismatchError


def clean_frames(run, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The first n test frames of the run's data set, or seeded random frames if it is unavailable."""
    from dqhw.data import load_dataset

    try:
        x, y = load_dataset(run.config.dataset, run.config.data_dir).split("test")
        if tuple(x.shape[1:]) == tuple(run.in_shape):
            return x[:n], y[:n], f"{run.config.dataset} test split"
    except DqhwError:
        pass
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(n, *run.in_shape), dtype=np.uint8)
    return frames, None, "random uint8 frames (data set unavailable)"


def adversarial_sets(run) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    adv = Path(run.path) / "adv"
    out = []
    if not adv.is_dir():
        return out
    for f in sorted(adv.glob("*.npz")):
        try:
            with np.load(f) as z:
                images = np.asarray(z["images"])
                labels = np.asarray(z["labels"]).reshape(-1) if "labels" in z else None
        except Exception as e:  # noqa: BLE001
            raise DqhwError(f"{f}: unreadable adversarial set ({type(e).__name__})") from None
        if images.ndim != 4 or tuple(images.shape[1:]) != tuple(run.in_shape) or images.dtype != np.uint8:
            raise DqhwError(f"{f}: images must be uint8 NHWC frames of shape {tuple(run.in_shape)}")
        out.append((f.stem, images, labels))
    return out


def brevitas_logits(run, images: np.ndarray, batch: int = 256) -> np.ndarray:
    import torch

    from dqhw.models import to_input

    outs = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            outs.append(run.model(to_input(images[i:i + batch])).double().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, run.num_classes))


def execute_graph(model, images: np.ndarray) -> list[dict[str, np.ndarray]]:
    """finn's execute_onnx frame by frame on a dataflow graph (generic copies of finn RTL/HLS nodes);
    returns the full execution context of every frame."""
    m = finn_compat.generic_copy(model)
    name = m.graph.input[0].name
    return [finn_compat.execute(m, {name: images[i:i + 1].astype(np.float32)}, full_context=True)
            for i in range(len(images))]


def compare_with_graph(golden, model, images: np.ndarray, all_tensors: bool) -> dict:
    """golden vs execute_onnx of `model` on `images`: counts of frames whose labels / logits / any
    tensor differ."""
    res = golden.run(images, keep_intermediates=True)
    contexts = execute_graph(model, images)
    out_name = model.graph.output[0].name
    logits_name = golden.logits_tensor
    label_mm = logits_mm = tensor_frames = 0
    bad_tensors: set[str] = set()
    for i, ctx in enumerate(contexts):
        lab = int(np.asarray(ctx[out_name]).reshape(-1)[0])
        label_mm += int(lab != int(res.labels[i]))
        if logits_name in ctx:
            logits_mm += int(not np.array_equal(np.asarray(ctx[logits_name]).reshape(-1), res.logits[i].reshape(-1)))
        if all_tensors:
            frame_bad = False
            for tname, arr in res.tensors.items():
                if tname not in ctx:
                    continue
                if not np.array_equal(np.asarray(ctx[tname]).reshape(-1), arr[i].reshape(-1).astype(np.float64)):
                    bad_tensors.add(tname)
                    frame_bad = True
            tensor_frames += int(frame_bad)
    d = {"frames": len(images), "label_mismatches": label_mm, "logits_mismatches": logits_mm}
    if all_tensors:
        d["frames_with_tensor_mismatches"] = tensor_frames
        d["tensors_compared"] = len(res.tensors)
        d["mismatching_tensors"] = sorted(bad_tensors)
    d["exact"] = label_mm == 0 and logits_mm == 0 and not bad_tensors
    return d


def _set_report(run, golden, scale: float, images, labels, name: str, exec_n: int, dataflow, finn_graph,
                qonnx_model=None) -> dict:
    res = golden.run(images)
    b = brevitas_logits(run, images)
    b_int = b / scale
    diff = np.abs(b_int - res.logits)
    d: dict = {"set": name, "frames": int(len(images))}
    disagree = b.argmax(1) != res.labels
    top = res.logits.max(axis=1, keepdims=True) if len(images) else np.zeros((0, 1))
    tied = (res.logits == top).sum(axis=1) > 1 if len(images) else np.zeros(0, bool)
    d["golden_vs_brevitas"] = {
        "frames": int(len(images)),
        "argmax_disagreements": int(disagree.sum()),
        # integer logits with two or more classes at the maximum: the hardware takes the lowest
        # index, Brevitas' float argmax follows float rounding noise
        "argmax_disagreements_at_integer_ties": int((disagree & tied).sum()),
        "frames_with_integer_ties": int(tied.sum()),
        "logits_max_abs_diff": float(diff.max(initial=0.0)),  # in integer (accumulator) units
        "logits_frames_beyond_0.5": int((diff.max(axis=1, initial=0.0) > 0.5).sum()) if len(images) else 0,
    }
    if labels is not None:
        d["accuracy"] = {"golden": float((res.labels == labels).mean()),
                         "brevitas": float((b.argmax(1) == labels).mean())}
    sub = images[:exec_n]
    d["golden_vs_execute_onnx"] = compare_with_graph(golden, dataflow, sub, all_tensors=True)
    # finn's own folded graph (MVAU_hls / Pool_hls / LabelSelect_hls, finn's Python semantics) vs golden
    contexts = execute_graph(finn_graph, sub)
    ref = golden.run(sub)
    fl_name = _label_select_input(finn_graph)
    out_name = finn_graph.graph.output[0].name
    lab_mm = sum(int(np.asarray(c[out_name]).reshape(-1)[0]) != int(ref.labels[i]) for i, c in enumerate(contexts))
    log_mm = sum(not np.array_equal(np.asarray(c[fl_name]).reshape(-1), ref.logits[i]) for i, c in enumerate(contexts))
    float32_ok = finn_float32_exact(finn_graph)
    d["finn_graph_vs_golden"] = {"frames": len(sub), "label_mismatches": lab_mm, "logits_mismatches": log_mm,
                                 "exact": lab_mm == 0 and log_mm == 0,
                                 # finn's MVAU executes in float32: exact only while |acc| < 2^24
                                 "finn_float32_exact_guaranteed": float32_ok,
                                 "required": float32_ok}
    if qonnx_model is not None:
        from dqhw.build.export import qonnx_execute

        q_logits, q_labels = qonnx_execute(qonnx_model, sub)
        d["qonnx_vs_brevitas"] = {
            "frames": len(sub),
            "argmax_disagreements": int((q_logits.argmax(1) != b[:exec_n].argmax(1)).sum()),
            "logits_max_abs_diff": float(np.abs(q_logits - b[:exec_n]).max(initial=0.0)),
        }
        d["qonnx_vs_golden"] = {"frames": len(sub), "label_mismatches": int((q_labels != ref.labels).sum())}
    return d


def finn_float32_exact(model) -> bool:
    """True when every MVAU's accumulator bound sum|w| * max|x| is below 2^24, so finn's float32
    execution of the graph is exact integer arithmetic."""
    for node in model.graph.node:
        if node.op_type.startswith("MVAU"):
            w = model.get_initializer(node.input[1])
            dt = model.get_tensor_datatype(node.input[0])
            bound = float(np.abs(w).sum(axis=0).max(initial=0)) * max(abs(dt.min()), abs(dt.max()))
            if bound >= (1 << 24):
                return False
    return True


def _label_select_input(model) -> str:
    for node in model.graph.node:
        if node.op_type.startswith(("LabelSelect", "DqhwLabelSelect")):
            return node.input[0]
    raise DqhwError("the dataflow graph has no LabelSelect")


def verify_build(ctx, dataflow, n_frames: int, exec_frames: int, seed: int = 0) -> dict:
    from dqhw.golden import GoldenModel

    golden = GoldenModel(dataflow)
    scale = ctx.exported.final_scale
    x, y, source = clean_frames(ctx.run, n_frames, seed)
    sets = [_set_report(ctx.run, golden, scale, x, y, "clean", exec_frames, dataflow, ctx.finn_folded,
                        ctx.exported.model)]
    sets[0]["source"] = source
    for name, images, labels in adversarial_sets(ctx.run):
        sets.append(_set_report(ctx.run, golden, scale, images, labels, f"adv/{name}", exec_frames, dataflow,
                                ctx.finn_folded))
    exact = all(s["golden_vs_execute_onnx"]["exact"]
                and (s["finn_graph_vs_golden"]["exact"] or not s["finn_graph_vs_golden"]["required"]) for s in sets)
    return {
        "final_scale": scale,
        "golden_equals_execute_onnx": exact,
        "brevitas_argmax_disagreements": sum(s["golden_vs_brevitas"]["argmax_disagreements"] for s in sets),
        "brevitas_argmax_disagreements_at_ties": sum(s["golden_vs_brevitas"]["argmax_disagreements_at_integer_ties"]
                                                     for s in sets),
        "brevitas_frames": sum(s["frames"] for s in sets),
        "sets": sets,
    }


def raise_on_mismatch(verification: dict) -> None:
    if verification["golden_equals_execute_onnx"]:
        return
    parts = []
    for s in verification["sets"]:
        g, f = s["golden_vs_execute_onnx"], s["finn_graph_vs_golden"]
        if not g["exact"]:
            parts.append(f"{s['set']}: golden vs execute_onnx {g['label_mismatches']} label / {g['logits_mismatches']} "
                         f"logits mismatches in {g['frames']} frames, tensors {','.join(g['mismatching_tensors'][:3])}")
        if not f["exact"] and f["required"]:
            parts.append(f"{s['set']}: finn graph vs golden {f['label_mismatches']} label / "
                         f"{f['logits_mismatches']} logits mismatches in {f['frames']} frames")
    raise MismatchError("golden model != execute_onnx: " + "; ".join(parts))
