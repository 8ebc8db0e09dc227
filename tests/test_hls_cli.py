"""`dqhw sim --backend hls` refuses bad input in one line (no compile, no build needed), and a missing
toolchain is one line saying what to install."""

from __future__ import annotations

import pytest

from dqhw.errors import DqhwError
from tests.conftest import assert_one_line_error, run_cli


def test_hls_backend_without_hls_folder(tmp_path, capsys):
    # a folder that is no build at all is refused before any backend looks for its files
    code, _, err = run_cli(["sim", tmp_path, "--backend", "hls"], capsys)
    assert_one_line_error(code, err, "build.json")


@pytest.mark.parametrize("extra, needle", [(["--shard", "1/2"], "--shard"), (["--waves"], "--waves"),
                                           (["--merge"], "--merge")])
def test_hls_backend_refuses_verilator_options(tmp_path, capsys, extra, needle):
    code, _, err = run_cli(["sim", tmp_path, "--backend", "hls", *extra], capsys)
    assert_one_line_error(code, err, needle)


def test_unknown_backend(tmp_path, capsys):
    code, _, err = run_cli(["sim", tmp_path, "--backend", "vivado"], capsys)
    assert code != 0 and "invalid choice" in err


def test_missing_compiler_is_one_line(monkeypatch):
    import dqhw.simulate.hls_csim as csim

    monkeypatch.setattr(csim.shutil, "which", lambda name: None)
    with pytest.raises(DqhwError, match="needs g\\+\\+"):
        csim.find_toolchain()


def test_missing_hls4ml_is_one_line(monkeypatch):
    import dqhw.simulate.hls_csim as csim

    monkeypatch.setattr(csim.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DqhwError, match="pip install --no-deps hls4ml"):
        csim.find_toolchain()
