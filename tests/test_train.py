import json

import numpy as np
import pytest
import torch

from dqhw.config import TrainConfig
from dqhw.infer import predict_logits
from dqhw.runs import load_run
from dqhw.train import train
from tests.conftest import assert_one_line_error, run_cli


def test_run_directory_contents(trained_run):
    for name in ("config.json", "checkpoint.pt", "metrics.json", "layers.json"):
        assert (trained_run / name).is_file(), name
    cfg = json.loads((trained_run / "config.json").read_text())
    assert cfg["bits"] == "2" and cfg["beta"] == 2e-3 and cfg["epochs"] == 4
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 4
    for key in ("loss", "regularizer", "train_acc", "val_acc", "test_acc"):
        assert key in metrics["epochs"][0]
    assert 0 <= metrics["test_acc"] <= 1
    layers = json.loads((trained_run / "layers.json").read_text())["layers"]
    assert len(layers) == 4 and all("spectral_norm_with_bn" in r for r in layers)


def test_checkpoint_round_trip_gives_identical_predictions(trained_run):
    from dqhw.data import load_dataset

    x = load_dataset().x_test[:50]
    a = predict_logits(load_run(trained_run).model, x)
    b = predict_logits(load_run(trained_run).model, x)
    np.testing.assert_array_equal(a, b)
    acc = json.loads((trained_run / "metrics.json").read_text())["test_acc"]
    full = load_run(trained_run)
    from dqhw.infer import accuracy

    assert accuracy(full.model, load_dataset().x_test, load_dataset().y_test) == pytest.approx(acc)


def test_resume_continues_where_it_stopped(tmp_path):
    out = tmp_path / "r"
    train(TrainConfig(bits="3", epochs=2, out=str(out)), progress=False)
    first = torch.load(out / "checkpoint.pt", weights_only=False)
    assert first["epoch"] == 1
    train(TrainConfig(bits="3", epochs=3, out=str(out)), resume=True, progress=False)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]
    assert metrics["epochs"][:2] == first["history"]
    with pytest.raises(Exception, match="already holds a run"):
        train(TrainConfig(bits="3", epochs=3, out=str(out)), progress=False)


@pytest.mark.parametrize("bits,wbits,beta", [("1", "2", 2e-3), ("5", "2", 2e-3), ("fp", "fp", 0.0),
                                             ("2", "1", 0.0)])
def test_other_settings_train(tmp_path, bits, wbits, beta):
    out = train(TrainConfig(bits=bits, wbits=wbits, beta=beta, epochs=3, out=str(tmp_path / "r")),
                progress=False)
    epochs = json.loads((out / "metrics.json").read_text())["epochs"]
    assert all(np.isfinite(e["loss"]) for e in epochs)
    assert epochs[-1]["loss"] < epochs[0]["loss"]  # it learns
    assert epochs[-1]["train_acc"] > 0.15  # above chance (0.1) after three epochs


@pytest.mark.slow
def test_default_train_reaches_90_percent(tmp_path, capsys):
    code, out, err = run_cli(["train", "--bits", "2", "--out", tmp_path / "r", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["test_acc"] >= 0.90


@pytest.mark.parametrize("args,needle", [
    (["--bits", "0"], "--bits"),
    (["--bits", "9"], "--bits"),
    (["--wbits", "0"], "--wbits"),
    (["--model", "resnet9000"], "unknown model"),
    (["--dataset", "mnist"], "unknown dataset"),
    (["--dataset", "cifar10"], "needs --data-dir"),
    (["--dataset", "cifar10", "--data-dir", "/nonexistent/dir"], "does not exist"),
    (["--beta", "-1"], "--beta"),
    (["--resume"], "--resume"),
])
def test_bad_train_input_is_one_line(tmp_path, capsys, args, needle):
    code, _, err = run_cli(["train", "--epochs", "1", "--out", tmp_path / "r", *args]
                           if "--resume" not in args else ["train", *args], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


def test_corrupt_checkpoint_is_one_line(tmp_path, capsys, trained_run):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained_run, bad)
    (bad / "checkpoint.pt").write_bytes(b"\x00garbage")
    code, _, err = run_cli(["train", "--out", bad, "--resume"], capsys)
    assert_one_line_error(code, err, "corrupt")
    from dqhw.errors import DqhwError

    with pytest.raises(DqhwError, match="corrupt"):
        load_run(bad)
