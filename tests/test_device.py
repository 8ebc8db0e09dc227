"""`--device` (cpu | cuda[:N] | auto) of train, eval, attack and reproduce: on this CPU machine auto is the
CPU and gives what cpu gives; asking for CUDA where torch has none is one error line before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dqhw.device import OnDevice, resolve_device
from dqhw.errors import DqhwError
from tests.conftest import assert_one_line_error, run_cli

ROOT = Path(__file__).resolve().parents[1]
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the absent-GPU error "
                                                                 "cannot happen here")


def test_resolve_device_names():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("gpu", "cuda:x", "CPU", ""):
        with pytest.raises(DqhwError, match="--device must be cpu, cuda"):
            resolve_device(bad)
    model = torch.nn.Linear(2, 2)
    assert OnDevice("cpu")(model) is model  # the CPU path is the model itself: CPU results unchanged


@no_cuda
@pytest.mark.parametrize("argv", [
    ["train", "--epochs", "1", "--device", "cuda"],
    ["eval", "RUN", "--device", "cuda"],
    ["attack", "RUN", "--attack", "fgsm", "--eps", "8", "--device", "cuda:1"],
    ["reproduce", str(ROOT / "configs" / "digits-smoke.toml"), "--device", "cuda", "--out", "OUT"],
])
def test_cuda_asked_for_and_absent_is_one_line(argv, trained_run, tmp_path, capsys):
    argv = [str(trained_run) if a == "RUN" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    if argv[0] == "train":
        argv += ["--out", str(tmp_path / "run")]
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, "no CUDA device available on this machine")
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()  # nothing started


def test_attack_on_device_auto_equals_cpu(trained_run, tmp_path, capsys):
    sets = []
    for device in ("cpu", "auto"):
        out = tmp_path / f"pgd-{device}.npz"
        code, stdout, err = run_cli(["attack", trained_run, "--attack", "pgd", "--eps", 16, "--limit", 40,
                                     "--device", device, "--out", out, "--quiet"], capsys)
        assert code == 0, err
        sets.append(np.load(out)["images"])
    if torch.cuda.is_available():
        pytest.skip("auto is cuda here: the GPU's PGD need not be bit-identical to the CPU's")
    assert np.array_equal(sets[0], sets[1])


def test_eval_device_cpu_report(trained_run, tmp_path, capsys):
    code, stdout, err = run_cli(["eval", trained_run, "--attacks", "fgsm", "--eps", 16, "--limit", 40,
                                 "--no-amplification", "--large-eps", 0, "--device", "auto", "--out",
                                 tmp_path / "ev", "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "ev" / "report.json").is_file()
