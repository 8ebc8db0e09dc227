"""FIFO depths by simulation (`dqhw build`'s size_fifos step): model -> model with the depths (and
the FIFOs' storage styles) in its StreamingFIFO nodes, measured on a throw-away design in a work
folder; the build's generate_rtl step then writes the final RTL from that graph alone.

1. Generate the accelerator with generous FIFOs (each can hold a whole frame of its stream, capped)
   and compile it once with run-time FIFO capacities (dqhw_fifo's simulation-only DQHW_FIFO_LIMIT).
2. Run a few frames; every dqhw_fifo records its peak occupancy.
3. Trials on that same compile, no recompiles: capacity = max(2, peak); the interval between frames
   must not grow beyond TOLERANCE and the run must finish without the watchdog firing (no
   deadlock), else the FIFOs that ran full are doubled and the trial repeats.
4. Write the depths into the graph's StreamingFIFO nodes (then it describes the hardware), generate
   from the graph alone, compile and run the same frames again: the real design must confirm the
   trial (it normally does at once; a storage style's extra cycle of latency can make it grow again,
   with a recompile). That compile (WORK/sized/build) is the one the build's proof reuses: the
   generate_rtl step writes the same files from the same graph.
Every run's outputs (each logit and class) are compared with the golden model when `expected` is
given: a sizing run that computes wrong results fails at once. The record (peaks, depths, cycles per
frame before/after) is what generate_rtl writes as DIR/rtl/fifo_sizing.json before it seals the
folder (DIR/rtl/manifest.json: what was measured is what the proof and `dqhw sim` must simulate).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError, MismatchError
from dqhw.rtlgen.generate import Design, fifo_frame_beats, generate_rtl, write_manifest
from dqhw.simulate.runner import bulk_run, compare

GENEROUS_CAP = 4096
TOLERANCE = 0.02  # the sized design may be at most 2 % slower than the generous one


def _fifo_nodes(model) -> list:
    from dqhw.rtlgen.generate import custom_op_getter, stream_nodes

    custom_op_getter()  # registers dqhw's node types
    return [n for n in stream_nodes(model) if n.op_type.startswith("StreamingFIFO")]


def fifo_widths(model) -> dict[str, int]:
    """{fifo instance name: TDATA bits}, in the names generate_rtl uses."""
    from qonnx.custom_op.registry import getCustomOp

    return {f"fifo_{i}": int(getCustomOp(n).get_instream_width_padded()) for i, n in enumerate(_fifo_nodes(model))}


def write_fifo_depths(model, depths: dict[str, int], styles: dict[str, str] | None = None) -> None:
    """Write depths (keyed by dqhw_accel's instance names fifo_0, fifo_1, ... in stream order), and the
    storage styles when given (ram_style: auto / block / distributed), into the StreamingFIFO nodes of
    `model` (in place)."""
    from qonnx.custom_op.registry import getCustomOp

    fifos = _fifo_nodes(model)
    if len(fifos) != len(depths):
        raise DqhwError(f"FIFO sizing has {len(depths)} depths for {len(fifos)} FIFOs")
    for i, node in enumerate(fifos):
        inst = getCustomOp(node)
        inst.set_nodeattr("depth", int(depths[f"fifo_{i}"]))
        if styles is not None:
            inst.set_nodeattr("ram_style", styles.get(f"fifo_{i}", "auto"))


def size_and_generate(dataflow: Path, rtl_dir: Path, work_dir: Path, frames: np.ndarray, fpga_part: str,
                      clock_ns: float, **kw) -> dict:
    """size_fifos on the graph file `dataflow` (rewritten with the depths), then the final RTL in
    `rtl_dir`, sealed: the build's two steps in one call, for a graph built without RTL."""
    from dqhw.customop import load_dataflow

    model, record = size_fifos(load_dataflow(dataflow), work_dir, frames, fpga_part, clock_ns, **kw)
    model.save(str(dataflow))
    write_rtl(model, rtl_dir, fpga_part, clock_ns, record)
    return record


def write_rtl(model, rtl_dir: Path, fpga_part: str, clock_ns: float, record: dict) -> None:
    """The final RTL from the sized graph alone, the sizing record beside it, the folder sealed."""
    generate_rtl(model, rtl_dir, fpga_part, clock_ns)
    (Path(rtl_dir) / "fifo_sizing.json").write_text(json.dumps(record, indent=2) + "\n")
    write_manifest(rtl_dir)  # the seal: exactly the files the last sizing round measured


def size_fifos(model, work_dir: Path, frames: np.ndarray, fpga_part: str, clock_ns: float, max_rounds: int = 4,
               expected=None, storage=None):
    """(a copy of `model` with the sized depths and storage styles, the sizing record). The
    throw-away design is WORK/rtl. `expected`: the golden model's result on `frames` (a
    GoldenResult), checked after every run. `storage`: depths -> {fifo name: ram_style}, the FIFOs'
    storage for the budget (applied before every sized round, so the rounds measure the final hardware)."""
    import copy

    from qonnx.core.modelwrapper import ModelWrapper

    frames = np.asarray(frames)
    model = ModelWrapper(copy.deepcopy(model.model))
    rtl_dir = Path(work_dir) / "rtl"
    if len(frames) < 3:
        raise DqhwError("FIFO sizing needs at least 3 frames (steady-state interval)")
    check = _checker(expected, frames, rtl_dir)
    generous = {k: int(min(GENEROUS_CAP, max(2, v + 2))) for k, v in fifo_frame_beats(model).items()}
    generate_rtl(model, rtl_dir, fpga_part, clock_ns, generous)
    # One compile of the generous design with run-time FIFO capacities (DQHW_FIFO_LIMIT): the generous
    # run and every trial of smaller depths reuse it.
    limits_work = work_dir / "generous"
    ref = bulk_run(rtl_dir, limits_work, frames, fifo_limits=generous)
    check(ref, "generous FIFOs")
    if ref.deadlock or len(ref.logits) != len(frames):
        raise DqhwError(f"the accelerator did not finish {len(frames)} frames even with generous FIFOs "
                        f"(deadlock={ref.deadlock})")
    depths = {k: max(2, int(ref.peaks.get(k, 2))) for k in generous}
    rounds = _Rounds(ref, frames, generous, depths, check, max_rounds)
    trials = rounds.until_acceptable(lambda: bulk_run(rtl_dir, limits_work, frames, fifo_limits=depths), "trial",
                                     " (run-time depths)")

    # The real design (depths as parameters, storage styles for the budget): one compile, which the
    # build's proof and every later `dqhw sim` reuse (work_dir/sized/build). It normally confirms the
    # trial at once; a storage style's different latency can cost cycles, then depths grow with a recompile.
    styles = None

    def sized_run():
        nonlocal styles
        styles = storage(dict(depths)) if storage is not None else None
        write_fifo_depths(model, depths, styles)
        generate_rtl(model, rtl_dir, fpga_part, clock_ns)
        return bulk_run(rtl_dir, work_dir / "sized", frames)

    sized = rounds.until_acceptable(sized_run, "round")
    record = {
        "frames": int(len(frames)),
        "generous_depths": generous,
        "peaks": ref.peaks,
        "depths": depths,
        "storage": styles,
        "interval_generous": ref.interval(),
        "compile_s_generous": round(ref.build_s, 1),  # the one compile every trial reuses
        "compile_s": round(ref.build_s + sum(r["compile_s"] for r in trials + sized), 1),
        "interval_sized": sized[-1]["interval"],
        "latency_cycles": ref.latency(),
        "trials": trials,
        "rounds": sized,
        "expected_cycles_per_frame": Design.load(rtl_dir).expected_cycles_per_frame,
    }
    return model, record


def _checker(expected, frames: np.ndarray, rtl_dir: Path):
    """check(result, what): raise MismatchError when a sizing run disagrees with the golden model."""

    def check(res, what: str) -> None:
        if expected is None or res.deadlock:
            return
        cmp = compare(expected.labels, expected.logits, res, has_labels=Design.load(rtl_dir).label_width > 0)
        if not cmp.ok:
            f = cmp.first or {}
            raise MismatchError(f"FIFO sizing ({what}): the RTL disagrees with the golden model on "
                                f"{len(cmp.mismatched_frames)} of {len(frames)} frames; first at frame "
                                f"{f.get('frame')}, {f.get('where')}: RTL {f.get('rtl')} vs golden {f.get('golden')}")

    return check


class _Rounds:
    """Runs with `depths` (changed in place), doubling the FIFOs that ran full, until the interval is
    within TOLERANCE of the generous design's."""

    def __init__(self, ref, frames, generous: dict, depths: dict, check, max_rounds: int):
        self.ref_ii, self.n = ref.interval(), len(frames)
        self.generous, self.depths, self.check, self.max_rounds = generous, depths, check, max_rounds

    def acceptable(self, res) -> bool:
        ii = res.interval()
        return not res.deadlock and len(res.logits) == self.n and ii is not None and \
            ii <= self.ref_ii * (1 + TOLERANCE)

    def grow(self, res) -> None:
        # the FIFOs that ran full are the candidates: double them
        d = self.depths
        full = [k for k, v in d.items() if res.peaks.get(k, 0) >= v] or list(d)
        for k in full:
            d[k] = min(self.generous[k], d[k] * 2)

    def until_acceptable(self, run, what: str, note: str = "") -> list[dict]:
        log = []
        for r in range(self.max_rounds):
            res = run()
            self.check(res, f"{what} {r + 1}{note}")
            log.append({"depths": dict(self.depths), "interval": res.interval(), "deadlock": res.deadlock,
                        "compile_s": round(res.build_s, 1)})
            if self.acceptable(res):
                return log
            self.grow(res)
        raise DqhwError(f"FIFO sizing did not reach the generous design's interval ({self.ref_ii} cycles) "
                        f"in {self.max_rounds} {what}s")
