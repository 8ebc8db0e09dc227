"""One set of frames through a hardware model and judged against the golden model, for every backend:
`run_set` does what is common (the golden run, the comparison, the report row, the clean pairs, the
progress lines); a backend runs the frames and says what its row adds and what counts as a failure.
Backends: the RTL in Verilator (`RtlBackend`) and the HLS C++ C-simulated with g++ (`HlsBackend`)."""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dqhw.simsession.report import accuracy, class_counts, pct


@dataclass
class SetRuns:
    """What the sets of one session share: the golden model, the rows and failures they add, and the
    class the hardware model gave each clean image (for the adversarial sets' clean pairs)."""

    golden: object  # dqhw.golden.GoldenModel
    progress: bool = True
    rows: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    clean_rtl: dict[str, dict[int, int]] = field(default_factory=dict)


def run_set(fs, pos: np.ndarray, backend, runs: SetRuns) -> dict | None:
    """The frames `pos` of the set `fs` through `backend`; returns the set's report row (None: no frames)."""
    from dqhw.simulate.runner import compare

    images = fs.images[pos]
    labels = None if fs.labels is None else fs.labels[pos]
    if len(images) == 0:
        return None
    golden = runs.golden
    ref = golden.run(images)
    t0 = time.time()
    if runs.progress:
        print(f"{backend.tag}{backend.name} {fs.name}: {len(images)} frames through {backend.what} ({fs.sample}) ...",
              flush=True)
    res = backend.run(fs, images)
    if not backend.has_class:  # no class output: the host's class of the model's logits
        res.labels = golden.class_of(res.logits)
    cmp = compare(ref.labels, ref.logits, res, has_labels=backend.has_class)
    row = set_row(fs, pos, labels, cmp, res.labels, ref.labels) | backend.row(res, len(images))
    row["wall_seconds"] = round(time.time() - t0, 2)
    record_clean(runs.clean_rtl, fs, pos, np.asarray(res.labels))
    runs.rows.append(row)
    if runs.progress:
        print(f"{backend.tag}    mismatches {cmp.label_mismatches + cmp.logit_mismatches + cmp.missing}, "
              f"{backend.label} accuracy {pct(row['rtl_accuracy'])} (golden {pct(row['golden_accuracy'])}), "
              f"{backend.speed(row)}", flush=True)
    failure = backend.failure(fs, res, cmp, images, pos, row)
    if failure:
        runs.failures.append(failure)
    return row


def set_row(fs, pos: np.ndarray, labels: np.ndarray | None, cmp, got: np.ndarray, golden: np.ndarray) -> dict:
    """The report row fields every backend writes for one set (the backend adds its speed figures)."""
    row = {
        "set": fs.name, "kind": fs.kind, "frames": len(pos), "first_index": int(pos[0]) if len(pos) else 0,
        "split": fs.split, "sample": fs.sample, "per_class": class_counts(labels),
        "mismatches": {"labels": cmp.label_mismatches, "logits": cmp.logit_mismatches, "missing": cmp.missing},
        "rtl_accuracy": accuracy(got, labels), "golden_accuracy": accuracy(golden, labels),
    }
    if fs.provenance:
        row["attack"] = {k: fs.provenance.get(k) for k in ("attack", "eps", "mode", "source_run", "split")}
    return row


def record_clean(clean_rtl: dict[str, dict[int, int]], fs, pos: np.ndarray, got: np.ndarray) -> None:
    """Remember the class the hardware model gave each clean image of a split (for the adversarial sets'
    clean pairs)."""
    if fs.kind == "clean" and fs.split is not None and fs.indices is not None:
        known = clean_rtl.setdefault(fs.split, {})
        for k, index in enumerate(fs.indices[pos][: len(got)]):
            known[int(index)] = int(got[k])


@dataclass
class RtlBackend:
    """The build's RTL in Verilator: the bulk testbench on the shared compile `bulk_dir`."""

    build_dir: Path
    work: Path
    bulk_dir: Path
    design: object  # dqhw.rtlgen.generate.Design
    clock_ns: float
    engine: str = "cocotb"
    waves: bool = False
    tag: str = ""  # "[shard i/n] "
    live: bool = False  # a live frames/s line (not for shards: run_parallel rolls them up)
    name, what, label = "sim", "the RTL", "RTL"

    @property
    def has_class(self) -> bool:
        return self.design.label_width > 0

    def run(self, fs, images: np.ndarray):
        from dqhw.simsession.progress import FrameProgress
        from dqhw.simulate.runner import bulk_run

        frames_out = self.work / fs.name / "run" / "frames.out"
        watch = FrameProgress(lambda: [frames_out], len(images), f"    sim {fs.name}") if self.live else nullcontext()
        with watch:
            return bulk_run(self.build_dir / "rtl", self.work / fs.name, images, waves=self.waves,
                            build_dir=self.bulk_dir, engine=self.engine)

    def row(self, res, n: int) -> dict:
        ii = res.interval()
        return {"cycles_per_frame": ii, "latency_cycles": res.latency(),
                "fps_at_clock": (1e9 / self.clock_ns / ii) if ii else None,
                "expected_cycles_per_frame": self.design.expected_cycles_per_frame,
                "sim_cycles": res.cycles, "sim_seconds": round(res.wall_s, 3),
                "cycles_per_second": round(res.cycles_per_second), "deadlock": res.deadlock, "tlast_ok": res.tlast_ok}

    def speed(self, row: dict) -> str:
        return f"{row['cycles_per_frame']} cycles/frame, {row['cycles_per_second']} cycles/s"

    def failure(self, fs, res, cmp, images: np.ndarray, pos: np.ndarray, row: dict) -> str | None:
        from dqhw.simulate.runner import locate_and_describe

        if res.deadlock:
            return f"{fs.name}: deadlock (no stream moved for the watchdog period)"
        if not cmp.ok:
            where, message = locate_and_describe(self.build_dir, self.work / f"{fs.name}-locate", fs.name, cmp,
                                                 images, pos)
            row["first_mismatch"] = where
            return message
        if not res.tlast_ok:
            return f"{fs.name}: m_axis_logits tlast not on the last beat of each frame"
        return None


@dataclass
class HlsBackend:
    """The build's HLS C++ (BUILD/hls), C-simulated by the g++ executable `exe`."""

    exe: Path
    hls_dir: Path
    work: Path
    has_class: bool
    tag: str = ""
    name, what, label = "hls", "the C-simulation", "HLS"

    def run(self, fs, images: np.ndarray):
        from dqhw.simulate.hls_csim import run_csim

        return run_csim(self.exe, self.hls_dir, images, self.work / fs.name)

    def row(self, res, n: int) -> dict:
        return {"sim_seconds": round(res.wall_s, 3), "frames_per_second": round(n / max(res.wall_s, 1e-9), 1)}

    def speed(self, row: dict) -> str:
        return f"{row['frames_per_second']} frames/s"

    def failure(self, fs, res, cmp, images: np.ndarray, pos: np.ndarray, row: dict) -> str | None:
        if cmp.ok:
            return None
        first = dict(cmp.first or {})
        frame = int(pos[first["frame"]]) if first.get("frame", len(pos)) < len(pos) else first.get("frame")
        row["first_mismatch"] = first | {"frame": frame}
        return (f"{fs.name}: frame {frame}: {first.get('where')}: HLS C-sim {first.get('rtl')}, golden "
                f"{first.get('golden')}")
