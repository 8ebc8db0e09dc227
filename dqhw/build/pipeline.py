"""`dqhw build` orchestration: run the ordered steps into a temporary directory, verify, report, and
rename the directory into place only when everything succeeded (dqhw.io.atomic_dir).

DIR/
  model.qonnx.onnx          QONNX export (outputs: logits, label)
  intermediate/NN_step.onnx the model after every step (+ dataflow_parent.onnx: the host-side input
                            transpose around the accelerator partition)
  dataflow.onnx             the final folded dataflow graph (dqhw nodes + finn RTL nodes, DWCs, FIFOs)
  folding_config.json       the applied folding, finn's format (reusable with --folding and with finn)
  report/                   finn's estimate JSONs + summary.json + summary.md
  build.json                what was built: run, board, clock, steps with times, outputs
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
from dqhw.build.steps import STEPS, BuildContext
from dqhw.errors import DqhwError
from dqhw.io import atomic_dir, write_json

DEFAULT_TARGET_FPS = 10_000


@dataclass
class BuildOptions:
    run: str
    board: str = "pynq-z2"
    clock_ns: float | None = None
    target_fps: int | None = None
    folding: str | None = None
    out: str | None = None
    verify_frames: int = 64
    exec_frames: int = 8
    mvau_wwidth_max: int = 36
    seed: int = 0
    rtl: bool = True  # generate DIR/rtl (stitched Verilog, FIFOs sized by simulation), prove it, DIR/board
    sizing_frames: int = 6
    prove_frames: int = 16  # clean frames simulated through the finished RTL (+ up to 8 per adversarial set)


def default_out(run_path: Path, board: str) -> Path:
    return Path("builds") / f"{run_path.name}-{board}"


def _check_out(out: Path, run_path: Path) -> None:
    if out.resolve() == run_path.resolve() or run_path.resolve() in out.resolve().parents:
        raise DqhwError(f"--out {out} is inside the run directory; choose another folder")
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / "build.json").is_file()):
            raise DqhwError(f"--out {out} exists and is not a dqhw build directory; choose another folder")


def build(opts: BuildOptions, progress=None) -> Path:
    """Run the whole build; returns the build directory. Raises DqhwError (one line) on bad input."""
    from dqhw.runs import load_run

    t_start = time.time()
    board = get_board(opts.board)
    clock_ns = float(opts.clock_ns) if opts.clock_ns is not None else board.clock_ns
    if not clock_ns > 0:
        raise DqhwError(f"--clock-ns must be > 0, got {opts.clock_ns}")
    if opts.target_fps is not None and opts.folding is not None:
        raise DqhwError("give either --target-fps or --folding, not both")
    if opts.target_fps is not None and opts.target_fps < 1:
        raise DqhwError(f"--target-fps must be >= 1, got {opts.target_fps}")
    if opts.verify_frames < 1 or opts.exec_frames < 1:
        raise DqhwError("--verify-frames and --exec-frames must be >= 1")
    from dqhw.simulate.prove import MIN_FRAMES

    if opts.prove_frames < MIN_FRAMES:
        raise DqhwError(f"--prove-frames must be >= {MIN_FRAMES}, got {opts.prove_frames}")
    folding_file = Path(opts.folding) if opts.folding else None
    if folding_file is not None:
        from dqhw.build.folding import load_folding

        load_folding(folding_file)  # fail early on a bad file
    target_fps = opts.target_fps if (opts.target_fps or folding_file) else DEFAULT_TARGET_FPS
    run_path = Path(opts.run)
    if run_path.is_file():
        raise DqhwError(f"{run_path}: a run directory is expected (dqhw train --out DIR), not a file")
    run = load_run(run_path)
    from dqhw.build.export import check_run

    check_run(run)
    out = Path(opts.out) if opts.out else default_out(run_path, board.name)
    _check_out(out, run_path)

    finn_compat.prepare()
    with atomic_dir(out) as tmp:
        (tmp / "intermediate").mkdir()
        ctx = BuildContext(run=run, board=board, out=tmp, clock_ns=clock_ns,
                           target_fps=None if folding_file else target_fps, folding_file=folding_file,
                           mvau_wwidth_max=opts.mvau_wwidth_max)
        ctx.cfg = finn_compat.make_config(tmp, board.part, board.finn_board, clock_ns, ctx.target_fps,
                                          None, opts.mvau_wwidth_max)
        steps_done = []
        model = None
        for i, (name, fn) in enumerate(STEPS):
            t0 = time.time()
            if progress:
                progress(f"[{i:02d}] {name}")
            model = fn(model, ctx)
            rel = f"intermediate/{i:02d}_{name}.onnx"
            model.save(str(tmp / rel))
            steps_done.append({"step": name, "seconds": round(time.time() - t0, 3), "model": rel})
        model.save(str(tmp / "dataflow.onnx"))
        _tidy_finn_outputs(tmp)

        from dqhw.build import report, verify

        t0 = time.time()
        if progress:
            progress(f"[{len(STEPS):02d}] verify")
        verification = verify.verify_build(ctx, model, opts.verify_frames, opts.exec_frames, opts.seed)
        steps_done.append({"step": "verify", "seconds": round(time.time() - t0, 3), "model": None})
        verify.raise_on_mismatch(verification)  # no RTL from a golden model that an oracle contradicts
        t0 = time.time()
        summary = report.summarize(ctx, model, verification)
        steps_done.append({"step": "report", "seconds": round(time.time() - t0, 3), "model": None})
        build_info = {
            "dqhw_build": 1,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "run": str(run_path.resolve()),
            "run_name": run.name,
            "model_hash": run.model_hash(),
            "model": run.config.model,
            "bits": run.config.bits,
            "wbits": run.config.wbits,
            "act": run.config.act,
            "in_shape_hwc": list(run.in_shape),
            "num_classes": run.num_classes,
            "board": board.to_dict(),
            "clock_ns": clock_ns,
            "folding_source": (f"--folding {folding_file}" if folding_file else f"--target-fps {target_fps}"),
            "target_fps": ctx.target_fps,
            "versions": _versions(),
            "steps": steps_done,
            "seconds": round(time.time() - t_start, 2),
            "outputs": report.outputs_info(ctx, model),
            "warnings": ctx.warnings,
        }
        if opts.rtl:
            t0 = time.time()
            if progress:
                progress(f"[{len(STEPS) + 2:02d}] rtl (generate, FIFO sizing by simulation, board package)")
            build_info["rtl"] = _rtl_and_board(tmp, ctx, model, clock_ns, opts, progress)
            steps_done.append({"step": "rtl", "seconds": round(time.time() - t0, 3), "model": None})
            summary["rtl"] = build_info["rtl"]
            summary["rtl_proof"] = build_info["rtl"]["proof"]
            build_info["seconds"] = round(time.time() - t_start, 2)
        summary["build_seconds"] = build_info["seconds"]
        report.write(ctx, summary)
        write_json(tmp / "build.json", build_info)
    return out


def _rtl_and_board(tmp: Path, ctx, model, clock_ns: float, opts: BuildOptions, progress=None) -> dict:
    """DIR/rtl: the stitched accelerator with FIFOs sized by simulating a few test frames (each run's
    outputs checked against the golden model), sealed (rtl/manifest.json), then proven: the sealed
    RTL simulated on `prove_frames` clean frames plus up to 8 of each adversarial set, every logit and
    class compared with the golden model (dqhw.simulate.prove). DIR/board: the Vivado/PYNQ package,
    written only after the proof. Returns what build.json records about it."""
    from dqhw.board_package import write_board_package
    from dqhw.build.verify import adversarial_sets, clean_frames
    from dqhw.golden import GoldenModel
    from dqhw.rtlgen import fifo_sizing
    from dqhw.simulate.prove import prove_rtl

    board = ctx.board
    golden = GoldenModel(model)
    clean, _, _ = clean_frames(ctx.run, max(opts.prove_frames, opts.sizing_frames), opts.seed)
    sizing = clean[:opts.sizing_frames]
    work = tmp / "rtl-sizing"
    try:
        record = fifo_sizing.size_and_generate(tmp / "dataflow.onnx", tmp / "rtl", work, sizing, board.part, clock_ns,
                                               expected=golden.run(sizing))
        if progress:
            progress(f"[{len(STEPS) + 3:02d}] prove_rtl (the sealed RTL in Verilator vs the golden model)")
        sets = [("clean", clean[:opts.prove_frames])] + [(f"adv/{name}", images[:8])
                                                         for name, images, _ in adversarial_sets(ctx.run)]
        proof = prove_rtl(tmp, work / "sized", sets, golden)  # same work folder: the sized build is reused
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _, status = write_board_package(tmp, board)
    return {
        "dir": "rtl", "top": "dqhw_accel", "cycles_per_frame_measured": record["interval_sized"],
        "cycles_per_frame_estimated": record["expected_cycles_per_frame"],
        "latency_cycles": record["latency_cycles"], "fifo_depths": record["depths"],
        "fps_measured_at_clock": round(1e9 / clock_ns / record["interval_sized"], 2),
        "proof": proof, "board_package": "board", "bitstream": status,
    }


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
