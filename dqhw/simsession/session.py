"""`make sim` / `dqhw sim BUILD`: the clean test split and every adversarial set of the run through
the stitched RTL, every frame's logits and class compared with the golden model. A design without a
class output (the host takes the class: a per-class scale/bias on the last layer) is judged on its
logits; its classes (accuracy) are contract.host_class of the RTL's logits.

Writes BUILD/sim/report.json and report.md (one file pair per shard with SHARD=i/n). Any mismatch
fails with the first differing frame, layer and value.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError
from dqhw.rtlgen.generate import Design
from dqhw.sampling import parse_shard, shard_slice
from dqhw.simsession.backends import HlsBackend, RtlBackend, SetRuns, run_set
from dqhw.simsession.report import write_report
from dqhw.simsession.shards import SHARED_BUILD_ENV
from dqhw.simulate.bulk_build import bulk_build_dir

MIN_FRAMES_PER_JOB = 100  # below this a shard process costs more (start-up, golden model) than it saves
# --engine auto: the bare C++ main (cpp) once a shard's bulk run is this many cycles (~8 min of cocotb at
# CNV W2A2's ~200 k cycles/s): there its ~17 % over cocotb (bench/bench_sim.py) repays its own compile
# (~1 min on CNV; the build's compile is cocotb's); shorter runs keep cocotb and the build's compile
AUTO_CPP_CYCLES = 100_000_000
ENGINE_CHOICES = ("auto", "cocotb", "cpp")


def choose_engine(engine: str, frames: int, cycles_per_frame: int, jobs: int, waves: bool = False) -> str:
    """The engine `--engine` stands for: itself, or for "auto" cpp when one shard simulates at least
    AUTO_CPP_CYCLES cycles (frames x the design's cycles per frame / shards) and cocotb otherwise
    (always with waveforms, which only the cocotb build traces)."""
    if engine not in ENGINE_CHOICES:
        raise DqhwError(f"--engine must be one of {', '.join(ENGINE_CHOICES)}, got {engine!r}")
    if engine != "auto":
        return engine
    if waves:
        return "cocotb"
    per_shard = frames * max(int(cycles_per_frame), 1) / max(jobs, 1)
    return "cpp" if per_shard >= AUTO_CPP_CYCLES else "cocotb"


@dataclass
class FrameSet:
    name: str
    images: np.ndarray
    labels: np.ndarray | None  # true labels (None: unknown)
    kind: str  # clean | adversarial
    provenance: dict | None = None
    split: str | None = None  # the data split the images (or their clean sources) come from
    indices: np.ndarray | None = None  # into that split, aligned with images
    sample: str = ""  # which images: dqhw.sampling.Sample.describe()
    total: int | None = None  # images in that split (shards cut the split's index range, see run_sim)


def latest_build(root: str | Path = ".") -> Path:
    """The most recently written build directory (one holding rtl/design.json) under runs/ or builds/."""
    candidates = []
    for base in ("runs", "builds"):
        for design in Path(root, base).glob("**/rtl/design.json"):
            candidates.append(design.parent.parent)
    if not candidates:
        raise DqhwError("no build found under runs/ or builds/; run `dqhw build RUN` or pass BUILD=DIR")
    return max(candidates, key=lambda p: (p / "rtl" / "design.json").stat().st_mtime)


REBUILD = "rebuild it with `dqhw build`"


def read_build_info(build_dir: Path) -> dict:
    """BUILD/build.json as a dict; a missing, truncated or foreign file is a one-line DqhwError."""
    path = Path(build_dir) / "build.json"
    if not path.is_file():
        raise DqhwError(f"{build_dir}: no build.json, not a dqhw build directory (run `dqhw build` first)")
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DqhwError(f"{path}: truncated or not JSON ({type(e).__name__}); {REBUILD}") from None
    if not isinstance(info, dict) or not isinstance(info.get("outputs", {}), dict):
        raise DqhwError(f"{path}: not a dqhw build record (expected a JSON object); {REBUILD}")
    src = info.get("source") or {"kind": "run", "path": info.get("run")}
    if not isinstance(src, dict) or not src.get("kind") or (src["kind"] == "run" and not src.get("path")):
        raise DqhwError(f"{path}: names no source (no `source` or `run`); {REBUILD}")
    return info


def check_build_dir(build_dir: Path, rtl: bool = True) -> None:
    """What `dqhw sim` reads from a build folder, checked before anything runs: build.json, the
    dataflow graph, and (rtl) rtl/design.json and every file it and rtl/manifest.json list. A damaged
    folder is one line naming the first missing or unreadable file (files that exist but differ from
    the sealed RTL are simulated and reported at the end, see run_sim)."""
    from dqhw.rtlgen.generate import MANIFEST

    build_dir = Path(build_dir)
    if not build_dir.is_dir():
        raise DqhwError(f"{build_dir}: no such build directory")
    read_build_info(build_dir)
    if not (build_dir / "dataflow.onnx").is_file():
        raise DqhwError(f"{build_dir}/dataflow.onnx is missing; {REBUILD}")
    if not rtl:
        return
    rtl_dir = build_dir / "rtl"
    if not (rtl_dir / "design.json").is_file():
        raise DqhwError(f"{build_dir}: no rtl/design.json (run `dqhw build` first)")
    try:
        design = Design.load(rtl_dir)
        names = set(design.files) | set(design.data_files)
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise DqhwError(f"{rtl_dir}/design.json: truncated or damaged ({type(e).__name__}); {REBUILD}") from None
    try:
        sealed = json.loads((rtl_dir / MANIFEST).read_text()) if (rtl_dir / MANIFEST).is_file() else {}
        names |= set(sealed) if isinstance(sealed, dict) else set()
    except (OSError, UnicodeDecodeError, ValueError):
        pass  # an unreadable manifest: run_sim reports the folder as not the sealed RTL
    missing = sorted(n for n in names if not (rtl_dir / n).is_file())
    if missing:
        raise DqhwError(f"{rtl_dir / missing[0]} is missing" + (f" (and {len(missing) - 1} more files)"
                                                                if len(missing) > 1 else "")
                        + f": not the RTL the build sealed and proved; {REBUILD}")


def collect_sets(build_dir: Path, split: str = "test", limit: int | None = None,
                 set_paths: list[str] | None = None, frames: str | None = None, seed: int = 0) -> list[FrameSet]:
    """The sets `dqhw sim` runs. `frames` (a frame file): that set alone. Otherwise, for a build of a
    dqhw run: the clean `split` of its data set and its adversarial sets (or `set_paths`); for a build
    of a model file: the frames the build was verified on (BUILD/frames/clean.npz) and `set_paths`.
    `limit` takes a seeded class-stratified sample of each set (dqhw.sampling), never the first N."""
    from dqhw.frames import load_frames
    from dqhw.sampling import Sample, check_limit, class_counts, sample_split, stratified_indices

    check_limit(limit)
    info = read_build_info(build_dir)
    src = info.get("source") or {"kind": "run", "path": info.get("run")}
    frame_shape = tuple(src.get("in_shape_hwc") or Design.load(build_dir / "rtl").in_shape)

    def frame_file_set(path: Path, name: str, kind: str) -> FrameSet:
        fs = load_frames(path, frame_shape)
        smp = sample_split(fs.labels, f"frame file {path.name}", limit, seed, total=len(fs.images))
        return FrameSet(name, fs.images[smp.indices], None if fs.labels is None else fs.labels[smp.indices], kind,
                        sample=smp.describe())

    if frames:
        return [frame_file_set(Path(frames), Path(frames).stem, "clean")]
    if src["kind"] == "run":
        from dqhw.advsets import load_set
        from dqhw.data import load_dataset
        from dqhw.runs import load_run

        run = load_run(src["path"])
        data = load_dataset(run.config.dataset, run.config.data_dir)
        x, y = data.split(split)
        smp = sample_split(y, split, limit, seed)
        sets = [FrameSet(f"clean-{split}", x[smp.indices], y[smp.indices], "clean", split=split,
                         indices=smp.indices, sample=smp.describe(), total=len(y))]
        paths = [Path(p) for p in set_paths] if set_paths else sorted((Path(src["path"]) / "adv").glob("*.npz"))
        for p in paths:
            s = load_set(p, run=run, check_source=False)
            pos = stratified_indices(s.labels, len(s) if limit is None else limit, seed)
            set_split = s.provenance["split"]
            total = len(data.split(set_split)[1])
            what = Sample(set_split, s.indices[pos], total, seed, class_counts(s.labels[pos])).describe()
            sets.append(FrameSet(p.stem, s.images[pos], s.labels[pos], "adversarial", s.provenance, split=set_split,
                                 indices=s.indices[pos], sample=f"crafted on the {what}", total=total))
        return sets
    sets = [frame_file_set(build_dir / info.get("frames", "frames/clean.npz"), "clean-build-frames", "clean")]
    for p in [Path(p) for p in set_paths or []]:
        sets.append(frame_file_set(p, p.stem, "adversarial"))
    return sets


def clean_sources(build_dir: Path, fs: FrameSet, missing: np.ndarray) -> FrameSet:
    """The clean images an adversarial set was crafted from (those at `missing` in its split), so its
    clean accuracy on the same images is measured on the RTL too."""
    from dqhw.data import load_dataset
    from dqhw.runs import load_run

    info = read_build_info(build_dir)
    src = info.get("source") or {"kind": "run", "path": info.get("run")}
    run = load_run(src["path"])
    x, y = load_dataset(run.config.dataset, run.config.data_dir).split(fs.split)
    return FrameSet(f"clean-{fs.split}-sources-of-{fs.name}", x[missing], y[missing], "clean", split=fs.split,
                    indices=missing, sample=f"{fs.split} split, the {len(missing)} clean images {fs.name} was "
                    "crafted from", total=len(y))


BACKENDS = ("verilator", "hls")


def run_sim(build_dir: str | Path, split: str = "test", limit: int | None = None, shard: str | None = None,
            waves: bool = False, set_paths: list[str] | None = None, progress: bool = True,
            frames: str | None = None, seed: int = 0, jobs: int = 1, backend: str = "verilator",
            engine: str = "auto") -> dict:
    """Simulate and compare; `jobs` > 1 (without `shard`) runs that many shards side by side and merges
    their reports into one (run_parallel). backend "hls": the build's HLS C++ C-simulated with g++
    instead (run_sim_hls). `engine` (verilator backend): what clocks the bulk testbench, "cocotb" or the
    bare C++ main "cpp" (runner.bulk_run); the protocol run is cocotb's either way."""
    from dqhw.golden import GoldenModel

    if backend not in BACKENDS:
        raise DqhwError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    build_dir = Path(build_dir)
    if backend == "hls":
        if shard or waves:
            raise DqhwError("--shard and --waves are for the verilator backend (the HLS C-sim runs every set in "
                            "one process)")
        check_build_dir(build_dir, rtl=False)
        return run_sim_hls(build_dir, split, limit, set_paths, progress, frames, seed)
    rtl_dir = build_dir / "rtl"
    check_build_dir(build_dir)
    if jobs < 1:
        raise DqhwError(f"--jobs must be >= 1, got {jobs}")
    if engine not in ENGINE_CHOICES:
        raise DqhwError(f"--engine must be one of {', '.join(ENGINE_CHOICES)}, got {engine!r}")
    if engine == "cpp" and waves:
        raise DqhwError("--waves needs --engine cocotb (the cpp engine is built without tracing)")
    design = Design.load(rtl_dir)
    info = read_build_info(build_dir)
    clock_ns = float(info.get("clock_ns", 10.0))
    idx, count = parse_shard(shard)
    sets = collect_sets(build_dir, split, limit, set_paths, frames, seed)
    n_frames = sum(len(fs.images) for fs in sets)
    if count == 1 and not waves:
        jobs = min(jobs, max(1, n_frames // MIN_FRAMES_PER_JOB))
    asked = engine
    engine = choose_engine(engine, n_frames // count, design.expected_cycles_per_frame,
                           jobs if count == 1 and not waves else 1, waves)
    if asked == "auto" and engine == "cpp" and progress:
        print(f"sim: engine cpp (--engine auto: ~{n_frames // count * design.expected_cycles_per_frame / 1e6:,.0f} M "
              "cycles, long enough for the bare C++ main to repay its compile; --engine cocotb keeps cocotb)",
              flush=True)
    if count == 1 and not waves:
        if jobs > 1:
            from dqhw.simsession.shards import run_parallel

            return run_parallel(build_dir, jobs, sets, split=split, limit=limit, set_paths=set_paths, frames=frames,
                                seed=seed, progress=progress, engine=engine)
    # each shard works in its own folder, so shards of one build can run side by side
    work = build_dir / "sim" / ("work" if count == 1 else f"work-shard{idx}of{count}")
    # one Verilator build for every set and every shard: the build's own (its proof ran on it) unless
    # the RTL changed since; waveforms need their own
    shared = os.environ.get(SHARED_BUILD_ENV)
    bulk_dir = work / "build-waves" if waves else Path(shared) if shared else bulk_build_dir(build_dir, engine)
    rtl = RtlBackend(build_dir, work, bulk_dir, design, clock_ns, engine, waves,
                     tag=f"[shard {idx}/{count}] " if count > 1 else "", live=progress and count == 1)
    runs = SetRuns(GoldenModel.from_build(build_dir), progress)
    rows, failures = runs.rows, runs.failures
    t_all = time.time()
    run_paired_sets(build_dir, sets, lambda fs, pos: run_set(fs, pos, rtl, runs), runs.clean_rtl, idx, count)
    # --- protocol run + throughput check (dqhw/simulate/protocol.py) ---------------------------------
    from dqhw.simulate.protocol import session_checks

    protocol = session_checks(build_dir, rows, sets, failures, work, progress=progress, shard=idx)
    # -------------------------------------------------------------------------------------------------
    from dqhw.rtlgen.generate import manifest_changes

    changed = manifest_changes(rtl_dir)
    if changed:  # simulated fine or not, this is not the RTL the build sized and proved
        failures.append(f"{rtl_dir / changed[0]} differs from the RTL the build sealed and proved (rtl/manifest.json)"
                        + (f", and {len(changed) - 1} more files" if len(changed) > 1 else ""))
    report = {
        "build": str(build_dir), "backend": "verilator", "engine": engine, "design_sha": design.graph_sha,
        "clock_ns": clock_ns,
        "shard": f"{idx}/{count}", "sets": rows, "protocol": protocol,
        "total_frames": sum(r["frames"] for r in rows),
        "total_mismatches": sum(sum(r["mismatches"].values()) for r in rows),
        "passed": not failures, "failures": failures, "seconds": round(time.time() - t_all, 1),
    }
    return write_report(build_dir, report, "" if count == 1 else f"-shard{idx}of{count}")


def run_paired_sets(build_dir: Path, sets: list[FrameSet], simulate, clean_rtl: dict[str, dict[int, int]],
                    idx: int = 0, count: int = 1) -> None:
    """simulate(fs, positions) for this shard's frames of every set; an adversarial set is preceded by
    the clean images it was crafted from that no clean set ran yet, and its row gets their accuracy
    (`clean_pair`). simulate fills clean_rtl (record_clean)."""

    def shard_positions(fs: FrameSet) -> np.ndarray:
        """This shard's frames of a set. Sets that know their images' indices into a split are cut by
        that index range (image k of the split goes to shard k * n // size), so an adversarial image
        and its clean source land in the same shard; others by position."""
        n = len(fs.images)
        if count == 1:
            return np.arange(n)
        if fs.indices is not None and fs.total:
            return np.flatnonzero(np.asarray(fs.indices) * count // fs.total == idx)
        return shard_slice(np.arange(n), (idx, count))

    for fs in sets:
        pos = shard_positions(fs)
        paired = fs.kind == "adversarial" and fs.split is not None and fs.indices is not None and fs.labels is not None
        if paired and len(pos):
            # the clean images this slice was crafted from, on the hardware model too (only those not run yet)
            want = fs.indices[pos]
            missing = np.array([i for i in want if int(i) not in clean_rtl.get(fs.split, {})], dtype=np.int64)
            if len(missing):
                extra = clean_sources(build_dir, fs, missing)
                simulate(extra, np.arange(len(missing)))
        row = simulate(fs, pos)
        if row is not None and paired:
            known = clean_rtl.get(fs.split, {})
            clean_ok = np.array([known.get(int(i), -1) for i in fs.indices[pos]]) == fs.labels[pos]
            row["clean_pair"] = {"split": fs.split, "frames": int(len(pos)),
                                 "rtl_accuracy": float(clean_ok.mean())}


def run_sim_hls(build_dir: Path, split: str = "test", limit: int | None = None, set_paths: list[str] | None = None,
                progress: bool = True, frames: str | None = None, seed: int = 0) -> dict:
    """`dqhw sim --backend hls`: the same sets as the Verilator run through the build's HLS C++ (BUILD/hls),
    compiled once with g++ (dqhw.simulate.hls_csim), every logit and class compared with the golden model.
    Writes BUILD/sim/report-hls.json and .md (backend "hls")."""
    import hashlib

    from dqhw.golden import GoldenModel
    from dqhw.simulate.hls_csim import compile_csim, load_description

    hls_dir = build_dir / "hls"
    info = load_description(hls_dir)
    dataflow = build_dir / "dataflow.onnx"
    sets = collect_sets(build_dir, split, limit, set_paths, frames, seed)
    golden = GoldenModel.from_build(build_dir)
    work = build_dir / "sim" / "hls-work"
    t_all = time.time()
    if progress:
        print("hls: compiling the C-simulation with g++ (cached per build) ...", flush=True)
    exe, compile_s = compile_csim(hls_dir, build_dir / "sim" / "hls-csim")
    backend = HlsBackend(exe, hls_dir, work, has_class=info["class_width"] > 0)
    runs = SetRuns(golden, progress)
    rows, failures = runs.rows, runs.failures
    run_paired_sets(build_dir, sets, lambda fs, pos: run_set(fs, pos, backend, runs), runs.clean_rtl)
    sha = hashlib.sha256(dataflow.read_bytes()).hexdigest()[:16] if dataflow.is_file() else None
    if sha != info["graph_sha"]:
        failures.append(f"{hls_dir} was generated from another dataflow.onnx than {dataflow} "
                        "(regenerate it: python -m dqhw.hlsgen BUILD)")
    report = {
        "build": str(build_dir), "backend": "hls", "design_sha": info["graph_sha"],
        "compile_seconds": round(compile_s, 1), "sets": rows,
        "total_frames": sum(r["frames"] for r in rows),
        "total_mismatches": sum(sum(r["mismatches"].values()) for r in rows),
        "frames_per_second": round(sum(r["frames"] for r in rows) / max(sum(r["sim_seconds"] for r in rows), 1e-9), 1),
        "passed": not failures, "failures": failures, "seconds": round(time.time() - t_all, 1),
    }
    return write_report(build_dir, report, "-hls")
