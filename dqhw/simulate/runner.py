"""Run frames through the stitched RTL (Verilator, memory-fed bulk testbench) and judge them against
the golden model: every logit and every class, frame by frame. Also: FIFO sizing by simulation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dqhw import contract
from dqhw.errors import DqhwError
from dqhw.resources import hw_dir
from dqhw.rtlgen.generate import Design
from dqhw.simulate import testbench as tb
from dqhw.simulate.bulk_build import ENGINES, WATCHDOG_CYCLES, bulk_build_spec
from dqhw.simulate.verilator import run_cocotb


@dataclass
class BulkResult:
    labels: np.ndarray
    logits: np.ndarray
    cycles: int
    deadlock: bool
    peaks: dict[str, int]
    first_in: dict[int, int]
    last_out: dict[int, int]
    wall_s: float
    build_s: float
    frames_expected: int
    tlast_ok: bool = True
    log: str = ""

    @property
    def cycles_per_second(self) -> float:
        return self.cycles / self.wall_s if self.wall_s > 0 else 0.0

    def interval(self) -> int | None:
        """Steady-state cycles between frames (median of consecutive frame completions)."""
        ends = [self.last_out[k] for k in sorted(self.last_out)]
        if len(ends) < 3:
            return None
        return int(np.median(np.diff(ends[1:])))

    def latency(self) -> int | None:
        if 0 in self.first_in and 0 in self.last_out:
            return self.last_out[0] - self.first_in[0] + 1
        return None


def prebuild_bulk(rtl_dir: str | Path, build_dir: str | Path, waves: bool = False, engine: str = "cocotb") -> float:
    """Compile the bulk testbench into `build_dir` once, so that every set and every shard of a
    `dqhw sim` reuses it (bulk_run(..., build_dir=, engine=)). Returns the seconds spent (0: an
    identical build was there, e.g. the one the build's proof ran)."""
    from dqhw.simulate.verilator import build

    rtl_dir = Path(rtl_dir).resolve()
    design = Design.load(rtl_dir)
    sources, params, args = bulk_build_spec(rtl_dir, design, waves=waves)
    if engine == "cpp":
        from dqhw.simulate.cpp_harness import build_harness

        return build_harness(sources, params, args, Path(build_dir).resolve())[1]
    return build(sources, tb.TB_TOP, Path(build_dir).resolve(), params, args,
                 log_file=Path(build_dir).resolve().parent / f"{Path(build_dir).name}.build.log")


def bulk_run(rtl_dir: str | Path, work_dir: str | Path, images: np.ndarray, stall_in: int = 0,
             stall_out: int = 0, watchdog: int | None = None, waves: bool = False, x_mode: str = "fast",
             seed: int = 1, build_dir: str | Path | None = None,
             fifo_limits: dict[str, int] | None = None, engine: str = "cocotb") -> BulkResult:
    """Build (cached) and run tb_dqhw_accel on uint8 NHWC `images`; returns what came out.
    `watchdog` (cycles without a beat on any port before the run ends as a deadlock) defaults to
    max(WATCHDOG_CYCLES, 10 frame intervals): the ports legitimately stay quiet for about one
    latency (input absorbed by the FIFOs, first output not out yet), which grows with the design.
    `x_mode="random"`: uninitialised state randomised at start-up (seeded by `seed`), see
    dqhw.simulate.verilator.X_MODES.
    `build_dir`: a shared build (prebuild_bulk, the build's own) instead of one under work_dir.
    `fifo_limits`: {fifo name: capacity <= its compiled depth}: run the FIFO-sizing build (one compile
    under work_dir/build-limits, whatever the capacities) with these capacities.
    `engine`: "cocotb" (cocotb starts the clock and awaits `done`) or "cpp" (the same testbench, built
    with the same flags, clocked by a bare Verilator C++ main: dqhw.simulate.cpp_harness); both write
    the same output files, read here the same way."""
    if engine not in ENGINES:
        raise DqhwError(f"unknown simulation engine {engine!r} (one of: {', '.join(ENGINES)})")
    rtl_dir = Path(rtl_dir).resolve()
    work = Path(work_dir).resolve()
    design = Design.load(rtl_dir)
    if watchdog is None:
        watchdog = max(WATCHDOG_CYCLES, 10 * int(design.expected_cycles_per_frame))
    work.mkdir(parents=True, exist_ok=True)
    run_dir, _ = tb.prepare_bulk_run(rtl_dir, work, design, images)
    limits_dir = None
    if fifo_limits is not None:
        limits_dir = work / "tb-limits"
        fifos = [s for s in design.stages if s.kind == "fifo"]
        bad = [f.name for f in fifos if not 2 <= int(fifo_limits.get(f.name, f.fifo_depth)) <= f.fifo_depth]
        if bad:
            raise DqhwError(f"internal: FIFO limit of {bad[0]} outside 2..its compiled depth")
        if fifos:
            contract.write_memh(run_dir / "limits.memh", [int(fifo_limits.get(f.name, f.fifo_depth)) for f in fifos],
                                32)
    sources, params, build_args = bulk_build_spec(rtl_dir, design, watchdog, stall_in, stall_out, waves,
                                                  limits_dir=limits_dir)
    if build_dir is None:
        build_dir = work / ("build-limits" if limits_dir is not None else "build-waves" if waves
                            else "build" if x_mode == "fast" else f"build-x{x_mode}")
        if engine == "cpp":
            build_dir = build_dir.with_name(build_dir.name + "-cpp")
    if engine == "cpp":
        from dqhw.simulate.cpp_harness import harness_bulk_run

        if waves or x_mode != "fast":
            raise DqhwError("the cpp engine runs without waveforms and with fast X handling; use --engine cocotb")
        h = harness_bulk_run(sources, params, build_args, Path(build_dir), run_dir,
                             cap=(len(images) + 4) * max(int(design.expected_cycles_per_frame), 1) * 4
                             + watchdog + 100_000)
        return _read_bulk_outputs(design, run_dir, len(images), h.wall_s, h.build_s, str(h.log))
    result = run_cocotb(
        sources=sources, toplevel=tb.TB_TOP, test_module="test_accel_bulk", build_dir=build_dir,
        test_dir=run_dir, parameters=params, python_path=[hw_dir("sim")], build_args=build_args,
        extra_env={"DQHW_SIM_TIMING": str(run_dir / "timing.json")} | ({"WAVES": "1"} if waves else {}),
        x_mode=x_mode, seed=seed,
    )
    if result.readmem_errors:
        raise DqhwError(f"RTL simulation: {result.message}")
    if not result.passed and not (run_dir / "stats.out").is_file():
        tail = ""
        if result.log and Path(result.log).is_file():
            tail = " | ".join(Path(result.log).read_text(errors="replace").strip().splitlines()[-3:])
        raise DqhwError(f"RTL simulation failed: {result.message} {tail}".strip())
    timing = json.loads((run_dir / "timing.json").read_text()) if (run_dir / "timing.json").is_file() else {}
    return _read_bulk_outputs(design, run_dir, len(images), float(timing.get("wall_s", result.run_s)),
                              result.build_s, str(result.log))


def _read_bulk_outputs(design: Design, run_dir: Path, n_frames: int, wall_s: float, build_s: float,
                       log: str) -> BulkResult:
    """The files tb_dqhw_accel wrote (stats, frame times, labels, logits), whichever engine clocked it."""
    stats = tb.read_stats(run_dir)
    first_in, last_out = tb.read_frame_times(run_dir)
    label_beats = tb.read_hex_lines(run_dir / "labels.out")
    logits = tb.decode_logits(design, tb.read_hex_lines(run_dir / "logits.out"))
    tlast_ok = True
    frames_file = run_dir / "frames.out"
    if frames_file.is_file():
        tlast_ok = all(line.split()[3] == "1" for line in frames_file.read_text().splitlines()
                       if line.startswith("out "))
    return BulkResult(
        labels=np.asarray(label_beats, dtype=np.int64), logits=logits, cycles=int(stats.get("cycles", 0)),
        deadlock=bool(stats.get("deadlock", 0)), peaks=stats.get("peaks", {}), first_in=first_in,
        last_out=last_out, wall_s=wall_s, build_s=build_s,
        frames_expected=n_frames, tlast_ok=tlast_ok, log=log,
    )


@dataclass
class Comparison:
    frames: int
    label_mismatches: int
    logit_mismatches: int
    missing: int
    first: dict | None = None
    mismatched_frames: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.label_mismatches == 0 and self.logit_mismatches == 0 and self.missing == 0


def compare(golden_labels: np.ndarray, golden_logits: np.ndarray, rtl: BulkResult, has_labels: bool = True
            ) -> Comparison:
    n = len(golden_labels)
    got_logits = rtl.logits
    missing = max(0, n - len(got_logits)) + (max(0, n - len(rtl.labels)) if has_labels else 0)
    m = min(n, len(got_logits))
    logit_bad = [i for i in range(m) if not np.array_equal(got_logits[i], golden_logits[i])]
    label_bad = []
    if has_labels:
        k = min(n, len(rtl.labels))
        label_bad = [i for i in range(k) if int(rtl.labels[i]) != int(golden_labels[i])]
    first = None
    bad = sorted(set(logit_bad) | set(label_bad))
    if bad:
        i = bad[0]
        if i in logit_bad:
            j = int(np.flatnonzero(got_logits[i] != golden_logits[i])[0])
            first = {"frame": i, "where": f"logit {j}", "rtl": int(got_logits[i][j]),
                     "golden": int(golden_logits[i][j])}
        else:
            first = {"frame": i, "where": "class", "rtl": int(rtl.labels[i]), "golden": int(golden_labels[i])}
    elif missing:
        first = {"frame": min(len(got_logits), len(rtl.labels) if has_labels else n), "where": "missing output"}
    return Comparison(n, len(label_bad), len(logit_bad), missing, first, bad[:100])


def locate_and_describe(build_dir: Path, work: Path, set_name: str, cmp: Comparison, images: np.ndarray,
                        first_index: int | np.ndarray = 0) -> tuple[dict, str]:
    """For a failed comparison: re-simulate the first bad frame with every internal stream dumped
    (dqhw.simulate.streams) and return (where, one-line message). `first_index`: the index of
    images[0] in its set (shards), or the positions in the set of all of `images`, so the message names
    the frame in the whole set. One format for
    `dqhw sim` and for the build's own proof."""
    from dqhw.simulate.streams import first_differing_stage

    where = dict(cmp.first or {})
    local = int(where.get("frame", 0))
    positions = np.asarray(first_index)
    if positions.ndim == 0:
        where["frame"] = local + int(positions)
    elif local < len(positions):
        where["frame"] = int(positions[local])
    else:  # a missing output after the last frame given
        where["frame"] = (int(positions[-1]) + 1 if len(positions) else 0) + local - len(positions)
    if local < len(images):
        layer = first_differing_stage(build_dir, work, images[local])
        if layer:
            where["layer"] = layer
    msg = (f"{set_name}: {cmp.label_mismatches} class and {cmp.logit_mismatches} logit mismatches, "
           f"{cmp.missing} missing; first at frame {where['frame']}, {where.get('where')}: "
           f"RTL {where.get('rtl')} vs golden {where.get('golden')}"
           + (f" (first differing layer: {where['layer']['stage']})" if "layer" in where else ""))
    return where, msg


__all__ = ["BulkResult", "Comparison", "bulk_run", "compare", "locate_and_describe"]
