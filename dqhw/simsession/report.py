"""The report of one `dqhw sim` (a run, a shard, or a merge of shards): BUILD/sim/report*.json and
its Markdown, for the RTL and the HLS backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dqhw.errors import MismatchError
from dqhw.io import write_json, write_text


def write_report(build_dir: Path, report: dict, suffix: str = "") -> dict:
    """BUILD/sim/report{suffix}.json + .md (one run, a shard, or a merge); a failed run then raises
    MismatchError with the first failure."""
    out = build_dir / "sim"
    write_json(out / f"report{suffix}.json", report)
    write_text(out / f"report{suffix}.md", render_markdown(report))
    failures = report["failures"]
    if failures:
        raise MismatchError(failures[0] + (f" (+{len(failures) - 1} more; see {out}/report{suffix}.md)"
                                           if len(failures) > 1 else ""))
    return report


def accuracy(predicted: np.ndarray, labels: np.ndarray | None) -> float | None:
    """None when the true labels are unknown; a missing prediction counts as wrong."""
    if labels is None or len(labels) == 0:
        return None
    got = np.asarray(predicted)[: len(labels)]
    return float((got == labels[: len(got)]).sum() / len(labels))


def class_counts(labels) -> dict[str, int]:
    from dqhw.sampling import class_counts as counts

    return {str(c): k for c, k in counts(labels).items()}


def pct(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def render_markdown(report: dict) -> str:
    if report.get("backend") == "hls":
        return render_markdown_hls(report)
    lines = [
        f"# RTL simulation: {report['build']}",
        "",
        f"Verilator, memory-fed bulk testbench clocked by "
        f"{'a bare C++ main (--engine cpp)' if report.get('engine') == 'cpp' else 'cocotb'}, protocol run under "
        f"cocotb; clock {report['clock_ns']} ns; "
        + (f"{report['shards']} shards merged." if report.get("shards") else f"shard {report['shard']}."),
        f"**{report['total_frames']} frames, {report['total_mismatches']} mismatches against the golden model "
        f"({'PASS' if report['passed'] else 'FAIL'}).**",
        "",
        "| set | frames | mismatches (class/logits/missing) | RTL accuracy | golden accuracy | RTL accuracy on "
        "the clean source images | cycles/frame (FINN estimate) | latency | FPS @ clock | sim cycles/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["sets"]:
        m = r["mismatches"]
        fps = f"{r['fps_at_clock']:.0f}" if r["fps_at_clock"] else "-"
        pair = r.get("clean_pair")
        lines.append(f"| {r['set']} | {r['frames']} | {m['labels']}/{m['logits']}/{m['missing']} | "
                     f"{pct(r['rtl_accuracy'])} | {pct(r['golden_accuracy'])} | "
                     f"{pct(pair['rtl_accuracy']) if pair else '-'} | {r['cycles_per_frame']} "
                     f"({r['expected_cycles_per_frame']}) | {r['latency_cycles']} | {fps} | {r['cycles_per_second']} |")
    lines += ["", "Which images each set holds (subsets are seeded class-stratified samples, never the first N; an "
              "adversarial set's clean column is its own source images from the split it was crafted on):", ""]
    for r in report["sets"]:
        counts = ", ".join(f"{c}: {k}" for c, k in sorted(r.get("per_class", {}).items(), key=lambda t: int(t[0])))
        lines.append(f"- {r['set']}: {r.get('sample') or 'unknown'}" + (f" (this run's classes {counts})"
                                                                          if counts else ""))
    if report.get("protocol"):  # dqhw/simulate/protocol.py
        from dqhw.simulate.protocol import render_protocol

        lines += ["", render_protocol(report["protocol"])]
    if report["failures"]:
        lines += ["", "## Failures", ""] + [f"- {f}" for f in report["failures"]]
    return "\n".join(lines) + "\n"


def render_markdown_hls(report: dict) -> str:
    lines = [
        f"# HLS C-simulation: {report['build']}",
        "",
        f"backend=hls: the build's HLS C++ (BUILD/hls) compiled with g++ ({report['compile_seconds']} s, 0 when "
        f"cached), {report['frames_per_second']} frames/s overall.",
        f"**{report['total_frames']} frames, {report['total_mismatches']} mismatches against the golden model "
        f"({'PASS' if report['passed'] else 'FAIL'}).**",
        "",
        "| set | frames | mismatches (class/logits/missing) | HLS accuracy | golden accuracy | HLS accuracy on the "
        "clean source images | frames/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["sets"]:
        m = r["mismatches"]
        pair = r.get("clean_pair")
        lines.append(f"| {r['set']} | {r['frames']} | {m['labels']}/{m['logits']}/{m['missing']} | "
                     f"{pct(r['rtl_accuracy'])} | {pct(r['golden_accuracy'])} | "
                     f"{pct(pair['rtl_accuracy']) if pair else '-'} | {r['frames_per_second']} |")
    lines += ["", "Which images each set holds:", ""]
    lines += [f"- {r['set']}: {r.get('sample') or 'unknown'}" for r in report["sets"]]
    if report["failures"]:
        lines += ["", "## Failures", ""] + [f"- {f}" for f in report["failures"]]
    return "\n".join(lines) + "\n"
