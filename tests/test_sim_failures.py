"""`dqhw sim` must fail, with one line naming what went wrong, when the RTL is wrong - and must pass
on a correct build. One small digits build (train 3 epochs -> dqhw build -> FIFO-sized RTL) is made
once for this file; the broken variants are made from it:

- a corrupted weight ROM file / threshold ROM file in BUILD/rtl: `dqhw sim` exits non-zero naming
  the first differing frame and the corrupted MVAU (dqhw.simulate.streams localises the layer);
- a FIFO made too shallow: the chain does not deadlock, it slows down; `dqhw sim` compares the
  measured cycles/frame with the sized design's interval (rtl/fifo_sizing.json) and fails;
- a real hang (an output's TREADY held low for ever): the bulk testbench's watchdog reports
  `deadlock` instead of hanging (run in a child process with a timeout, so a broken watchdog fails
  the test instead of hanging it);
- on the correct build every internal stream matches the golden model, and `dqhw sim` passes with
  its protocol section (random stalls, reset mid-frame); the protocol run detects a wrong output.

The ROM files are corrupted in place and restored afterwards: ROMs are read at run time, so the
Verilator builds of the correct build are reused (each costs 10-30 s on these machines).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.build_helpers import TEST_FPS
from tests.conftest import assert_one_line_error, run_cli

pytestmark = pytest.mark.rtl

LIMIT = 8  # frames per `dqhw sim` run


@pytest.fixture(scope="module")
def sized_build(tmp_path_factory) -> Path:
    """train (3 epochs, 2 bits, digits) -> dqhw build -> RTL with simulated FIFO depths."""
    root = tmp_path_factory.mktemp("simfail")
    run, build = root / "run", root / "build"
    code = _cli(["train", "--bits", "2", "--epochs", "3", "--out", run, "--quiet"])
    assert code == 0, "dqhw train failed"
    code = _cli(["build", run, "--board", "pynq-z2", "--out", build, "--target-fps", str(TEST_FPS), "--quiet"])
    assert code == 0, "dqhw build failed"
    if not (build / "rtl" / "design.json").is_file():
        from dqhw.data import load_dataset
        from dqhw.flow.fifo_sizing import size_and_generate

        frames = load_dataset("digits").x_test[:6]
        size_and_generate(build / "dataflow.onnx", build / "rtl", build / "sim" / "sizing", frames,
                          "xc7z020clg400-1", 10.0)
    assert (build / "rtl" / "fifo_sizing.json").is_file()
    return build


def _cli(args) -> int:
    from dqhw.cli import main

    try:
        return main([str(a) for a in args])
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1


def _frames(n: int) -> np.ndarray:
    from dqhw.data import load_dataset

    return load_dataset("digits").x_test[:n]


@contextlib.contextmanager
def corrupted(path: Path, transform):
    """Replace the lines of a ROM file by transform(lines) for the duration; restore it after."""
    backup = path.read_text()
    lines = backup.split()
    try:
        new = transform(lines)
        assert new != lines, "the corruption changed nothing"
        path.write_text("\n".join(new) + "\n")
        yield
    finally:
        path.write_text(backup)


def _invert(lines: list[str]) -> list[str]:
    """Every bit of every word flipped (hex digits complemented, width kept)."""
    return [format(~int(w, 16) & ((1 << (4 * len(w))) - 1), f"0{len(w)}x") for w in lines]


def _zero(lines: list[str]) -> list[str]:
    return ["0" * len(w) for w in lines]


def _sim_error(build: Path, capsys) -> str:
    code, _, err = run_cli(["sim", build, "--limit", LIMIT, "--quiet"], capsys)
    assert_one_line_error(code, err)
    assert code == 3, f"exit code {code}: {err}"
    return err.strip()


# --------------------------------------------------------------------------------------------------
def test_every_stream_matches_golden_on_a_correct_build(sized_build):
    """The stream -> golden tensor mapping of streams.py holds for every stage (FIFOs, FMPadding,
    sliding windows incl. the depthwise ones, width converters, MVAUs, MaxPool, LabelSelect)."""
    from dqhw.golden import GoldenModel
    from dqhw.simulate.streams import compare_streams, dump_streams, first_differing_stage, stream_specs

    img = _frames(1)[0]
    golden = GoldenModel.from_build(sized_build).run(img[None], keep_intermediates=True)
    specs = stream_specs(sized_build)
    ops = {s.op_type for s in specs}
    assert {"DqhwMVAU", "ConvolutionInputGenerator_rtl", "StreamingDataWidthConverter_rtl", "DqhwMaxPool",
            "FMPadding_rtl", "DqhwLabelSelect", "StreamingFIFO_rtl"} <= ops
    assert any(s.order for s in specs), "no depthwise sliding window in the fixture (MaxPool lowering)"
    work = sized_build / "sim" / "work" / "clean-test-locate"  # the path `dqhw sim` localises in
    rows = compare_streams(specs, dump_streams(sized_build, work, img), golden.tensors)
    bad = [r for r in rows if not r["ok"]]
    assert not bad, f"{len(bad)} of {len(rows)} streams differ on a correct build: {bad[:3]}"
    assert first_differing_stage(sized_build, work, img, golden) is None


def test_shards_merge_into_the_report_of_one_run(sized_build, tmp_path, capsys):
    """`--shard i/n` runs (as on n machines) merged with `--merge` give the report a single run gives:
    the same frames, mismatches and accuracies; an incomplete set of shards is refused in one line."""
    limit = 2 * LIMIT
    code, _, err = run_cli(["sim", sized_build, "--limit", limit, "--jobs", 1, "--quiet"], capsys)
    assert code == 0, err
    whole = json.loads((sized_build / "sim" / "report.json").read_text())
    elsewhere = tmp_path / "from-machine-1"
    elsewhere.mkdir()
    for i in (0, 1):
        code, _, err = run_cli(["sim", sized_build, "--limit", limit, "--shard", f"{i}/2", "--quiet"], capsys)
        assert code == 0, err
    # shard 1 came back from another machine: only its report, in another folder
    shutil.move(sized_build / "sim" / "report-shard1of2.json", elsewhere / "report-shard1of2.json")
    code, _, err = run_cli(["sim", sized_build, "--merge"], capsys)
    assert_one_line_error(code, err, "shard 1/2 is missing")
    code, out, err = run_cli(["sim", sized_build, "--merge", elsewhere], capsys)
    assert code == 0, err
    merged = json.loads((sized_build / "sim" / "report.json").read_text())
    assert merged["shards"] == 2 and merged["passed"] and merged["total_frames"] == whole["total_frames"]
    for a, b in zip(whole["sets"], merged["sets"], strict=True):
        assert (a["set"], a["frames"], a["mismatches"]) == (b["set"], b["frames"], b["mismatches"])
        assert a["rtl_accuracy"] == pytest.approx(b["rtl_accuracy"]) and a["per_class"] == b["per_class"]
        assert ("clean_pair" in a) == ("clean_pair" in b)
        if "clean_pair" in a:
            assert a["clean_pair"]["rtl_accuracy"] == pytest.approx(b["clean_pair"]["rtl_accuracy"])
    assert "2 shards merged" in (sized_build / "sim" / "report.md").read_text()


def test_sim_passes_with_protocol_and_throughput(sized_build, capsys):
    code, out, err = run_cli(["sim", sized_build, "--limit", LIMIT, "--quiet"], capsys)
    assert code == 0, err
    report = json.loads((sized_build / "sim" / "report.json").read_text())
    assert report["passed"] and report["total_mismatches"] == 0
    sized = json.loads((sized_build / "rtl" / "fifo_sizing.json").read_text())["interval_sized"]
    assert report["sets"][0]["cycles_per_frame"] <= sized * 1.10
    p = report["protocol"]
    assert p["passed"], p
    stalls, rst = p["tests"]["random_stalls"], p["tests"]["reset_mid_frame"]
    assert stalls["passed"] and stalls["frames"] == 6 and stalls["stall"] == 0.5
    assert rst["passed"] and rst["after_reset"]["frames"] == 6
    # the reset fell with a frame half in and a frame's logits half out
    assert rst["before_reset"]["input_beats"] % _in_beats(sized_build) != 0
    assert rst["before_reset"]["logits_beats"] > 0
    assert "Protocol run" in (sized_build / "sim" / "report.md").read_text()


def _in_beats(build: Path) -> int:
    from dqhw.rtlgen.generate import Design

    return Design.load(build / "rtl").in_beats_per_frame


def test_protocol_run_detects_a_wrong_output(sized_build):
    """Feed the protocol test wrong golden logits for one frame: it must fail and say where."""
    from dqhw.golden import GoldenModel
    from dqhw.simulate.protocol import protocol_run

    x = _frames(3)
    golden = GoldenModel.from_build(sized_build).run(x)
    golden.logits = golden.logits.copy()
    golden.logits[1, 3] += 1
    res = protocol_run(sized_build, sized_build / "sim" / "work" / "protocol", x, seed=5, golden=golden)
    assert not res["passed"]
    msg = res["tests"]["random_stalls"]["message"]
    assert "m_axis_logits beat" in msg and "first difference" in msg, msg


def test_corrupted_weight_rom_names_frame_and_layer(sized_build, capsys):
    rom = sized_build / "rtl" / "DqhwMVAU_1_weights.memh"
    with corrupted(rom, _invert):
        err = _sim_error(sized_build, capsys)
    assert "first at frame 0" in err, err
    assert "first differing layer: DqhwMVAU_1" in err, err
    report = json.loads((sized_build / "sim" / "report.json").read_text())
    where = report["sets"][0]["first_mismatch"]["layer"]
    assert where["stage"] == "DqhwMVAU_1" and where["op_type"] == "DqhwMVAU" and where["rtl"] != where["golden"]


def test_corrupted_threshold_rom_names_frame_and_layer(sized_build, capsys):
    rom = sized_build / "rtl" / "DqhwMVAU_0_thresholds.memh"
    with corrupted(rom, _zero):
        err = _sim_error(sized_build, capsys)
    assert "first at frame" in err, err
    assert "first differing layer: DqhwMVAU_0" in err, err


def test_shallow_fifo_fails_the_throughput_check(sized_build, tmp_path, capsys):
    """The FIFO in front of the third MVAU at depth 2 (the sizing gave it tens of beats): no deadlock,
    but ~25 % more cycles per frame; `dqhw sim` must say so."""
    from dqhw.rtlgen.generate import Design, generate_rtl

    design = Design.load(sized_build / "rtl")
    names = [s.name for s in design.stages]
    fifo = names[names.index("DqhwMVAU_2") - 1]
    assert fifo.startswith("fifo_") and design.fifos[fifo] > 8, (fifo, design.fifos)
    shallow = tmp_path / "build"
    shallow.mkdir()
    for f in ("dataflow.onnx", "build.json"):
        shutil.copy(sized_build / f, shallow / f)
    depths = dict(design.fifos) | {fifo: 2}
    generate_rtl(shallow / "dataflow.onnx", shallow / "rtl", fifo_depths=depths)
    shutil.copy(sized_build / "rtl" / "fifo_sizing.json", shallow / "rtl" / "fifo_sizing.json")
    err = _sim_error(shallow, capsys)
    assert "throughput below the sized design" in err and "FIFO too shallow?" in err, err
    report = json.loads((shallow / "sim" / "report.json").read_text())
    assert report["total_mismatches"] == 0  # slower, still bit-exact
    assert report["protocol"] == {"skipped": "earlier failures"}


def test_watchdog_turns_a_hang_into_deadlock(sized_build, tmp_path):
    """m_axis/m_axis_logits TREADY low for ever (STALL_OUT=256), watchdog = 2 latencies (the ports
    are legitimately quiet for up to one latency: the FIFOs absorb the input before the first output):
    the bulk run returns deadlock=True with no frame out, after the watchdog period. It runs in a child
    process killed after 300 s, so a broken watchdog fails this test instead of hanging the suite."""
    latency = json.loads((sized_build / "rtl" / "fifo_sizing.json").read_text())["latency_cycles"]
    watchdog = 2 * int(latency)
    out = tmp_path / "result.json"
    script = textwrap.dedent(f"""
        import json
        from dqhw.data import load_dataset
        from dqhw.simulate.runner import bulk_run
        x = load_dataset("digits").x_test[:3]
        r = bulk_run({str(sized_build / "rtl")!r}, {str(tmp_path / "work")!r}, x, stall_out=256,
                     watchdog={watchdog})
        json.dump({{"deadlock": r.deadlock, "cycles": r.cycles, "frames": len(r.logits)}}, open({str(out)!r}, "w"))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        log, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the bulk run with a held-low TREADY did not end within 300 s: watchdog broken")
    assert proc.returncode == 0, log[-2000:]
    r = json.loads(out.read_text())
    assert r["deadlock"] is True and r["frames"] == 0, r
    # declared after the watchdog period of silence, and soon after: the input stops within a latency
    assert watchdog < r["cycles"] < watchdog + 2 * latency, (r, watchdog)
