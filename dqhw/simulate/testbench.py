"""The memory-fed bulk testbench around `dqhw_accel` and the stream files it reads and writes.

Per-cycle Python drivers run a whole accelerator at ~50-100 k cycles/s; this testbench keeps the
frames in a Verilog memory ($readmemh), drives `s_axis` and takes `m_axis`/`m_axis_logits` itself,
and writes every output beat to a text file, so cocotb only starts the clock and awaits `done`
(the toolchain notes measured 0.6-2.3 M cycles/s that way). The same module, with the clock
toggled from C++, is the bare Verilator harness of bench/bench_sim.py.

Outputs (in the run directory): `labels.out`, `logits.out` (one hex beat per line), `frames.out`
(per frame: cycle of its first input beat and of its last logits beat), `stats.out` (cycles,
deadlock flag, every FIFO's peak occupancy).
A watchdog ends the run with `deadlock 1` when no beat moves on any port for WATCHDOG cycles while
frames are outstanding: a hang becomes a reported failure, never a hung test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dqhw import contract
from dqhw.errors import DqhwError
from dqhw.rtlgen.generate import Design
from dqhw.templates import render

TEMPLATES = Path(__file__).parent / "templates"

TB_TOP = "tb_dqhw_accel"


def input_beats(design: Design, images: np.ndarray) -> list[int]:
    """uint8 NHWC frames -> s_axis beats (contract packing: NHWC order, `in_elems_per_beat` per beat)."""
    from dqhw.frames import as_stream_shape

    x = as_stream_shape(np.asarray(images, dtype=np.uint8), design.in_shape)
    if x is None:
        raise ValueError(f"frames of shape {np.asarray(images).shape[1:]}, the accelerator takes {design.in_shape}")
    return contract.pack_beats(x.reshape(-1), design.in_elem_bits, design.in_elems_per_beat)


def expected_label_beats(labels: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(labels).reshape(-1)]


def decode_logits(design: Design, beats: list[int]) -> np.ndarray:
    """m_axis_logits beats -> (frames, num_classes) int64 (signed accumulators)."""
    vals = contract.unpack_beats(beats, design.logits_elem_bits, design.logits_per_beat, signed=True)
    per_frame = design.logits_beats_per_frame * design.logits_per_beat
    n = len(vals) // per_frame
    return vals[: n * per_frame].reshape(n, per_frame)


def logits_beats(design: Design, logits: np.ndarray) -> list[int]:
    return contract.pack_beats(np.asarray(logits).reshape(-1), design.logits_elem_bits, design.logits_per_beat)


def write_input_file(path: Path, design: Design, images: np.ndarray) -> int:
    beats = input_beats(design, images)
    contract.write_memh(path, beats, design.in_width)
    return len(beats)


def fresh_run_dir(rtl_dir: Path, work: Path) -> Path:
    """An empty WORK/run holding every memory file the design reads ($readmemh opens them relative
    to the simulation's working directory). A missing one is an error naming the file: Verilator
    would only warn and simulate with zeros."""
    import shutil

    design = Design.load(rtl_dir)
    missing = [f for f in design.data_files if not (Path(rtl_dir) / f).is_file()]
    if missing:
        raise DqhwError(f"{Path(rtl_dir) / missing[0]}: memory file missing (the RTL reads it with $readmemh)"
                        + (f", and {len(missing) - 1} more" if len(missing) > 1 else "") + "; rebuild with dqhw build")
    run_dir = Path(work) / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    for name in design.data_files:
        shutil.copy(Path(rtl_dir) / name, run_dir / name)
    return run_dir


def prepare_bulk_run(rtl_dir: Path, work: Path, design: Design, images: np.ndarray) -> tuple[Path, int]:
    """fresh_run_dir + the frames (input.memh) and their count (count.memh); returns (run dir, input beats)."""
    run_dir = fresh_run_dir(rtl_dir, work)
    n_in = write_input_file(run_dir / "input.memh", design, images)
    write_count_file(run_dir / "count.memh", n_in, len(images))
    return run_dir, n_in


def read_hex_lines(path: Path) -> list[int]:
    """One hex beat per line. Verilator is two-state, so an x/z digit cannot occur: a line that does
    not parse is an error, never skipped."""
    if not path.is_file():
        return []
    try:
        return [int(line, 16) for line in path.read_text().split() if line]
    except ValueError as e:
        raise DqhwError(f"{path}: unreadable output beat ({e})") from None


def write_count_file(path: Path, n_in: int, n_frames: int) -> None:
    contract.write_memh(path, [n_in, n_frames], 32)


def testbench_verilog(design: Design, fifo_limits: bool = False) -> str:
    """tb_dqhw_accel: parameters IN_FILE (input beats, read as they are consumed: no size is compiled in,
    so one build serves every set), COUNT_FILE (input beats, frames), WATCHDOG, STALL_IN/STALL_OUT
    (0..255: probability x 256 of withholding valid / ready in a cycle, from an LFSR; 256 or more:
    withheld for ever, a hang the watchdog must report), OUT_DIR.
    `fifo_limits`: the FIFO-sizing variant (compiled with DQHW_FIFO_LIMIT): LIMIT_FILE holds one
    capacity per FIFO (stream order), loaded into each dqhw_fifo's `limit` during reset, so one
    compile tries any depths up to the compiled ones."""
    fifos = [s for s in design.stages if s.kind == "fifo"]
    has_label = design.label_width > 0
    peak_lines = "\n".join(f'            $fwrite(fs, "peak {f.name} %0d\\n", dut.{f.name}.peak);' for f in fifos)
    limit_param = limit_logic = ""
    if fifo_limits and fifos:
        limit_param = ',\n    parameter LIMIT_FILE = "limits.memh"'
        # dqhw_fifo's `limit` is $clog2(DEPTH + 1) bits wide
        writes = "\n".join(f"            dut.{f.name}.limit <= fifo_limit[{i}][{int(f.fifo_depth).bit_length() - 1}:0];"
                           for i, f in enumerate(fifos))
        limit_logic = render(TEMPLATES / "tb_fifo_limits.v.in", last_fifo=len(fifos) - 1, writes=writes)
    label_ports = render(TEMPLATES / "tb_label_ports.v.in", label_msb=design.label_width - 1) if has_label else ""
    label_logic = render(TEMPLATES / "tb_label_logic.v.in") if has_label else ""
    conn_label = (".m_axis_tdata(lab_tdata), .m_axis_tvalid(lab_tvalid), .m_axis_tready(lab_tready), "
                  ".m_axis_tlast(lab_tlast),") if has_label else ""
    return render(TEMPLATES / "tb_dqhw_accel.v.in", tb_top=TB_TOP, limit_param=limit_param, in_width=design.in_width,
                  logits_width=design.logits_width, logits_beats=design.logits_beats_per_frame,
                  in_beats=design.in_beats_per_frame, label_ports=label_ports, conn_label=conn_label,
                  limit_logic=limit_logic, label_logic=label_logic,
                  moved_label="(lab_tvalid && lab_tready) ||" if has_label else "",
                  labels_done="labels_got == N_FRAMES" if has_label else "1'b1", peak_lines=peak_lines)



def read_stats(run_dir: Path) -> dict:
    stats: dict = {"peaks": {}}
    path = run_dir / "stats.out"
    if not path.is_file():
        return stats
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts[0] == "peak":
            stats["peaks"][parts[1]] = int(parts[2])
        else:
            stats[parts[0]] = int(parts[1])
    return stats


def read_frame_times(run_dir: Path) -> tuple[dict[int, int], dict[int, int]]:
    """frame -> cycle of its first input beat, frame -> cycle of its last logits beat."""
    first_in: dict[int, int] = {}
    last_out: dict[int, int] = {}
    path = run_dir / "frames.out"
    if path.is_file():
        for line in path.read_text().splitlines():
            parts = line.split()
            if parts[0] == "in":
                first_in[int(parts[1])] = int(parts[2])
            elif parts[0] == "out":
                last_out[int(parts[1])] = int(parts[2])
    return first_in, last_out
