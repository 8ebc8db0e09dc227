"""The host link end to end: `dqhw run` over a pseudo-terminal against the Verilated ECP5 board top of
the shared digits build (UART pins -> dqhw_uart_axis -> dqhw_frame -> the accelerator), no board and
no vendor tool; damaged frames through the same RTL; the host command's one-line errors against
ports that do not exist, stay silent or answer out of order."""

from __future__ import annotations

import json
import os
import select
import shutil
import threading

import numpy as np
import pytest

from dqhw import hostlink
from tests.conftest import assert_one_line_error, run_cli

VENDOR_TOOLS = ("vivado", "vitis_hls", "diamond", "radiant", "quartus_sh")


@pytest.fixture(scope="module")
def board_sim(digits_build, tmp_path_factory):
    from dqhw.hostlink_sim import build_board_sim

    return build_board_sim(digits_build, tmp_path_factory.mktemp("board-sim"))


def _frames_file(build, path, n):
    from dqhw.golden import GoldenModel

    with np.load(build / "frames" / "clean.npz") as z:
        images, labels = z["images"][:n], z["labels"][:n]
    golden = GoldenModel.from_build(build).run(images).labels
    np.savez(path, images=images, labels=labels, golden=golden)
    return golden


@pytest.mark.slow
@pytest.mark.rtl
def test_dqhw_run_over_a_pty_returns_the_golden_classes(digits_build, board_sim, tmp_path, capsys):
    from dqhw.hostlink_sim import BoardSim

    assert not any(shutil.which(t) for t in VENDOR_TOOLS)
    n = 24
    golden = _frames_file(digits_build, tmp_path / "f.npz", n)
    with BoardSim(board_sim) as sim:
        code, out, err = run_cli(["run", digits_build, "--port", sim.port, "--frames", tmp_path / "f.npz",
                                  "--json", tmp_path / "run.json", "--window", "2", "--timeout", "30"], capsys)
    assert code == 0, err
    res = json.loads((tmp_path / "run.json").read_text())
    assert res["classes"] == golden.tolist()
    assert res["answered"] == n and res["golden_agree"] == n and res["damaged"] == []
    assert f"golden model agrees on {n}/{n}" in out
    assert sim.stats["framing_errors"] == 0 and sim.stats["bytes_out"] == n * 7  # 7E SEQ ST LEN LEN class 7E


@pytest.mark.slow
@pytest.mark.rtl
def test_damaged_frames_are_reported_and_the_link_recovers(digits_build, board_sim, tmp_path):
    import serial

    from dqhw.hostlink_sim import BoardSim

    golden = _frames_file(digits_build, tmp_path / "f.npz", 4)
    with np.load(tmp_path / "f.npz") as z:
        frames = [z["images"][k].tobytes() for k in range(4)]
    good = [hostlink.encode_request(k, f) for k, f in enumerate(frames)]

    def sent(seq, payload):  # a request whose header says 64 bytes, whatever the payload holds
        return b"\x7e" + hostlink.stuff(bytes([seq, 64, 0]) + payload) + b"\x7e"

    lost = sent(1, frames[1][:20] + frames[1][21:])  # a payload byte lost
    extra = sent(2, frames[2][:30] + b"\x11" + frames[2][30:])  # a byte added
    stream = good[0] + lost + extra + good[3]
    with BoardSim(board_sim) as sim, serial.Serial(sim.port, timeout=0.05) as port:
        port.write(stream)
        dec, got = hostlink.Decoder(), []
        for _ in range(600):
            got += dec.feed(port.read(64))
            if len(got) >= 4:
                break
    assert [r.seq for r in got] == [0, 1, 2, 3]
    assert [r.status for r in got] == [0, 2, 2, 0]  # bit 1: bytes between the sync bytes != 3 + LEN
    assert [r.payload for r in got] == [bytes([int(golden[0])]), b"", b"", bytes([int(golden[3])])]


def test_protocol_encoding_round_trip():
    frame = bytes([0x7E, 0x7D, 0x00, 0x5E, 0xFF])
    req = hostlink.encode_request(0x7E, frame)
    assert req[0] == req[-1] == 0x7E and 0x7E not in req[1:-1]
    dec = hostlink.Decoder()
    # a request has the response's shape less one byte: decode a response built by hand instead
    resp = b"\x7e" + hostlink.stuff(bytes([0x7E, 0, 1, 0, 0x7D])) + b"\x7e"
    assert dec.feed(resp) == [hostlink.Response(0x7E, 0, b"\x7d")]
    assert dec.feed(b"\x7e\x01\x02\x7e") == [] and dec.garbled == 1


def test_run_no_such_port_is_one_line(tmp_path, capsys, digits_rtl_stub):
    np.savez(tmp_path / "f.npz", images=np.zeros((2, 8, 8, 1), np.uint8))
    code, _, err = run_cli(["run", digits_rtl_stub, "--port", tmp_path / "ttyNONE", "--frames", tmp_path / "f.npz"],
                           capsys)
    assert_one_line_error(code, err, "no such serial port")


def test_run_timeout_names_the_frames_answered(tmp_path, capsys, digits_rtl_stub):
    np.savez(tmp_path / "f.npz", images=np.zeros((3, 8, 8, 1), np.uint8))
    master, slave = os.openpty()  # a port where nothing answers
    try:
        code, _, err = run_cli(["run", digits_rtl_stub, "--port", os.ttyname(slave), "--frames", tmp_path / "f.npz",
                                "--timeout", "0.5"], capsys)
    finally:
        os.close(master)
        os.close(slave)
    assert_one_line_error(code, err, "timeout")
    assert "0 of 3 frames answered" in err


def test_run_out_of_order_response_is_a_protocol_error(tmp_path, capsys, digits_rtl_stub):
    np.savez(tmp_path / "f.npz", images=np.zeros((3, 8, 8, 1), np.uint8))
    master, slave = os.openpty()
    stop = threading.Event()

    def fake_board():  # answers the first request with SEQ 5 (a class byte, status 0)
        seen = 0
        while not stop.is_set() and seen < 4:  # 7E 7E (the host's flush), then 7E request 7E
            if select.select([master], [], [], 0.05)[0]:
                seen += os.read(master, 4096).count(0x7E)
        if seen >= 4:
            os.write(master, b"\x7e" + hostlink.stuff(bytes([5, 0, 1, 0, 3])) + b"\x7e")

    t = threading.Thread(target=fake_board, daemon=True)
    t.start()
    try:
        code, _, err = run_cli(["run", digits_rtl_stub, "--port", os.ttyname(slave), "--frames", tmp_path / "f.npz",
                                "--timeout", "2"], capsys)
    finally:
        stop.set()
        t.join()
        os.close(slave)
        os.close(master)
    assert_one_line_error(code, err, "protocol error")
    assert "SEQ 5" in err


@pytest.fixture
def digits_rtl_stub(tmp_path):
    """A build folder with only rtl/design.json of a digits-shaped accelerator (8x8x1 frames, a class
    byte): enough for the host command's argument and port checks, which run before any RTL."""
    rtl = tmp_path / "stub" / "rtl"
    rtl.mkdir(parents=True)
    design = {"top": "dqhw_accel", "in_width": 8, "in_elem_bits": 8, "in_elems_per_beat": 1, "in_beats_per_frame": 64,
              "in_shape": [8, 8, 1], "label_width": 8, "label_bits": 8, "logits_width": 8, "logits_elem_bits": 7,
              "logits_per_beat": 1, "logits_beats_per_frame": 10, "num_classes": 10, "fifos": {}, "stages": [],
              "files": [], "expected_cycles_per_frame": 1, "graph_sha": "0", "data_files": []}
    (rtl / "design.json").write_text(json.dumps(design))
    return rtl.parent


@pytest.mark.slow
@pytest.mark.rtl
def test_bitstream_top_speaks_the_protocol_and_lints_clean(digits_build, tmp_path):
    """The place_route step's board top carries the same framer (same frame size) as the simulated one,
    and Verilator -Wall finds nothing in the top or the link's modules (finn's stages have their own)."""
    from dqhw.hostlink_sim import board_sources
    from dqhw.resources import hw_dir
    from dqhw.simulate.verilator import lint

    board = digits_build / "board"
    assert (board / "dqhw_frame.v").read_text() == (hw_dir("rtl") / "dqhw_frame.v").read_text()
    sim_top = board_sources(digits_build, tmp_path, 50)[-1].read_text()
    inst = "dqhw_frame #(.IN_BYTES(1), .FRAME_BYTES(64), .OUT_BYTES(1), .OUT_BEATS(1)"
    assert inst in (board / "dqhw_board_top.v").read_text() and inst in sim_top
    r = lint(board_sources(digits_build, tmp_path, 50), top="dqhw_board_top")
    ours = [w for w in r.warnings if any(f in w for f in (str(tmp_path), "dqhw_frame.v", "dqhw_uart_axis.v"))]
    assert ours == [], ours
