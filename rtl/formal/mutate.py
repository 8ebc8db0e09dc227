"""Mutation check of dqhw's formal properties: every known-bad edit must make a check fail.

    python rtl/formal/mutate.py              every mutant (exit 1 if one survives)
    python rtl/formal/mutate.py fifo_pop_no_ready
    python rtl/formal/mutate.py --list

Each mutant is one textual edit of one rtl/*.v file, applied to a temporary copy (run.stage), and a
bounded task (`bmc_*`) that must end in FAIL: a concrete counterexample trace within the task's
depth, not an inconclusive induction (the `prv_*` task of the same parameters proves the unmutated
module, so the counterexample is the edit's). Kinds: `tready` (a transfer or a drop while TREADY is
low for one cycle, TVALID withdrawn or TDATA changed while stalled), `frame` (a frame boundary
moved or dropped: dqhw streams have no TLAST, so the beat counter that takes its role), `counter`
(an off-by-one in a counter or a limit), `reset` (state not cleared by reset), `data` (an
arithmetic or data-path error). A mutant that survives means a property cannot fail there. A run
of every mutant ends with the assertions no counterexample violated first (`unshown`).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path


def _sibling(name: str):
    """rtl/formal/<name>.py, loaded once under the module name dqhw_formal_<name>."""
    key = f"dqhw_formal_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).resolve().with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


run = _sibling("run")


@dataclass(frozen=True)
class Mutant:
    name: str
    kind: str  # tready, frame, counter, reset, data
    file: str  # rtl/<file>
    old: str
    new: str
    task: str  # module:task that must FAIL


MUTANTS: tuple[Mutant, ...] = (
    # dqhw_fifo
    Mutant("fifo_pop_no_ready", "tready", "dqhw_fifo.v",
           "assign pop = m_axis_tvalid && m_axis_tready;",
           "assign pop = m_axis_tvalid && (m_axis_tready || mem_cnt == MEM_FULL);",
           "dqhw_fifo:bmc_lut4"),
    Mutant("fifo_bram_drop_unready", "tready", "dqhw_fifo.v",
           "else if (m_axis_tready) out_v <= 1'b0;",
           "else if (m_axis_tready || mem_cnt == MEM_FULL) out_v <= 1'b0;",
           "dqhw_fifo:bmc_bram5"),
    Mutant("fifo_full_off_by_one", "counter", "dqhw_fifo.v",
           "assign s_axis_tready = (mem_cnt != MEM_FULL);",
           "assign s_axis_tready = (mem_cnt != MEM_FULL + 1'b1);",
           "dqhw_fifo:bmc_lut4"),
    Mutant("fifo_rptr_wrap_early", "counter", "dqhw_fifo.v",
           "if (pop) rptr <= (rptr == LAST_ADDR)",
           "if (pop) rptr <= (rptr == LAST_ADDR - 1'b1)",
           "dqhw_fifo:bmc_bram5"),
    Mutant("fifo_peak_late", "counter", "dqhw_fifo.v",
           "if (occupancy_next > peak) peak <= occupancy_next;",
           "if (occupancy_next > peak + 1'b1) peak <= occupancy_next;",
           "dqhw_fifo:bmc_lut4"),
    Mutant("fifo_read_wrong_entry", "data", "dqhw_fifo.v",
           "assign m_axis_tdata = mem[rptr];",
           "assign m_axis_tdata = mem[(rptr == wptr) ? rptr : wptr];",
           "dqhw_fifo:bmc_lut4"),
    Mutant("fifo_bram_load_wrong_entry", "data", "dqhw_fifo.v",
           "if (load) out_q <= mem[rptr];",
           "if (load) out_q <= mem[wptr];",
           "dqhw_fifo:bmc_bram5"),
    # dqhw_stream_fork
    Mutant("fork_take_no_ready", "tready", "dqhw_stream_fork.v",
           "wire take0 = m0_axis_tvalid && m0_axis_tready;",
           "wire take0 = m0_axis_tvalid && (m0_axis_tready || done1);",
           "dqhw_stream_fork:bmc_w4"),
    Mutant("fork_duplicate_beat", "counter", "dqhw_stream_fork.v",
           "assign m1_axis_tvalid = s_axis_tvalid && !done1;",
           "assign m1_axis_tvalid = s_axis_tvalid;",
           "dqhw_stream_fork:bmc_w4"),
    Mutant("fork_ready_ignores_done", "tready", "dqhw_stream_fork.v",
           "(done1 || m1_axis_tready);",
           "m1_axis_tready;",
           "dqhw_stream_fork:bmc_w4"),
    Mutant("fork_done_kept", "frame", "dqhw_stream_fork.v",
           "end else if (s_axis_tvalid && s_axis_tready) begin\n            done0 <= 1'b0;",
           "end else if (s_axis_tvalid && s_axis_tready) begin\n            done0 <= take0;",
           "dqhw_stream_fork:bmc_w4"),
    Mutant("fork_valid_withdrawn", "tready", "dqhw_stream_fork.v",
           "assign m0_axis_tvalid = s_axis_tvalid && !done0;",
           "assign m0_axis_tvalid = s_axis_tvalid && !done0 && !(done1 && !m0_axis_tready);",
           "dqhw_stream_fork:bmc_w4"),
    # dqhw_maxpool
    Mutant("maxpool_drop_unready", "tready", "dqhw_maxpool.v",
           "else if (m_axis_tready) out_v <= 1'b0;",
           "else if (m_axis_tready || kcnt == 1) out_v <= 1'b0;",
           "dqhw_maxpool:bmc_u2k4"),
    Mutant("maxpool_overwrite_unread", "tready", "dqhw_maxpool.v",
           "assign s_axis_tready = !win_last || !out_v || m_axis_tready;",
           "assign s_axis_tready = !win_last || !out_v || m_axis_tready || s_axis_tdata[0];",
           "dqhw_maxpool:bmc_s2k3"),
    Mutant("maxpool_window_short", "frame", "dqhw_maxpool.v",
           "wire          win_last = (kcnt == KLAST);",
           "wire          win_last = (kcnt == KLAST - 1'b1);",
           "dqhw_maxpool:bmc_u2k4"),
    Mutant("maxpool_valid_after_reset", "reset", "dqhw_maxpool.v",
           "            kcnt <= {KW{1'b0}};\n            out_v <= 1'b0;",
           "            kcnt <= {KW{1'b0}};\n            out_v <= 1'b1;",
           "dqhw_maxpool:bmc_u2k4"),
    Mutant("maxpool_data_moves_stalled", "tready", "dqhw_maxpool.v",
           "if (take && win_last) out_q <= new_max;",
           "if (take) out_q <= new_max;",
           "dqhw_maxpool:bmc_u2k4"),
    Mutant("maxpool_signed_as_unsigned", "data", "dqhw_maxpool.v",
           "assign b_gt_a = $signed(b) > $signed(a);",
           "assign b_gt_a = b > a;",
           "dqhw_maxpool:bmc_s2k3"),
    Mutant("maxpool_max_across_windows", "data", "dqhw_maxpool.v",
           "(win_first || b_gt_a) ? b : a;",
           "(b_gt_a) ? b : a;",
           "dqhw_maxpool:bmc_u2k4"),
    # dqhw_add
    Mutant("add_overwrite_unread", "tready", "dqhw_add.v",
           "wire room = !out_v || m_axis_tready;",
           "wire room = !out_v || m_axis_tready || s0_axis_tdata[0];",
           "dqhw_add:bmc_u2"),
    Mutant("add_drop_unready", "tready", "dqhw_add.v",
           "end else if (m_axis_tready) begin",
           "end else if (m_axis_tready || !s1_axis_tvalid) begin",
           "dqhw_add:bmc_u2"),
    Mutant("add_no_join", "counter", "dqhw_add.v",
           "assign s0_axis_tready = s1_axis_tvalid && room;",
           "assign s0_axis_tready = room;",
           "dqhw_add:bmc_u2"),
    Mutant("add_weight_shift", "data", "dqhw_add.v",
           "wire [OUT_BITS-1:0] tb = WB_I[k] ? (b_ext << k)",
           "wire [OUT_BITS-1:0] tb = WB_I[k] ? (b_ext << (k + 1))",
           "dqhw_add:bmc_u2"),
    Mutant("add_zero_extend_signed", "data", "dqhw_add.v",
           "{{(OUT_BITS-A_BITS){A_SIGNED == 1 ? a[A_BITS-1] : 1'b0}}, a}",
           "{{(OUT_BITS-A_BITS){1'b0}}, a}",
           "dqhw_add:bmc_s4"),
    Mutant("add_pad_bits_set", "data", "dqhw_add.v",
           "assign m_axis_tdata = {{(OW-LW){1'b0}}, out_q};",
           "assign m_axis_tdata = {{(OW-LW){1'b1}}, out_q};",
           "dqhw_add:bmc_u2"),
    # dqhw_global_acc_pool
    Mutant("gap_drop_unready", "tready", "dqhw_global_acc_pool.v",
           "else if (m_axis_tready) out_v <= 1'b0;",
           "else if (m_axis_tready || fold == 0) out_v <= 1'b0;",
           "dqhw_global_acc_pool:bmc_c4"),
    Mutant("gap_overwrite_unread", "tready", "dqhw_global_acc_pool.v",
           "assign s_axis_tready = !last_pix || !out_v || m_axis_tready;",
           "assign s_axis_tready = !last_pix || !out_v || m_axis_tready || s_axis_tdata[0];",
           "dqhw_global_acc_pool:bmc_c4"),
    Mutant("gap_frame_short", "frame", "dqhw_global_acc_pool.v",
           "wire          last_pix = (pix == PLAST);",
           "wire          last_pix = (pix == PLAST - 1'b1);",
           "dqhw_global_acc_pool:bmc_c4"),
    Mutant("gap_fold_skips", "counter", "dqhw_global_acc_pool.v",
           "fold <= fold + 1'b1;",
           "fold <= fold + 1'b1 + (pix == 1);",
           "dqhw_global_acc_pool:bmc_c4"),
    Mutant("gap_sum_not_cleared", "data", "dqhw_global_acc_pool.v",
           "first_pix ? {OUT_BITS{1'b0}} : prev[p*OUT_BITS +: OUT_BITS]",
           "prev[p*OUT_BITS +: OUT_BITS]",
           "dqhw_global_acc_pool:bmc_c4"),
    Mutant("gap_output_lsb_flipped", "data", "dqhw_global_acc_pool.v",
           "if (take && last_pix) out_q <= sums;",
           "if (take && last_pix) out_q <= sums ^ {{(LW-1){1'b0}}, fold == 0};",
           "dqhw_global_acc_pool:bmc_c4"),
    # dqhw_label_select
    Mutant("ls_pop_no_ready", "tready", "dqhw_label_select.v",
           "assign pop = m_axis_tvalid && m_axis_tready;",
           "assign pop = m_axis_tvalid && (m_axis_tready || s_axis_tvalid);",
           "dqhw_label_select:bmc_l2p1"),
    Mutant("ls_queue_overflow", "counter", "dqhw_label_select.v",
           "assign s_axis_tready = !frame_last || (pending != QFULL);",
           "assign s_axis_tready = !frame_last || (pending != QFULL + 1'b1);",
           "dqhw_label_select:bmc_l2p1"),
    Mutant("ls_frame_short", "frame", "dqhw_label_select.v",
           "wire frame_last = (bcnt == BLAST);",
           "wire frame_last = (bcnt == BLAST - 1'b1);",
           "dqhw_label_select:bmc_l3p1"),
    Mutant("ls_lane_tie_to_higher", "data", "dqhw_label_select.v",
           "tv[2*n+2] > tv[2*n+1]",
           "tv[2*n+2] >= tv[2*n+1]",
           "dqhw_label_select:bmc_l4p2"),
    Mutant("ls_beat_tie_to_later", "data", "dqhw_label_select.v",
           "beat_wins = rfirst || (tv[0] > best_v);",
           "beat_wins = rfirst || (tv[0] >= best_v);",
           "dqhw_label_select:bmc_l2p1"),
    Mutant("ls_unsigned_best", "data", "dqhw_label_select.v",
           "reg  signed [ACC_BITS-1:0] best_v;",
           "reg         [ACC_BITS-1:0] best_v;",
           "dqhw_label_select:bmc_l2p1"),
    Mutant("ls_queue_read_wrong_entry", "data", "dqhw_label_select.v",
           "assign m_axis_tdata = {{(ODW-OUT_BITS){1'b0}}, q[qr]};",
           "assign m_axis_tdata = {{(ODW-OUT_BITS){1'b0}}, q[qr ^ 1'b1]};",
           "dqhw_label_select:bmc_l2p1"),
    # dqhw_mvau
    Mutant("mvau_pop_no_ready", "tready", "dqhw_mvau.v",
           "assign pop = m_axis_tvalid && m_axis_tready;",
           "assign pop = m_axis_tvalid && (m_axis_tready || s_axis_tvalid);",
           "dqhw_mvau:bmc_s2"),
    Mutant("mvau_ready_in_replay", "tready", "dqhw_mvau.v",
           "assign s_axis_tready = nf_first && step_ok;",
           "assign s_axis_tready = step_ok;",
           "dqhw_mvau:bmc_s2"),
    Mutant("mvau_queue_overflow", "counter", "dqhw_mvau.v",
           "wire step_ok = !sf_last || (pending != QFULL);",
           "wire step_ok = !sf_last || (pending != QFULL + 1'b1);",
           "dqhw_mvau:bmc_sf1"),
    Mutant("mvau_vector_short", "frame", "dqhw_mvau.v",
           "wire nf_last = (nf == NF_LAST);",
           "wire nf_last = (nf == NF_LAST - 1'b1);",
           "dqhw_mvau:bmc_s2"),
    Mutant("mvau_threshold_strict", "data", "dqhw_mvau.v",
           "cmp_q[p*NT+n] <= (t <= a);",
           "cmp_q[p*NT+n] <= (t < a);",
           "dqhw_mvau:bmc_s2"),
    Mutant("mvau_acc_not_cleared", "data", "dqhw_mvau.v",
           "(first_root ? {ACC_BITS{1'b0}} : acc[p*ACC_BITS +: ACC_BITS])",
           "acc[p*ACC_BITS +: ACC_BITS]",
           "dqhw_mvau:bmc_raw"),
    Mutant("mvau_replay_stale", "data", "dqhw_mvau.v",
           "if (fire && nf_first) ibuf[sf] <= in_payload;",
           "if (fire && nf_first && sf == 0) ibuf[sf] <= in_payload;",
           "dqhw_mvau:bmc_s2"),
    Mutant("mvau_queue_read_wrong_entry", "data", "dqhw_mvau.v",
           "assign m_axis_tdata = {{(OUT_DW-OUT_LW){1'b0}}, q[qr]};",
           "assign m_axis_tdata = {{(OUT_DW-OUT_LW){1'b0}}, q[qr ^ 1'b1]};",
           "dqhw_mvau:bmc_s2"),
    # dqhw_uart_axis
    Mutant("uart_take_while_busy", "tready", "dqhw_uart_axis.v",
           "assign s_axis_tready = !t_busy;",
           "assign s_axis_tready = !t_busy || t_count == 1;",
           "dqhw_uart_axis:bmc_c4"),
    Mutant("uart_drop_unread_beat", "tready", "dqhw_uart_axis.v",
           "wire out_take = out_valid && m_axis_tready;",
           "wire out_take = out_valid && (m_axis_tready || !rx);",
           "dqhw_uart_axis:bmc_c4i1"),
    Mutant("uart_tx_no_stop_bit", "frame", "dqhw_uart_axis.v",
           "wire t_next = t_bit_end && (t_bit == 4'd9)",
           "wire t_next = t_bit_end && (t_bit == 4'd8)",
           "dqhw_uart_axis:bmc_c4"),
    Mutant("uart_tx_bit_early", "frame", "dqhw_uart_axis.v",
           "t_line <= t_frame[t_bit + 1'b1];",
           "t_line <= t_frame[t_bit];",
           "dqhw_uart_axis:bmc_c4"),
    Mutant("uart_bit_short", "counter", "dqhw_uart_axis.v",
           "localparam integer FULL_I = CLKS_PER_BIT - 1;",
           "localparam integer FULL_I = CLKS_PER_BIT - 2;",
           "dqhw_uart_axis:bmc_c4"),
    Mutant("uart_tx_bytes_swapped", "data", "dqhw_uart_axis.v",
           "t_frame <= {1'b1, s_axis_tdata[7:0], 1'b0};",
           "t_frame <= {1'b1, s_axis_tdata[15:8], 1'b0};",
           "dqhw_uart_axis:bmc_c4"),
    Mutant("uart_rx_bytes_reversed", "data", "dqhw_uart_axis.v",
           "assign asm_next = {r_shift, asm_data[8*IN_BYTES-1:8]};",
           "assign asm_next = {asm_data[8*IN_BYTES-9:0], r_shift};",
           "dqhw_uart_axis:bmc_c4"),
    # dqhw_frame
    Mutant("frame_take_while_queue_full", "tready", "dqhw_frame.v",
           "assign s_byte_tready = rst_n && !r_pad && room && !q_full;",
           "assign s_byte_tready = rst_n && !r_pad && room;",
           "dqhw_frame:bmc_f2"),
    Mutant("frame_result_taken_while_held", "tready", "dqhw_frame.v",
           "assign s_axis_tready = (t_state == T_DATA) && !t_have;",
           "assign s_axis_tready = (t_state == T_DATA);",
           "dqhw_frame:bmc_f4i2"),
    Mutant("frame_short_not_padded", "frame", "dqhw_frame.v",
           "r_pad <= (r_fwd != FRAME);",
           "r_pad <= 1'b0;",
           "dqhw_frame:bmc_f2"),
    Mutant("frame_count_off_by_one", "counter", "dqhw_frame.v",
           "localparam integer CNT_OK_I = FRAME_BYTES + 3;",
           "localparam integer CNT_OK_I = FRAME_BYTES + 2;",
           "dqhw_frame:bmc_f2"),
    Mutant("frame_queue_not_reset", "reset", "dqhw_frame.v",
           "q_wr <= {QW+1{1'b0}};",
           "q_wr <= q_wr;",
           "dqhw_frame:bmc_f2"),
    Mutant("frame_sync_not_stuffed", "data", "dqhw_frame.v",
           "wire t_stuff = !t_raw && (t_lb == SYNC || t_lb == ESC);",
           "wire t_stuff = !t_raw && (t_lb == ESC);",
           "dqhw_frame:bmc_f2"),
    Mutant("frame_bad_escape_missed", "data", "dqhw_frame.v",
           "wire value_bad = r_esc && (value != SYNC) && (value != ESC);",
           "wire value_bad = r_esc && (value != SYNC) && (value != ESC) && value[0];",
           "dqhw_frame:bmc_f2"),
)


def apply(m: Mutant) -> dict[str, str]:
    """The mutated text of the mutant's file (the edit must match exactly once)."""
    text = (run.RTL / m.file).read_text()
    hits = text.count(m.old)
    if hits != 1:
        raise ValueError(f"mutant {m.name}: {m.old!r} occurs {hits} times in rtl/{m.file} (must be once)")
    return {m.file: text.replace(m.old, m.new)}


def task_of(m: Mutant) -> run.Task:
    return next(t for t in run.select([m.task]) if t.ident == m.task)


def check(m: Mutant, solver: str | None = None) -> run.Result:
    """Run the mutant's task on the mutated copy (status FAIL = the mutant was caught)."""
    return run.run_task(task_of(m), apply(m), solver=solver)


def unshown(results: list[run.Result]) -> dict[str, list[int]]:
    """Per property file, the lines of assertions no mutant's counterexample violated (the helper
    invariants that make the proofs inductive, mostly: implied by the others where reachable)."""
    shown = {place for r in results for place in run.failed_at(r.log)}
    out = {}
    for f in sorted(run.FORMAL.glob("*.sv")):
        lines = f.read_text().splitlines()
        out[f.name] = [i + 1 for i, t in enumerate(lines)
                       if re.search(r"\bassert\s*\(", t) and f"{f.name}:{i + 1}" not in shown]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mutants", nargs="*", help="mutant names (default: all)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--solver", choices=("yices", "z3"), help="instead of the .sby's (yices)")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.mutants or m.name in args.mutants]
    if args.list:
        for m in chosen:
            print(f"{m.name:32s} {m.kind:8s} {m.task}")
        return 0
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda m: check(m, args.solver), chosen))
    print("| mutant | kind | task | result | time (s) |\n|---|---|---|---|---|")
    for m, r in zip(chosen, results):
        where = ", ".join(run.failed_at(r.log))
        verdict = f"caught: {where}" if r.status == "FAIL" else f"SURVIVED ({r.status})"
        print(f"| {m.name} | {m.kind} | {m.task} | {verdict} | {r.seconds:.1f} |")
    survivors = [m.name for m, r in zip(chosen, results) if r.status != "FAIL"]
    print(f"\n{len(chosen) - len(survivors)}/{len(chosen)} mutants caught in {time.monotonic() - t0:.1f} s")
    if survivors:
        print("survived: " + ", ".join(survivors))
    if not args.mutants:
        print("\nassertions no mutant violated first (helper invariants, mostly):")
        for name, lines in unshown(results).items():
            print(f"  {name}: {', '.join(map(str, lines)) or '-'}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
