"""Verification inside `dqhw build`: the golden model (dqhw's batched integer executor of the folded
dataflow graph) is held to oracles that dqhw's own code does not compute (ORACLES):

- Brevitas (the trained model, float64 fake-quant; builds of a dqhw run only): every frame of the
  clean set and of every adversarial set of the run (RUN/adv/*.npz);
- qonnx execute_onnx of the original graph (the file given to `dqhw build`, or Brevitas' export of
  the run), with the input convention applied to the frames: the clean frames (>= 64 by default);
- finn-plus execute_onnx of finn's own folded graph (finn's Python MVAU/Pool/LabelSelect): the clean
  frames and a subset of each adversarial set; integer logits and labels must be equal.
For the two float oracles the rule is: (logits - output bias) / output scale equal the integer logits
(per class when the host takes the class), and a class may differ only at an exact tie (of the
integer logits, or of acc * scale + bias for the host's class) that the float argmax resolved to
another tied class.
Every oracle is asserted: a failure fails the build (MismatchError, one line).
Also run, and reported as what it is: execute_onnx of dqhw's own dataflow graph, which uses dqhw's
node code on both sides (a self-consistency check of the golden model's batching, not an oracle).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from dqhw import finn_compat
from dqhw.errors import DqhwError, MismatchError


def clean_frames(run, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None, str]:
    """n test frames of the run's data set, a seeded class-stratified sample (dqhw.sampling); seeded
    random frames if the data set is unavailable."""
    from dqhw.data import load_dataset
    from dqhw.sampling import sample_split

    try:
        x, y = load_dataset(run.config.dataset, run.config.data_dir).split("test")
        if tuple(x.shape[1:]) == tuple(run.in_shape):
            idx = sample_split(y, "test", n, seed)
            return x[idx.indices], y[idx.indices], f"{run.config.dataset} {idx.describe()}"
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
    # float64: float32 rounding could put an activation on the other side of a quantization step
    model = copy.deepcopy(run.model).double().eval()
    with torch.no_grad():
        for i in range(0, len(images), batch):
            outs.append(model(to_input(images[i:i + batch]).double()).numpy())
    return np.concatenate(outs) if outs else np.zeros((0, run.num_classes))


def execute_graph(model, images: np.ndarray) -> list[dict[str, np.ndarray]]:
    """finn's execute_onnx frame by frame on a dataflow graph (generic copies of finn RTL/HLS nodes);
    returns the full execution context of every frame."""
    from dqhw.frames import as_stream_shape

    m = finn_compat.generic_copy(model)
    name = m.graph.input[0].name
    x = as_stream_shape(images, m.get_tensor_shape(name)[1:])
    return [finn_compat.execute(m, {name: x[i:i + 1].astype(np.float32)}, full_context=True)
            for i in range(len(x))]


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
        if golden.has_label_select:
            lab = int(np.asarray(ctx[out_name]).reshape(-1)[0])
        else:  # the graph output is the logits: the host's class
            lab = int(golden.class_of(np.asarray(ctx[out_name]).reshape(1, -1))[0])
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


# the oracles, in the words the report uses; `independent`: no dqhw code computes the reference side
ORACLES = {
    "brevitas": ("Brevitas: the trained PyTorch model, fake-quant in float64", True),
    "qonnx": ("qonnx execute_onnx of the original graph (the given file or Brevitas' export; shapes annotated, "
              "input convention applied to the frames, no other transformation)", True),
    "finn_graph": ("finn-plus execute_onnx of finn's own folded graph (MVAU_hls/Pool_hls/LabelSelect_hls)", True),
    "dqhw_graph": ("execute_onnx of dqhw's dataflow graph: dqhw's node code on both sides, a self-consistency "
                   "check, not an oracle", False),
}
# float logits / output scale must equal the integer logits within this (float32 rounding of the
# export's scales; a different activation anywhere moves a logit by at least one weight step)
FLOAT_TOLERANCE = 1e-3


def judge_float_logits(float_logits: np.ndarray, scale, golden_logits: np.ndarray,
                       golden_labels: np.ndarray, bias=0.0) -> dict:
    """The rule for a float oracle: every (logit - bias) / scale equals the integer logit (within
    FLOAT_TOLERANCE, relative above 1), and the float argmax differs from the golden class only at a
    tie that the float argmax resolved to another tied class. `scale` and `bias`: one for every class
    (scalars; the class is the argmax of the integer logits, ties among equal integers) or one per
    class (vectors, the host's class: contract.host_class; ties among equal acc * scale + bias,
    compared exactly in float64)."""
    from dqhw import contract

    n = len(golden_logits)
    if n == 0:
        return {"frames": 0, "logit_mismatch_frames": 0, "class_disagreements": 0,
                "class_disagreements_at_ties": 0, "logits_max_abs_diff": 0.0, "passed": True}
    scale_v, bias_v = np.asarray(scale, dtype=np.float64), np.asarray(bias, dtype=np.float64)
    per_class = scale_v.ndim > 0 or bias_v.ndim > 0
    f = np.asarray(float_logits, dtype=np.float64)
    q = (f - bias_v) / scale_v
    g = np.asarray(golden_logits, dtype=np.float64)
    diff = np.abs(q - g)
    bad_logits = (diff > FLOAT_TOLERANCE * np.maximum(1.0, np.abs(g))).any(axis=1)
    # the class values the tie rule compares: the integer logits, or the host's acc * scale + bias
    v = contract.class_values(np.asarray(golden_logits, dtype=np.int64), scale_v, bias_v) if per_class else g
    f_label = f.argmax(axis=1) if per_class else q.argmax(axis=1)
    disagree = f_label != np.asarray(golden_labels)
    top = v.max(axis=1, keepdims=True)
    at_tie = (v == top).sum(axis=1) > 1
    tie_ok = disagree & at_tie & (v[np.arange(n), f_label] == top[:, 0])
    first = int(np.flatnonzero(bad_logits | (disagree & ~tie_ok))[0]) if (bad_logits | (disagree & ~tie_ok)).any() \
        else None
    return {
        "frames": int(n),
        "logit_mismatch_frames": int(bad_logits.sum()),
        "class_disagreements": int(disagree.sum()),
        "class_disagreements_at_ties": int(tie_ok.sum()),
        "frames_with_integer_ties": int(at_tie.sum()),
        "logits_max_abs_diff": float(diff.max()),  # in integer (accumulator) units
        "first_bad_frame": first,
        "passed": first is None,
    }


def _set_report(ctx, golden, fs, exec_n: int, oracle_n: int, dataflow, with_qonnx: bool) -> dict:
    """Every oracle on one frame set (dqhw.flow.source.FrameSet)."""
    src, scale, bias = ctx.source, ctx.record.output_scale, ctx.record.output_bias
    images, labels = fs.images, fs.labels
    res = golden.run(images)
    d: dict = {"set": fs.name, "frames": int(len(images)), "source": fs.source}
    if labels is not None:
        d["accuracy"] = {"golden": float((res.labels == labels).mean())}
    if src.run is not None:
        b = brevitas_logits(src.run, images)
        d["brevitas"] = judge_float_logits(b, scale, res.logits, res.labels, bias)
        if labels is not None:
            d["accuracy"]["brevitas"] = float((b.argmax(1) == labels).mean())
    sub = images[:oracle_n]
    ref = golden.run(sub)
    if with_qonnx:
        from dqhw.flow.export import qonnx_execute

        q = qonnx_execute(src.raw, src.graph_input(sub))
        d["qonnx"] = judge_float_logits(q, scale, ref.logits, ref.labels, bias)
        if src.original is not None:  # a rewritten graph: how far the hardware is from the graph as written
            q0 = qonnx_execute(src.original, src.graph_input(sub))
            d["qonnx_original"] = judge_float_logits(q0, scale, ref.logits, ref.labels, bias)
    # finn's own folded graph (finn's Python semantics for MVAU/Pool/LabelSelect) vs golden
    finn_folded = _finn_folded(ctx)
    contexts = execute_graph(finn_folded, sub)
    fl_name = _label_select_input(finn_folded)
    out_name = finn_folded.graph.output[0].name
    finn_logits = [np.asarray(c[fl_name]).reshape(-1) for c in contexts]
    if fl_name == out_name:  # no LabelSelect: the host's class of finn's logits
        finn_labels = [int(v) for v in golden.class_of(np.asarray(finn_logits).reshape(len(contexts), -1))] \
            if contexts else []
    else:
        finn_labels = [int(np.asarray(c[out_name]).reshape(-1)[0]) for c in contexts]
    lab_mm = sum(lab != int(ref.labels[i]) for i, lab in enumerate(finn_labels))
    log_mm = sum(not np.array_equal(v, ref.logits[i]) for i, v in enumerate(finn_logits))
    float32_ok = finn_float32_exact(finn_folded)
    d["finn_graph"] = {"frames": len(sub), "label_mismatches": lab_mm, "logits_mismatches": log_mm,
                       # finn's MVAU executes in float32: exact only while |acc| < 2^24
                       "finn_float32_exact_guaranteed": float32_ok,
                       "passed": (lab_mm == 0 and log_mm == 0) or not float32_ok}
    d["dqhw_graph"] = compare_with_graph(golden, dataflow, images[:exec_n], all_tensors=True)
    d["dqhw_graph"]["passed"] = d["dqhw_graph"]["exact"]
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
    """The logits tensor: LabelSelect's input, or the graph output of a graph without LabelSelect
    (the host takes the class)."""
    for node in model.graph.node:
        if node.op_type.startswith(("LabelSelect", "DqhwLabelSelect")):
            return node.input[0]
    return model.graph.output[0].name


def _finn_folded(ctx):
    """The folded finn graph step dqhw_nodes saved (finn's own layers, before dqhw's replace them)."""
    from qonnx.core.modelwrapper import ModelWrapper

    return ModelWrapper(str(ctx.out / ctx.record.finn_folded))


def verify_build(ctx, dataflow) -> dict:
    """Every oracle on the clean frames and each adversarial set; see ORACLES. Frames: Brevitas (runs
    only) on all of them; qonnx on the first --verify-frames clean frames; finn's graph on those and
    --exec-frames of each adversarial set; dqhw's graph on --exec-frames of each set."""
    from dqhw.golden import GoldenModel

    opts = ctx.opts
    golden = GoldenModel(dataflow, class_affine=ctx.record.class_affine())
    sets = []
    for i, fs in enumerate(ctx.source.frame_sets):
        fs_used = fs if i else type(fs)(fs.name, fs.images[:opts.verify_frames],
                                        None if fs.labels is None else fs.labels[:opts.verify_frames], fs.source)
        sets.append(_set_report(ctx, golden, fs_used, opts.exec_frames,
                                opts.verify_frames if i == 0 else opts.exec_frames, dataflow, with_qonnx=i == 0))
    oracles = []
    for key, (what, independent) in ORACLES.items():
        if key == "qonnx" and ctx.source.raw_note:
            what = (f"qonnx execute_onnx of the **rewritten** graph, not the graph as written ({ctx.source.raw_note}; "
                    "shapes annotated, input convention applied to the frames)")
        parts = [s[key] for s in sets if key in s]
        if not parts:
            continue
        frames = sum(p["frames"] for p in parts)
        oracles.append({"oracle": key, "what": what, "independent": independent, "frames": frames,
                        "passed": all(p["passed"] for p in parts),
                        "failing_sets": [s["set"] for s in sets if key in s and not s[key]["passed"]]})
    out = {
        "output_scale": ctx.record.output_scale,
        "output_bias": ctx.record.output_bias,
        "class_on": ctx.record.class_on,
        "oracles": oracles,
        "passed": all(o["passed"] for o in oracles),
        "sets": sets,
    }
    original = [s["qonnx_original"] for s in sets if "qonnx_original" in s]
    if original:  # reported, not asserted: the hardware computes the rewritten graph
        out["original_file"] = {
            "what": "qonnx execute_onnx of the graph as written (no rewrite) vs the golden model (= the RTL, "
                    "proven)", "rewrite": ctx.source.raw_note, "rewrites": list(ctx.source.rewrites),
            "frames": sum(r["frames"] for r in original),
            "differing_frames": sum(r["logit_mismatch_frames"] for r in original),
            "class_disagreements": sum(r["class_disagreements"] - r["class_disagreements_at_ties"] for r in original)}
    return out


def rtl_vs_original(build_dir: str | Path, images: np.ndarray, work: str | Path) -> dict:
    """The RTL (Verilator) against qonnx execute_onnx of the build's original graph file as written (a
    model-file build; the input convention from build.json applied to the frames; a build with
    --accept-rewrites is expected to differ): every logit up to the output
    scale and bias, every class except at exact ties (judge_float_logits; a build whose class the
    host takes: the class is contract.host_class of the RTL's logits)."""
    import json

    from qonnx.core.modelwrapper import ModelWrapper

    from dqhw.flow.export import annotate, qonnx_execute
    from dqhw.simulate.runner import bulk_run

    build_dir = Path(build_dir)
    info = json.loads((build_dir / "build.json").read_text())
    src = info["source"]
    if src["kind"] != "onnx":
        raise DqhwError(f"{build_dir}: not a build of a model file")
    rtl = bulk_run(build_dir / "rtl", work, images)
    raw = annotate(ModelWrapper(src["path"]))  # the file as written (a rewritten build differs from it)
    x = np.asarray(images).astype(np.float64).transpose(0, 3, 1, 2) * src["input_scale"] + src["input_offset"]
    q = qonnx_execute(raw, x.astype(np.float32))
    n = min(len(rtl.logits), len(images))
    out = info["outputs"]
    labels = rtl.labels
    if out.get("class_on") == "host":  # no class output: the host's class of the RTL's logits
        from dqhw import contract

        labels = contract.host_class(rtl.logits, out["logits_scale"], out["logits_bias"])
    r = judge_float_logits(q[:n], out["logits_scale"], rtl.logits[:n], labels[:n], out["logits_bias"])
    r["rtl_frames_out"] = int(len(rtl.logits))
    r["deadlock"] = bool(rtl.deadlock)
    r["passed"] = r["passed"] and n == len(images) and not rtl.deadlock
    return r


def raise_on_mismatch(verification: dict) -> None:
    """One line naming the first failing oracle, its set, frame and counts."""
    if verification["passed"]:
        return
    parts = []
    for o in verification["oracles"]:
        if o["passed"]:
            continue
        for s in verification["sets"]:
            r = s.get(o["oracle"])
            if r is None or r["passed"]:
                continue
            if "logit_mismatch_frames" in r:
                parts.append(f"{o['oracle']} vs golden on {s['set']}: {r['logit_mismatch_frames']} of {r['frames']} "
                             f"frames with different logits (max |diff| {r['logits_max_abs_diff']:.3g} integer units), "
                             f"{r['class_disagreements'] - r['class_disagreements_at_ties']} class disagreements "
                             f"not at an integer tie; first frame {r['first_bad_frame']}")
            elif "mismatching_tensors" in r:
                parts.append(f"{o['oracle']} vs golden on {s['set']}: {r['label_mismatches']} label / "
                             f"{r['logits_mismatches']} logits mismatches in {r['frames']} frames, tensors "
                             f"{','.join(r['mismatching_tensors'][:3])}")
            else:
                parts.append(f"{o['oracle']} vs golden on {s['set']}: {r['label_mismatches']} label / "
                             f"{r['logits_mismatches']} logits mismatches in {r['frames']} frames")
    raise MismatchError("verification failed: " + "; ".join(parts[:2]) + (f" (+{len(parts) - 2} more)"
                                                                           if len(parts) > 2 else ""))
