"""`make sim` / `dqhw sim BUILD`: the clean test split and every adversarial set of the run through
the stitched RTL, every frame's logits and class compared with the golden model. A design without a
class output (the host takes the class: a per-class scale/bias on the last layer) is judged on its
logits; its classes (accuracy) are contract.host_class of the RTL's logits.

Writes BUILD/sim/report.json and report.md (one file pair per shard with SHARD=i/n). Any mismatch
fails with the first differing frame, layer and value.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError, MismatchError
from dqhw.io import write_json, write_text
from dqhw.rtlgen.generate import Design


@dataclass
class FrameSet:
    name: str
    images: np.ndarray
    labels: np.ndarray | None  # true labels (None: unknown)
    kind: str  # clean | adversarial
    provenance: dict | None = None


def latest_build(root: str | Path = ".") -> Path:
    """The most recently written build directory (one holding rtl/design.json) under runs/ or builds/."""
    candidates = []
    for base in ("runs", "builds"):
        for design in Path(root, base).glob("**/rtl/design.json"):
            candidates.append(design.parent.parent)
    if not candidates:
        raise DqhwError("no build found under runs/ or builds/; run `dqhw build RUN` or pass BUILD=DIR")
    return max(candidates, key=lambda p: (p / "rtl" / "design.json").stat().st_mtime)


def parse_shard(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 1
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise DqhwError(f"SHARD must look like i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise DqhwError(f"SHARD {text}: need 0 <= i < n")
    return i, n


def collect_sets(build_dir: Path, split: str = "test", limit: int | None = None,
                 set_paths: list[str] | None = None, frames: str | None = None) -> list[FrameSet]:
    """The sets `dqhw sim` runs. `frames` (a frame file): that set alone. Otherwise, for a build of a
    dqhw run: the clean `split` of its data set and its adversarial sets (or `set_paths`); for a build
    of a model file: the frames the build was verified on (BUILD/frames/clean.npz) and `set_paths`."""
    from dqhw.frames import load_frames

    info = json.loads((build_dir / "build.json").read_text())
    src = info.get("source") or {"kind": "run", "path": info.get("run")}
    frame_shape = tuple(src.get("in_shape_hwc") or Design.load(build_dir / "rtl").in_shape)
    if frames:
        fs = load_frames(frames, frame_shape)
        return [FrameSet(Path(frames).stem, fs.images[:limit], _cut(fs.labels, limit), "clean")]
    if src["kind"] == "run":
        from dqhw.advsets import load_set
        from dqhw.data import load_dataset
        from dqhw.runs import load_run

        run = load_run(src["path"])
        data = load_dataset(run.config.dataset, run.config.data_dir)
        x, y = data.split(split)
        sets = [FrameSet(f"clean-{split}", x[:limit], y[:limit], "clean")]
        paths = [Path(p) for p in set_paths] if set_paths else sorted((Path(src["path"]) / "adv").glob("*.npz"))
        for p in paths:
            s = load_set(p, run=run, check_source=False)
            sets.append(FrameSet(p.stem, s.images[:limit], s.labels[:limit], "adversarial", s.provenance))
        return sets
    fs = load_frames(build_dir / info.get("frames", "frames/clean.npz"), frame_shape)
    sets = [FrameSet("clean-build-frames", fs.images[:limit], _cut(fs.labels, limit), "clean")]
    for p in [Path(p) for p in set_paths or []]:
        s = load_frames(p, frame_shape)
        sets.append(FrameSet(p.stem, s.images[:limit], _cut(s.labels, limit), "adversarial"))
    return sets


def _cut(labels, limit):
    return None if labels is None else labels[:limit]


def run_sim(build_dir: str | Path, split: str = "test", limit: int | None = None, shard: str | None = None,
            waves: bool = False, set_paths: list[str] | None = None, progress: bool = True,
            frames: str | None = None) -> dict:
    from dqhw.golden import GoldenModel
    from dqhw.simulate.runner import bulk_run, compare, locate_and_describe

    build_dir = Path(build_dir)
    rtl_dir = build_dir / "rtl"
    if not (rtl_dir / "design.json").is_file():
        raise DqhwError(f"{build_dir}: no rtl/design.json (run `dqhw build` first)")
    design = Design.load(rtl_dir)
    info = json.loads((build_dir / "build.json").read_text())
    clock_ns = float(info.get("clock_ns", 10.0))
    idx, count = parse_shard(shard)
    golden = GoldenModel.from_build(build_dir)
    sets = collect_sets(build_dir, split, limit, set_paths, frames)
    # each shard works in its own folder, so shards of one build can run side by side
    work = build_dir / "sim" / ("work" if count == 1 else f"work-shard{idx}of{count}")
    rows = []
    failures = []
    t_all = time.time()
    for fs in sets:
        n = len(fs.images)
        lo, hi = n * idx // count, n * (idx + 1) // count
        images = fs.images[lo:hi]
        labels = None if fs.labels is None else fs.labels[lo:hi]
        if len(images) == 0:
            continue
        ref = golden.run(images)
        t0 = time.time()
        if progress:
            print(f"sim {fs.name}: {len(images)} frames through the RTL ...", flush=True)
        res = bulk_run(rtl_dir, work / fs.name, images, waves=waves)
        if design.label_width == 0:  # no class output: the host's class of the RTL's logits
            res.labels = golden.class_of(res.logits)
        cmp = compare(ref.labels, ref.logits, res, has_labels=design.label_width > 0)
        ii = res.interval()
        row = {
            "set": fs.name, "kind": fs.kind, "frames": len(images), "first_index": lo,
            "mismatches": {"labels": cmp.label_mismatches, "logits": cmp.logit_mismatches, "missing": cmp.missing},
            "rtl_accuracy": _accuracy(res.labels, labels), "golden_accuracy": _accuracy(ref.labels, labels),
            "cycles_per_frame": ii, "latency_cycles": res.latency(),
            "fps_at_clock": (1e9 / clock_ns / ii) if ii else None,
            "expected_cycles_per_frame": design.expected_cycles_per_frame,
            "sim_cycles": res.cycles, "sim_seconds": round(res.wall_s, 3),
            "cycles_per_second": round(res.cycles_per_second), "deadlock": res.deadlock, "tlast_ok": res.tlast_ok,
            "wall_seconds": round(time.time() - t0, 2),
        }
        if fs.provenance:
            row["attack"] = {k: fs.provenance.get(k) for k in ("attack", "eps", "mode", "source_run")}
        rows.append(row)
        if progress:
            print(f"    mismatches {cmp.label_mismatches + cmp.logit_mismatches + cmp.missing}, "
                  f"RTL accuracy {_pct(row['rtl_accuracy'])} (golden {_pct(row['golden_accuracy'])}), "
                  f"{ii} cycles/frame, {row['cycles_per_second']} cycles/s", flush=True)
        if res.deadlock:
            failures.append(f"{fs.name}: deadlock (no stream moved for the watchdog period)")
        elif not cmp.ok:
            where, message = locate_and_describe(build_dir, work / f"{fs.name}-locate", fs.name, cmp, images, lo)
            row["first_mismatch"] = where
            failures.append(message)
        elif not res.tlast_ok:
            failures.append(f"{fs.name}: m_axis_logits tlast not on the last beat of each frame")
    # --- protocol run + throughput check (dqhw/simulate/protocol.py) ---------------------------------
    from dqhw.simulate.protocol import session_checks

    protocol = session_checks(build_dir, rows, sets, failures, work, progress=progress)
    # -------------------------------------------------------------------------------------------------
    from dqhw.rtlgen.generate import manifest_changes

    changed = manifest_changes(rtl_dir)
    if changed:  # simulated fine or not, this is not the RTL the build sized and proved
        failures.append(f"{rtl_dir / changed[0]} differs from the RTL the build sealed and proved (rtl/manifest.json)"
                        + (f", and {len(changed) - 1} more files" if len(changed) > 1 else ""))
    report = {
        "build": str(build_dir), "design_sha": design.graph_sha, "clock_ns": clock_ns,
        "shard": f"{idx}/{count}", "sets": rows, "protocol": protocol,
        "total_frames": sum(r["frames"] for r in rows),
        "total_mismatches": sum(sum(r["mismatches"].values()) for r in rows),
        "passed": not failures, "failures": failures, "seconds": round(time.time() - t_all, 1),
    }
    suffix = "" if count == 1 else f"-shard{idx}of{count}"
    out = build_dir / "sim"
    write_json(out / f"report{suffix}.json", report)
    write_text(out / f"report{suffix}.md", render_markdown(report))
    if failures:
        raise MismatchError(failures[0] + (f" (+{len(failures) - 1} more; see {out}/report{suffix}.md)"
                                           if len(failures) > 1 else ""))
    return report


def _accuracy(predicted: np.ndarray, labels: np.ndarray | None) -> float | None:
    """None when the true labels are unknown; a missing prediction counts as wrong."""
    if labels is None or len(labels) == 0:
        return None
    got = np.asarray(predicted)[: len(labels)]
    return float((got == labels[: len(got)]).sum() / len(labels))


def _pct(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def render_markdown(report: dict) -> str:
    lines = [
        f"# RTL simulation: {report['build']}",
        "",
        f"Verilator + cocotb, memory-fed bulk testbench; clock {report['clock_ns']} ns; shard {report['shard']}.",
        f"**{report['total_frames']} frames, {report['total_mismatches']} mismatches against the golden model "
        f"({'PASS' if report['passed'] else 'FAIL'}).**",
        "",
        "| set | frames | mismatches (class/logits/missing) | RTL accuracy | golden accuracy | cycles/frame "
        "(FINN estimate) | latency | FPS @ clock | sim cycles/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["sets"]:
        m = r["mismatches"]
        fps = f"{r['fps_at_clock']:.0f}" if r["fps_at_clock"] else "-"
        lines.append(f"| {r['set']} | {r['frames']} | {m['labels']}/{m['logits']}/{m['missing']} | "
                     f"{_pct(r['rtl_accuracy'])} | {_pct(r['golden_accuracy'])} | {r['cycles_per_frame']} "
                     f"({r['expected_cycles_per_frame']}) | {r['latency_cycles']} | {fps} | {r['cycles_per_second']} |")
    if report.get("protocol"):  # dqhw/simulate/protocol.py
        from dqhw.simulate.protocol import render_protocol

        lines += ["", render_protocol(report["protocol"])]
    if report["failures"]:
        lines += ["", "## Failures", ""] + [f"- {f}" for f in report["failures"]]
    return "\n".join(lines) + "\n"
