"""Bad input to `dqhw build`: one line on stderr, a non-zero exit, and no build directory left behind
(not even a temporary one)."""

from __future__ import annotations

import json

import pytest

from tests.build_helpers import make_run, run_dir
from tests.conftest import assert_one_line_error, run_cli

RUN = dict(bits="2", wbits="2", seed=2)


def _no_leftovers(out):
    assert not out.exists(), f"{out} was left behind"
    assert not list(out.parent.glob(f".{out.name}.*")), "a temporary build directory was left behind"


def _build(args, out, capsys, needle):
    out.parent.mkdir(parents=True, exist_ok=True)
    code, _, err = run_cli(["build", *args, "--out", out, "--quiet"], capsys)
    assert_one_line_error(code, err, needle)
    _no_leftovers(out)


def test_unknown_board(tmp_path, capsys):
    _build([run_dir("thr_b2", **RUN), "--board", "zedboard-9000"], tmp_path / "b", capsys, "unknown board")


def test_missing_run(tmp_path, capsys):
    _build([tmp_path / "nope"], tmp_path / "b", capsys, "no such run directory or model file")
    (tmp_path / "empty").mkdir()
    _build([tmp_path / "empty"], tmp_path / "b", capsys, "no checkpoint")


def test_run_is_a_file(tmp_path, capsys):
    f = tmp_path / "model.onnx"
    f.write_bytes(b"\x08\x07garbage")
    _build([f], tmp_path / "b", capsys, "not a readable ONNX model")
    t = tmp_path / "model.txt"
    t.write_text("x")
    _build([t], tmp_path / "b", capsys, "expected a run directory")


def test_corrupt_checkpoint(tmp_path, capsys):
    run = make_run(tmp_path / "run", seed=3)
    (run / "checkpoint.pt").write_bytes(b"PK\x03\x04 this is not a checkpoint")
    _build([run], tmp_path / "b", capsys, "corrupt")


@pytest.mark.parametrize("bits,wbits", [("fp", "2"), ("2", "fp")])
def test_float_run(tmp_path, capsys, bits, wbits):
    run = make_run(tmp_path / "run", bits=bits, wbits=wbits, seed=4)
    _build([run], tmp_path / "b", capsys, "float run")


def test_residual_learned_act_range(tmp_path, capsys):
    """The residual add needs both operands on one activation scale: a learned range is refused."""
    run = make_run(tmp_path / "wrn", model="wrn10", width=0.25, seed=5, act_range="learned")
    _build([run], tmp_path / "b", capsys, "needs both operands on one activation scale")


def test_folding_bad_json(tmp_path, capsys):
    f = tmp_path / "fold.json"
    f.write_text("{ not json")
    _build([run_dir("thr_b2", **RUN), "--folding", f], tmp_path / "b", capsys, "not valid JSON")


def test_folding_not_a_divisor(tmp_path, capsys):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"Defaults": {}, "MVAU_hls_1": {"PE": 3, "SIMD": 8}}))
    _build([run_dir("thr_b2", **RUN), "--folding", f], tmp_path / "b", capsys, "PE=3 does not divide MH=32")


def test_folding_unknown_node(tmp_path, capsys):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"Defaults": {}, "MVAU_hls_17": {"PE": 1}}))
    _build([run_dir("thr_b2", **RUN), "--folding", f], tmp_path / "b", capsys, "no node named")


def test_target_fps_and_folding_exclusive(tmp_path, capsys):
    f = tmp_path / "fold.json"
    f.write_text("{}")
    _build([run_dir("thr_b2", **RUN), "--folding", f, "--target-fps", "100"], tmp_path / "b", capsys,
           "not allowed with")


def test_out_is_not_a_build_dir(tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, _, err = run_cli(["build", run_dir("thr_b2", **RUN), "--out", out, "--quiet"], capsys)
    assert_one_line_error(code, err, "not a dqhw build directory")
    assert (out / "notes.txt").read_text() == "keep me"


def test_failed_rebuild_keeps_the_old_build(tmp_path, capsys):
    """A failing build into an existing build directory leaves the old one intact."""
    from tests.build_helpers import built

    old = built("thr_b2", **RUN)
    before = (old / "build.json").read_text()
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"MVAU_hls_0": {"SIMD": 4}}))  # 4 does not divide MW = 9
    code, _, err = run_cli(["build", run_dir("thr_b2", **RUN), "--out", old, "--folding", f, "--quiet"], capsys)
    assert_one_line_error(code, err, "SIMD=4 does not divide MW=9")
    assert (old / "build.json").read_text() == before
    assert not list(old.parent.glob(f".{old.name}.*"))


def test_folding_unknown_attribute(tmp_path, capsys):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"MVAU_hls_1": {"PEE": 2}}))
    _build([run_dir("thr_b2", **RUN), "--folding", f], tmp_path / "b", capsys, "--folding: cannot apply")
