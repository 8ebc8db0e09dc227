"""Protocol runs of the whole accelerator: `dqhw_accel` itself as the cocotb toplevel, driven and
consumed cycle by cycle by sim/axis.py (random stalls, reset in the middle of a frame), checked
against the golden model. See sim/test_accel_protocol.py for what each test checks.

    protocol_run(build_dir, work_dir, images, seed) -> {"passed": bool, "tests": {...}, ...}

Per-cycle Python drivers run at ~50-100 k cycles/s (toolchain notes), so this is for a handful of
frames; the bulk testbench (runner.bulk_run) carries whole test sets. `dqhw sim` calls
`session_checks` once per build: the protocol run on a few frames of the first set, and the
throughput check against the interval the FIFO sizing recorded (rtl/fifo_sizing.json).
"""

from __future__ import annotations

import json
import os
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

from dqhw.resources import hw_dir
from dqhw.rtlgen.generate import Design
from dqhw.simulate import testbench as tb
from dqhw.simulate.bulk_build import waves_build_args
from dqhw.simulate.verilator import run_cocotb

PROTOCOL_FRAMES = 6  # frames per protocol run in `dqhw sim`
STALL = 0.5  # probability that TVALID (s_axis) / TREADY (each output) is withheld in a cycle
RESET_CYCLES = 4
THROUGHPUT_TOLERANCE = 0.10  # dqhw sim fails when cycles/frame exceed the sized interval by more


def sized_interval(rtl_dir: Path) -> int | None:
    """The steady-state cycles/frame the FIFO sizing measured for this RTL (interval_sized)."""
    path = Path(rtl_dir) / "fifo_sizing.json"
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text()).get("interval_sized")
    except ValueError:
        return None
    return int(value) if value else None


def protocol_config(design: Design, images: np.ndarray, golden_labels: np.ndarray, golden_logits: np.ndarray,
                    seed: int, interval: int | None) -> dict:
    frames = []
    for i in range(len(images)):
        frames.append({"in": tb.input_beats(design, images[i:i + 1]),
                       "logits": tb.logits_beats(design, golden_logits[i]),
                       "label": int(golden_labels[i])})
    n = len(images)
    ii = max(interval or 0, design.expected_cycles_per_frame, 1)
    # stalls at p=0.5 halve the rate of each port; a port may be the bottleneck
    per_frame = max(ii, 3 * design.in_beats_per_frame, 3 * design.logits_beats_per_frame)
    in_beats = design.in_beats_per_frame
    lb = design.logits_beats_per_frame
    return {
        "frames": frames,
        "has_label": design.label_width > 0,
        "logits_beats_per_frame": design.logits_beats_per_frame,
        "logits_mask": (1 << (design.logits_per_beat * design.logits_elem_bits)) - 1,
        "label_mask": (1 << max(design.label_bits, 1)) - 1,
        "seed": int(seed),
        "stall": STALL,
        "budget_cycles": int(3 * (n + 3) * per_frame + 50_000),
        "settle_cycles": int(min(per_frame, 50_000) + 200),
        # before the reset: frames 0..k-1 and half of frame k go in (k = n//2), and the reset falls
        # once frame 1's logits are half out (k >= 2): the input, the pipeline and the output are
        # each in the middle of a frame, so leftovers from before the reset would show
        "reset_input_beats": int((n // 2) * in_beats + max(1, in_beats // 2)),
        "reset_after_logits": int(lb + lb // 2) if n // 2 >= 2 else 0,
        "reset_cycles": RESET_CYCLES,
        "frames_after_reset": n,
    }


def _failure_messages(results_xml: Path | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if results_xml is None or not Path(results_xml).is_file():
        return out
    for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is not None:
            msg = (bad.get("message") or bad.text or "").strip().splitlines()
            out[case.get("name", "?")] = msg[0][:400] if msg else "failed"
    return out


def protocol_run(build_dir: str | Path, work_dir: str | Path, images: np.ndarray, seed: int = 1,
                 golden=None, waves: bool | None = None, x_mode: str = "fast") -> dict:
    """Build dqhw_accel of BUILD/rtl for cocotb (cached in work_dir/build) and run
    sim/test_accel_protocol.py on `images` (uint8 NHWC) against the golden model.
    Returns {"passed", "frames", "seed", "tests": {name: {"passed", "message", ...numbers}},
    "build_seconds", "sim_seconds", "message"}. Never raises for a failing test.
    `waves` (default: $WAVES == "1"): waveforms in work_dir/run/dump.fst or dump.vcd (separate build).
    `x_mode="random"`: uninitialised state randomised at start-up (dqhw.simulate.verilator.X_MODES)."""
    from dqhw.golden import GoldenModel

    build_dir = Path(build_dir)
    rtl_dir = (build_dir / "rtl").resolve()
    work = Path(work_dir).resolve()
    design = Design.load(rtl_dir)
    images = np.asarray(images, dtype=np.uint8)
    if waves is None:
        waves = os.environ.get("WAVES") == "1"
    if golden is None:
        golden = GoldenModel.from_build(build_dir).run(images)
    run_dir = tb.fresh_run_dir(rtl_dir, work)
    cfg = protocol_config(design, images, golden.labels, golden.logits, seed, sized_interval(rtl_dir))
    cfg["result"] = str(run_dir / "protocol.json")
    (run_dir / "protocol_cfg.json").write_text(json.dumps(cfg))
    # only the top-level ports are public (cocotb touches nothing else): a fully optimised model
    vlt = work / "ports_public.vlt"
    ports = ["clk", "rst_n", "s_axis_*", "m_axis_*"]
    vlt_text = "`verilator_config\n" + "".join(f'public_flat_rw -module "{design.top}" -var "{p}"\n' for p in ports)
    if not vlt.is_file() or vlt.read_text() != vlt_text:
        vlt.write_text(vlt_text)
    t0 = time.monotonic()
    result = run_cocotb(
        sources=[rtl_dir / f for f in design.files] + [vlt], toplevel=design.top, test_module="test_accel_protocol",
        build_dir=work / ("build-waves" if waves else "build" if x_mode == "fast" else f"build-x{x_mode}"),
        test_dir=run_dir, python_path=[hw_dir("sim")], seed=seed, x_mode=x_mode,
        build_args=["--no-public-flat-rw", "-O3"] + (waves_build_args() if waves else []),
        extra_env={"DQHW_PROTOCOL_CFG": str(run_dir / "protocol_cfg.json")} | ({"WAVES": "1"} if waves else {}),
    )
    wall = time.monotonic() - t0
    numbers = json.loads((run_dir / "protocol.json").read_text()) if (run_dir / "protocol.json").is_file() else {}
    failed = _failure_messages(result.results_xml)
    tests = {}
    for name in ("test_random_stalls", "test_reset_mid_frame"):
        key = name.removeprefix("test_")
        ran = result.results_xml is not None and (name in failed or key in numbers)
        tests[key] = {"passed": ran and name not in failed, "message": failed.get(name, "" if ran else "did not run")}
        tests[key].update(numbers.get(key, {}))
    passed = result.passed and all(t["passed"] for t in tests.values())
    message = ""
    if not passed:
        bad = [f"{k}: {v['message']}" for k, v in tests.items() if not v["passed"]]
        message = "; ".join(bad) if bad else result.message
        if not result.passed and result.message and result.message not in message:
            message = f"{result.message}; {message}"
    return {
        "passed": bool(passed), "frames": int(len(images)), "seed": int(seed), "stall": STALL, "x_mode": x_mode,
        "reset_cycles": RESET_CYCLES, "tests": tests, "build_seconds": round(result.build_s, 2),
        "sim_seconds": round(max(0.0, wall - result.build_s), 2), "message": message, "log": str(result.log),
    }


def throughput_failures(rtl_dir: Path, rows: list[dict]) -> list[str]:
    """A set whose measured cycles/frame exceed the sized design's interval by more than 10 %."""
    ref = sized_interval(rtl_dir)
    out = []
    if not ref:
        return out
    for r in rows:
        ii = r.get("cycles_per_frame")
        if ii and ii > ref * (1 + THROUGHPUT_TOLERANCE):
            out.append(f"{r['set']}: throughput below the sized design: {ii} cycles/frame, the FIFO sizing "
                       f"measured {ref} (+{100 * (ii / ref - 1):.0f} %): FIFO too shallow?")
    return out


def session_checks(build_dir: Path, rows: list[dict], sets: list, failures: list[str], work: Path,
                   seed: int = 1, progress: bool = False, shard: int = 0) -> dict:
    """What `dqhw sim` runs after the bulk sets: the throughput check (failures appended to
    `failures`) and, when everything so far passed, a protocol run on the first PROTOCOL_FRAMES
    frames of the first non-empty set (in shard 0 only). Returns the report's `protocol` section."""
    rtl_dir = Path(build_dir) / "rtl"
    failures += throughput_failures(rtl_dir, rows)
    if failures:
        return {"skipped": "earlier failures"}
    if shard != 0:
        return {"skipped": "runs in shard 0"}
    images = next((fs.images[:PROTOCOL_FRAMES] for fs in sets if len(fs.images)), None)
    if images is None:
        return {"skipped": "no frames"}
    if progress:
        print(f"protocol: {len(images)} frames through dqhw_accel (random initial state) with random stalls "
              f"(p={STALL}) and a reset mid-frame ...", flush=True)
    # uninitialised state randomised at start-up: the reset mid-frame must bring every register back
    res = protocol_run(build_dir, work / "protocol", images, seed, x_mode="random")
    if progress:
        print(f"    {'passed' if res['passed'] else 'FAILED: ' + res['message']} ({res['sim_seconds']} s)", flush=True)
    if not res["passed"]:
        failures.append(f"protocol run ({res['frames']} frames, stalls p={res['stall']}, reset mid-frame): "
                        f"{res['message']}")
    return res


def render_protocol(p: dict) -> str:
    """The report.md paragraph of a protocol section."""
    if "skipped" in p:
        return f"Protocol run (cocotb, dqhw_accel as toplevel): skipped ({p['skipped']})."
    verdict = "PASS" if p["passed"] else "FAIL"
    lines = [f"Protocol run (cocotb, dqhw_accel as toplevel, seed {p['seed']}): **{verdict}**", ""]
    for name, t in p["tests"].items():
        detail = t.get("message") or ""
        if name == "random_stalls" and t["passed"]:
            detail = (f"{t.get('frames')} frames, stalls p={t.get('stall')} on s_axis TVALID and each output TREADY, "
                      f"{t.get('cycles')} cycles, outputs and TLAST exact")
        elif name == "reset_mid_frame" and t["passed"]:
            pre, post = t.get("before_reset", {}), t.get("after_reset", {})
            detail = (f"rst_n low {t.get('reset_cycles')} cycles after {pre.get('input_beats')} input beats and "
                      f"{pre.get('logits_beats')} logits beats; then {post.get('frames')} frames exact")
        lines.append(f"- {name}: {'pass' if t['passed'] else 'FAIL'}: {detail}")
    return "\n".join(lines)
