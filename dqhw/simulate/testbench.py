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
        limit_logic = f"""
    // FIFO sizing: capacities from LIMIT_FILE, set while the design is in reset
    reg [31:0] fifo_limit [0:{len(fifos) - 1}];
    initial $readmemh(LIMIT_FILE, fifo_limit);
    always @(posedge clk) begin
        if (rst_cnt == 8'd1) begin
{writes}
        end
    end
"""
    label_ports = ""
    label_logic = ""
    if has_label:
        label_ports = f"""
    wire [{design.label_width - 1}:0] lab_tdata;
    wire lab_tvalid, lab_tlast;
    wire lab_tready = !stall_out_l;"""
        label_logic = """
    always @(posedge clk) begin
        if (rst_n && lab_tvalid && lab_tready) begin
            $fwrite(fl, "%h\\n", lab_tdata);
            labels_got <= labels_got + 1;
        end
    end"""
    conn_label = (".m_axis_tdata(lab_tdata), .m_axis_tvalid(lab_tvalid), .m_axis_tready(lab_tready), "
                  ".m_axis_tlast(lab_tlast),") if has_label else ""
    moved_label = "(lab_tvalid && lab_tready) ||" if has_label else ""
    labels_done = "labels_got == N_FRAMES" if has_label else "1'b1"
    return f"""// tb_dqhw_accel: generated by dqhw.simulate.testbench; memory-fed bulk testbench for dqhw_accel.
`default_nettype none
/* verilator lint_off UNUSEDSIGNAL */
module {TB_TOP} #(
    parameter IN_FILE = "input.memh",
    parameter COUNT_FILE = "count.memh",
    parameter OUT_DIR = ".",
    parameter integer WATCHDOG = 200000,
    parameter integer STALL_IN = 0,
    parameter integer STALL_OUT = 0{limit_param}
) (
    input  wire clk /* verilator public_flat_rw */,
    output reg  done /* verilator public_flat_rw */
);
    localparam integer IN_W = {design.in_width};
    localparam integer LOG_W = {design.logits_width};
    localparam integer LOGIT_BEATS = {design.logits_beats_per_frame};
    localparam integer IN_BEATS = {design.in_beats_per_frame};

    // frames and beats come from COUNT_FILE at run time, the beats themselves are read from IN_FILE one
    // ahead of the handshake that takes them: one build serves every set, whatever its size
    reg [IN_W-1:0] in_beat = {{IN_W{{1'b0}}}};
    reg [IN_W-1:0] next_beat;
    integer fin, scanned;
    reg [31:0] counts [0:1];
    integer N_IN = 0;
    integer N_FRAMES = 0;
    reg [7:0] rst_cnt = 8'd0;
    reg rst_n = 1'b0;
    reg [63:0] cycle = 64'd0;
    reg [63:0] idle = 64'd0;
    reg deadlock = 1'b0;
    integer in_ptr = 0;
    integer labels_got = 0;
    integer frames_got = 0;
    integer logit_beat = 0;
    integer fl, fg, ff, fs;
    // LFSR for optional random stalls
    reg [15:0] lfsr = 16'hACE1;
    // STALL_x >= 256: withheld for good (a hang, for testing the watchdog)
    wire stall_in_l = (STALL_IN >= 256) || (lfsr[7:0] < STALL_IN[7:0]);
    wire stall_out_l = (STALL_OUT >= 256) || (lfsr[15:8] < STALL_OUT[7:0]);

    wire [IN_W-1:0] s_tdata = in_beat;
    wire s_tvalid = rst_n && (in_ptr < N_IN) && !stall_in_l && !done;
    wire s_tready;
    wire [LOG_W-1:0] log_tdata;
    wire log_tvalid, log_tlast;
    wire log_tready = !stall_out_l;{label_ports}

    dqhw_accel dut (
        .clk(clk), .rst_n(rst_n),
        .s_axis_tdata(s_tdata), .s_axis_tvalid(s_tvalid), .s_axis_tready(s_tready),
        {conn_label}
        .m_axis_logits_tdata(log_tdata), .m_axis_logits_tvalid(log_tvalid),
        .m_axis_logits_tready(log_tready), .m_axis_logits_tlast(log_tlast)
    );

    initial begin
        done = 1'b0;
        $readmemh(COUNT_FILE, counts);
        N_IN = counts[0];
        N_FRAMES = counts[1];
        fin = $fopen(IN_FILE, "r");
        if (N_IN > 0) begin
            scanned = $fscanf(fin, "%h\\n", next_beat);
            in_beat = next_beat;
        end
        fl = $fopen({{OUT_DIR, "/labels.out"}}, "w");
        fg = $fopen({{OUT_DIR, "/logits.out"}}, "w");
        ff = $fopen({{OUT_DIR, "/frames.out"}}, "w");
    end

    always @(posedge clk) begin
        cycle <= cycle + 64'd1;
        lfsr <= {{lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]}};
        if (rst_cnt != 8'd16) rst_cnt <= rst_cnt + 8'd1;
        rst_n <= (rst_cnt == 8'd16);
    end

{limit_logic}
    always @(posedge clk) begin
        if (s_tvalid && s_tready) begin
            if (in_ptr % IN_BEATS == 0) $fwrite(ff, "in %0d %0d\\n", in_ptr / IN_BEATS, cycle);
            in_ptr <= in_ptr + 1;
            if (in_ptr + 1 < N_IN) begin  // the next beat, read now, presented from the next cycle on
                scanned = $fscanf(fin, "%h\\n", next_beat);
                in_beat <= next_beat;
            end
        end
    end
{label_logic}
    always @(posedge clk) begin
        if (rst_n && log_tvalid && log_tready) begin
            $fwrite(fg, "%h\\n", log_tdata);
            if (logit_beat == LOGIT_BEATS - 1) begin
                logit_beat <= 0;
                frames_got <= frames_got + 1;
                $fwrite(ff, "out %0d %0d %0d\\n", frames_got, cycle, log_tlast);
                $fflush(ff);  // one line per frame, read live by dqhw.simulate.progress
            end else begin
                logit_beat <= logit_beat + 1;
            end
        end
    end

    // watchdog: nothing moved on any port for WATCHDOG cycles while frames are outstanding
    wire moved = (s_tvalid && s_tready) || {moved_label} (log_tvalid && log_tready);
    always @(posedge clk) begin
        if (!rst_n || moved) idle <= 64'd0;
        else idle <= idle + 64'd1;
    end

    always @(posedge clk) begin
        if (!done && rst_n && ((frames_got == N_FRAMES && {labels_done}) || idle > WATCHDOG)) begin
            deadlock <= (idle > WATCHDOG);
            done <= 1'b1;
            fs = $fopen({{OUT_DIR, "/stats.out"}}, "w");
            $fwrite(fs, "cycles %0d\\n", cycle);
            $fwrite(fs, "deadlock %0d\\n", (idle > WATCHDOG) ? 1 : 0);
            $fwrite(fs, "frames %0d\\n", frames_got);
{peak_lines}
            $fclose(fs);
            $fclose(fl);
            $fclose(fg);
            $fclose(ff);
            $fclose(fin);
        end
    end
endmodule
`default_nettype wire
"""


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
