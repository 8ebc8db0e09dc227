"""dqhw.simsession.progress: live frames/s and ETA read from growing frames.out files (one line for
many shards), without a simulator: the files are written here the way tb_dqhw_accel writes them."""

from __future__ import annotations

import io
import time

from dqhw.simsession.progress import FrameProgress, count_frames_out, format_eta


def test_count_reads_only_whole_new_out_lines(tmp_path):
    f = tmp_path / "frames.out"
    state: dict = {}
    assert count_frames_out(f, state) == 0  # not there yet
    f.write_text("in 0 17\nin 1 40\nout 0 600 1\n")
    assert count_frames_out(f, state) == 1
    with f.open("a") as h:
        h.write("out 1 1200 1\nout 2 18")  # the last line is still being written
    assert count_frames_out(f, state) == 2
    with f.open("a") as h:
        h.write("00 1\n")
    assert count_frames_out(f, state) == 3
    f.write_text("out 0 5 1\n")  # a new run recreated the file
    assert count_frames_out(f, state) == 1


def test_one_line_rolls_up_every_shard(tmp_path):
    files = [tmp_path / f"work-shard{i}of2" / "set" / "run" / "frames.out" for i in range(2)]
    for f in files:
        f.parent.mkdir(parents=True)
    out = io.StringIO()
    with FrameProgress(lambda: [f for f in files if f.exists()], 8, "sim (2 shards)", every=0.05, stream=out,
                       poll=0.02) as p:
        for k in range(4):
            for f in files:
                with f.open("a") as h:
                    h.write(f"out {k} {100 * k} 1\n")
            time.sleep(0.1)
        time.sleep(0.2)
    assert p.done_frames == 8
    lines = [x for x in out.getvalue().splitlines() if x]
    assert lines and all(x.startswith("sim (2 shards) [") for x in lines)  # a log: whole lines, no \r
    assert "8/8 frames" in lines[-1] and "frames/s" in lines[-1] and "ETA" in lines[-1]


def test_eta_format():
    assert format_eta(59) == "0m59s" and format_eta(3725) == "1h02m"


def test_an_earlier_runs_frames_out_is_not_counted(tmp_path):
    """A shard's frames.out from an earlier `dqhw sim` stays until that shard starts its run (after its
    golden model): the watcher must not report it as done (it once showed 20000/20000 at the start)."""
    import os

    f = tmp_path / "frames.out"
    f.write_text("".join(f"out {i} {100 * i} 1\n" for i in range(5)))
    old = time.time() - 3600
    os.utime(f, (old, old))
    watch = FrameProgress(lambda: [f], 10, "sim", stream=io.StringIO())
    assert watch.frames() == 0
    f.write_text("in 0 1\nout 0 90 1\n")  # the new run recreates it
    assert watch.frames() == 1


def test_engine_auto_takes_the_bare_cpp_main_only_for_long_runs():
    """--engine auto: cocotb for short runs (the build's own compile), cpp once a shard runs
    >= AUTO_CPP_CYCLES cycles; explicit engines stay; waveforms keep cocotb; a typo is one line."""
    import pytest

    from dqhw.errors import DqhwError
    from dqhw.simsession.session import AUTO_CPP_CYCLES, choose_engine

    assert choose_engine("auto", 360, 250, 1) == "cocotb"  # digits: a test split
    assert choose_engine("auto", 20_000, 32_768, 2) == "cpp"  # CNV W2A2: a whole CIFAR-10 evaluation
    assert choose_engine("auto", 2_000, 32_768, 2) == "cocotb"  # the same build, a sample
    edge = AUTO_CPP_CYCLES // 1000
    assert choose_engine("auto", 2 * edge, 1000, 2) == "cpp"
    assert choose_engine("auto", 2 * edge - 2, 1000, 2) == "cocotb"
    assert choose_engine("auto", 20_000, 32_768, 2, waves=True) == "cocotb"
    assert choose_engine("cocotb", 20_000, 32_768, 2) == "cocotb" and choose_engine("cpp", 1, 1, 1) == "cpp"
    with pytest.raises(DqhwError, match="--engine must be one of auto, cocotb, cpp"):
        choose_engine("verilog", 1, 1, 1)
