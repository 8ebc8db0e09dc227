"""The opt-in training levers (per-channel weight scales, first/last-layer bits, learned activation
range, LR warm-up, --init / --distill), the full-precision beta rule, per-epoch seconds and the plain
progress lines for files/pipes. The paper-faithful default is checked to stay what it was."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dqhw.config import TrainConfig
from dqhw.errors import DqhwError
from dqhw.train import _Log, _lr_at, distill_loss, load_init, train
from tests.conftest import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def fp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("levers") / "fp"
    return train(TrainConfig(bits="fp", wbits="fp", epochs=2, out=str(out)), progress=False)


@pytest.fixture(scope="module")
def lever_run(tmp_path_factory):
    """tiny on digits with every model lever on, 2 epochs (also built in test_train_levers_build)."""
    out = tmp_path_factory.mktemp("levers") / "all"
    return train(TrainConfig(bits="2", wbits="2", weight_scaling="per-channel", first_last_bits="8",
                             act_range="learned", warmup_epochs=1, epochs=2, out=str(out)), progress=False)


# ---------------------------------------------------------------- validation: one line, non-zero exit

@pytest.mark.parametrize("args,needle", [
    (["--weight-scaling", "per-row"], "--weight-scaling"),
    (["--act-range", "auto"], "--act-range"),
    (["--first-last-bits", "0"], "--first-last-bits"),
    (["--first-last-bits", "1"], "--first-last-bits"),
    (["--first-last-bits", "9"], "--first-last-bits"),
    (["--first-last-bits", "fp"], "--first-last-bits"),
    (["--first-last-bits", "x"], "--first-last-bits"),
    (["--warmup-epochs", "-1"], "--warmup-epochs"),
    (["--warmup-epochs", "2"], "--warmup-epochs"),  # not smaller than --epochs 1
    (["--warmup-epochs", "1.5"], "--warmup-epochs"),
    (["--bits", "fp", "--act-range", "learned"], "--act-range"),
    (["--wbits", "fp", "--first-last-bits", "8"], "--first-last-bits"),
    (["--wbits", "fp", "--weight-scaling", "per-channel"], "--weight-scaling"),
    (["--distill", "4"], "--distill"),
    (["--init", "/nonexistent/run"], "--init"),
])
def test_bad_lever_values_are_one_line(tmp_path, capsys, args, needle):
    code, _, err = run_cli(["train", "--epochs", "1", "--out", tmp_path / "r", *args], capsys)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


def test_bad_distill_temperature_and_foreign_init_are_one_line(tmp_path, capsys, fp_run):
    code, _, err = run_cli(["train", "--epochs", "1", "--out", tmp_path / "a", "--init", fp_run,
                            "--distill", "0"], capsys)
    assert_one_line_error(code, err, "--distill")
    code, _, err = run_cli(["train", "--epochs", "1", "--out", tmp_path / "b", "--init", fp_run,
                            "--width", "0.5"], capsys)
    assert_one_line_error(code, err, "--init")
    assert not (tmp_path / "b" / "checkpoint.pt").exists()


# ---------------------------------------------------------------- full precision: beta 0 unless given

def test_full_precision_means_no_dq_unless_beta_is_given():
    assert TrainConfig().validate().beta == 2e-3  # quantized default unchanged
    fp = TrainConfig(bits="fp", wbits="fp").validate()
    assert fp.beta == 0.0 and fp.label() == "fp" and fp.run_name() == "tiny-digits-fp-s0"
    fpdq = TrainConfig(bits="fp", wbits="fp", beta=2e-3).validate()
    assert fpdq.beta == 2e-3 and fpdq.label() == "fp+dq" and fpdq.run_name() == "tiny-digits-fp+dq-s0"
    # only activations float: still a quantized model, the paper's beta
    assert TrainConfig(bits="fp", wbits="2").validate().beta == 2e-3
    assert TrainConfig(bits="2", beta=0.0).validate().label() == "A2W2 vanilla"
    # an unvalidated config (e.g. written by a helper) saves the resolved value
    assert TrainConfig(bits="fp", wbits="fp").to_dict()["beta"] == 0.0


def test_fp_run_saves_beta_0_and_says_fp(fp_run):
    assert json.loads((fp_run / "config.json").read_text())["beta"] == 0.0
    metrics = json.loads((fp_run / "metrics.json").read_text())
    assert metrics["label"] == "fp" and metrics["regularizer"] == 0.0


# ---------------------------------------------------------------- seconds per epoch, elapsed, log lines

def test_epoch_seconds_are_per_epoch_and_elapsed_is_cumulative(trained_run, tmp_path):
    epochs = json.loads((trained_run / "metrics.json").read_text())["epochs"]
    sec = [e["seconds"] for e in epochs]
    ela = [e["elapsed"] for e in epochs]
    assert all(b > a for a, b in zip(ela, ela[1:]))
    for i in range(1, len(epochs)):
        span = ela[i] - ela[i - 1]
        assert 0.5 * span <= sec[i] <= span + 1e-6, (i, sec, ela)
    assert sum(sec) <= ela[-1] + 1e-6
    # resume: elapsed goes on from where the first session stopped
    out = tmp_path / "r"
    train(TrainConfig(epochs=1, out=str(out)), progress=False)
    first = json.loads((out / "metrics.json").read_text())["epochs"][0]["elapsed"]
    train(TrainConfig(epochs=2, out=str(out)), resume=True, progress=False)
    second = json.loads((out / "metrics.json").read_text())["epochs"][1]
    assert second["elapsed"] >= first + second["seconds"] - 1e-6


def test_output_to_a_file_gets_plain_progress_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_Log, "LOG_EVERY_S", 0.0)  # a step line at every step, not every 30 s
    code, out, err = run_cli(["train", "--epochs", "2", "--out", tmp_path / "r"], capsys)
    assert code == 0, err
    lines = err.strip().splitlines()
    done = [ln for ln in lines if " done: " in ln]
    assert len(done) == 2 and done[0].startswith("train r epoch 1/2 done")
    assert all("img/s" in ln and "ETA" in ln and "test " in ln for ln in done)
    steps = [ln for ln in lines if " step " in ln]
    assert len(steps) >= 10 and all("img/s" in ln and "ETA" in ln for ln in steps)
    assert "\x1b[" not in err  # no terminal escapes in a file
    assert "test accuracy" in out
    # --quiet: nothing
    code, _, err = run_cli(["train", "--epochs", "1", "--out", tmp_path / "q", "--quiet"], capsys)
    assert code == 0 and err.strip() == ""


# ---------------------------------------------------------------- the levers do what they say

def test_warmup_ramps_then_follows_the_schedule():
    cfg = TrainConfig(epochs=8, warmup_epochs=2, lr=0.1).validate()
    lrs = [_lr_at(cfg, e, s, 10) for e in range(8) for s in range(10)]
    assert lrs[0] == pytest.approx(0.1 / 20) and lrs[19] == pytest.approx(0.1)
    assert all(b > a for a, b in zip(lrs[:20], lrs[1:20]))
    assert lrs[20] == pytest.approx(0.1) and lrs[40] == pytest.approx(0.01)  # step at 50 %
    cos = TrainConfig(epochs=8, warmup_epochs=2, lr=0.1, schedule="cosine").validate()
    c = [_lr_at(cos, e, s, 10) for e in range(8) for s in range(10)]
    assert c[20] == pytest.approx(0.1) and c[-1] < 0.002 and c[19] == pytest.approx(0.1)
    no = TrainConfig(epochs=8, lr=0.1).validate()
    assert _lr_at(no, 0, 0, 10) == 0.1  # default: no warm-up
    assert [_lr_at(no, e, 0, 10) for e in (3, 4, 5, 6)] == pytest.approx([0.1, 0.01, 0.01, 0.001])
    one = TrainConfig(epochs=1, lr=0.1).validate()
    assert _lr_at(one, 0, 5, 10) == 0.1  # one epoch: no milestone at epoch 0 (it trained at lr / 100)


def test_learned_range_trains_and_reloads(lever_run):
    from dqhw.quant import quantizer_parameters
    from dqhw.runs import load_run

    run = load_run(lever_run)  # config.json rebuilds the lever model; strict state-dict load
    assert run.config.act_range == "learned" and run.config.weight_scaling == "per-channel"
    ranges = [p.item() for p in quantizer_parameters(run.model)]
    assert len(ranges) == 3  # one per activation of tiny (three conv blocks)
    assert all(abs(r - 6.0) > 1e-3 for r in ranges), ranges  # initialised at 6, trained away from it
    assert "pc-fl8-alearn" in run.config.run_name()
    assert json.loads((lever_run / "metrics.json").read_text())["label"] == "A2W2 DQ (pc, fl8, alearn)"


def test_init_copies_the_weights_and_starts_at_the_init_runs_accuracy(fp_run, tmp_path):
    from dqhw.models import build_model
    from dqhw.runs import load_run

    # identical architecture: the start is the init run itself
    out = train(TrainConfig(bits="fp", wbits="fp", epochs=1, init=str(fp_run), out=str(tmp_path / "same")),
                progress=False)
    init = json.loads((out / "metrics.json").read_text())["init"]
    assert init["test_acc_at_start"] == pytest.approx(json.loads((fp_run / "metrics.json").read_text())["test_acc"])
    # a quantized model from the fp run: every conv/linear/BN tensor equal, quantizer params left alone
    cfg = TrainConfig(bits="2", wbits="2", act_range="learned", init=str(fp_run)).validate()
    model = build_model("tiny", cfg.quant_spec(), (8, 8, 1), 10)
    info = load_init(model, cfg, (8, 8, 1), 10)
    src = load_run(fp_run).model.state_dict()
    own = model.state_dict()
    shared = [k for k in own if k in src]
    assert len(shared) == 4 + 3 * 5 and info["quantizer_keys_not_loaded"] > 0
    for k in shared:
        assert torch.equal(own[k], src[k]), k
    bad = TrainConfig(bits="2", wbits="2", init=str(fp_run), width=0.5).validate()
    with pytest.raises(DqhwError, match="--init"):
        load_init(build_model("tiny", bad.quant_spec(), (8, 8, 1), 10, width=0.5), bad, (8, 8, 1), 10)


def test_calibrated_range_is_the_grid_point_of_least_squared_error():
    """dqhw.calibrate.best_range against a plain loop over the same candidate grid."""
    from dqhw import calibrate

    x = torch.randn(4000, dtype=torch.float64) * 1.5 + 0.5
    for bits in (1, 2, 3):
        levels = 2 ** bits - 1
        errs = []
        for i in range(1, calibrate.GRID + 1):
            r = 6.0 * i / calibrate.GRID
            q = [r / levels * round(min(max(v, 0.0), r) * levels / r) for v in x.tolist()]
            errs.append(sum((a - min(max(v, 0.0), 6.0)) ** 2 for a, v in zip(q, x.tolist())) / len(q))
        best = 6.0 * (int(np.argmin(errs)) + 1) / calibrate.GRID
        r, mse, mse_max = calibrate.best_range(x, 6.0, bits)
        assert r == pytest.approx(best) and mse == pytest.approx(min(errs)) and mse_max == pytest.approx(errs[-1])
        assert r < 6.0  # a N(0.5, 1.5) pre-activation never wants the whole ReLU6 range


def test_init_from_fp_calibrates_learned_ranges_and_starts_better(fp_run, tmp_path):
    """--init FP --act-range learned: the ranges start where the FP activations are, layer by layer,
    not at 6 (where a 1-bit activation fires only above 3.0 and the model starts near chance)."""
    from dqhw import calibrate
    from dqhw.data import load_dataset
    from dqhw.infer import accuracy
    from dqhw.models import build_model

    data = load_dataset("digits")
    cfg = TrainConfig(bits="1", wbits="2", act_range="learned", init=str(fp_run)).validate()
    model = build_model("tiny", cfg.quant_spec(), data.shape, 10)
    load_init(model, cfg, data.shape, 10)
    before = accuracy(model, data.x_test, data.y_test)
    records = calibrate.calibrate_learned_ranges(model, data.x_train, 6.0, seed=0)
    after = accuracy(model, data.x_test, data.y_test)
    assert [r["layer"] for r in records] == [n for n, _, _ in calibrate.learned_range_acts(model)]
    assert len(records) == 3 and all(r["mse"] <= r["mse_at_max"] for r in records)
    assert after > before, (before, after)
    out = train(TrainConfig(bits="1", wbits="2", act_range="learned", epochs=1, init=str(fp_run),
                            out=str(tmp_path / "cal")), progress=False)
    init = json.loads((out / "metrics.json").read_text())["init"]
    assert init["calibrated_ranges"] == [r["range"] for r in records]  # same seed, same sample
    assert init["test_acc_at_start"] == pytest.approx(after)
    # fixed ranges (the paper's) are never touched
    fixed = train(TrainConfig(bits="1", wbits="2", epochs=1, init=str(fp_run), out=str(tmp_path / "fixed")),
                  progress=False)
    assert "calibrated_ranges" not in json.loads((fixed / "metrics.json").read_text())["init"]


def test_distillation_trains_from_the_teacher(fp_run, tmp_path):
    a = torch.randn(8, 10)
    assert float(distill_loss(a, a, 4.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(distill_loss(a, torch.randn(8, 10), 4.0)) > 0
    out = train(TrainConfig(bits="2", wbits="2", epochs=2, init=str(fp_run), distill=4.0, out=str(tmp_path / "kd")),
                progress=False)
    m = json.loads((out / "metrics.json").read_text())
    assert all(np.isfinite(e["loss"]) for e in m["epochs"]) and m["config"]["distill"] == 4.0
    assert m["test_acc"] > 0.5


# ---------------------------------------------------------------- the levers stay buildable, bit-exact

@pytest.mark.rtl
def test_lever_run_builds_and_its_rtl_is_proven_bit_exact(lever_run, tmp_path, capsys):
    """`dqhw build` on a trained run with per-channel scales, 8-bit first/last weights and learned
    activation ranges: the build verifies golden vs Brevitas/qonnx/finn and proves the RTL in Verilator
    against the golden model (every logit), so a passing build is bit-exact."""
    from qonnx.custom_op.registry import getCustomOp

    from tests.build_helpers import TEST_FPS, load_dataflow

    out = tmp_path / "build"
    code, stdout, err = run_cli(["build", lever_run, "--out", out, "--target-fps", TEST_FPS, "--verify-frames", "16",
                                 "--exec-frames", "2", "--no-synth", "--quiet"], capsys)
    assert code == 0, err
    info = json.loads((out / "build.json").read_text())
    assert info["rtl"]["proof"]["passed"] and info["rtl"]["proof"]["mismatches"] == 0
    assert json.loads((out / "report" / "summary.json").read_text())["verification"]["passed"] is True
    w_bits = [getCustomOp(n).rtl_params()["W_BITS"] for n in load_dataflow(out).get_nodes_by_op_type("DqhwMVAU")]
    assert w_bits == [8, 2, 2, 8]  # the levers reached the hardware
