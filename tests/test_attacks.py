"""Attacks on the integer grid, their relative strength, feature squeezing and adversarial training."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from dqhw.attacks import (
    ATTACKS,
    attack_images,
    attack_params,
    check_linf,
    nhwc_to_input,
    pgd_restart,
    pgd_steps,
    pgd_strong,
    restart_starts,
    sample_training_eps,
    to_uint8_grid,
)
from dqhw.data import load_dataset
from dqhw.errors import DqhwError
from dqhw.infer import accuracy
from tests.conftest import assert_one_line_error, run_cli, shared_once

N = 64  # test images used by the strength tests


@contextlib.contextmanager
def one_thread():
    """Tiny models on a shared 2-core machine: two OpenMP threads are up to 10x slower than one under load."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with one_thread():
        yield


def tiny_run(tmp_path_factory, name: str, **kw) -> Path:
    """Train a tiny digits run once per session (shared by the test modules through the directory)."""
    from dqhw.config import TrainConfig
    from dqhw.train import train

    def make(root: Path) -> Path:
        cfg = dict(epochs=4, schedule="cosine", seed=0)
        cfg.update(kw)
        with one_thread():
            train(TrainConfig(out=str(root / name), **cfg), progress=False)
        return root / name

    return shared_once(tmp_path_factory, f"tiny_run-{name}", make)


def target_run(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory, "fp", bits="fp", wbits="fp", beta=0.0)


def substitute_run(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory, "sub", bits="fp", wbits="fp", beta=0.0, width=0.5, seed=1)


def quant_run(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory, "a2", bits="2", wbits="2")


def shared_runs(tmp_path_factory) -> dict[str, Path]:
    """The three runs the attack, set and eval tests share: FP target, FP substitute, 2-bit DQ."""
    return {"target": target_run(tmp_path_factory), "sub": substitute_run(tmp_path_factory),
            "a2": quant_run(tmp_path_factory)}


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits").split("test")


@pytest.fixture(scope="session")
def target(tmp_path_factory):
    from dqhw.runs import load_run

    return load_run(target_run(tmp_path_factory))


@pytest.fixture(scope="session")
def quantized(tmp_path_factory):
    from dqhw.runs import load_run

    return load_run(quant_run(tmp_path_factory))


@pytest.fixture(scope="session")
def substitute(tmp_path_factory):
    from dqhw.runs import load_run

    return load_run(substitute_run(tmp_path_factory))


def test_paper_iteration_count():
    assert [pgd_steps(e) for e in (1, 2, 4, 8, 16)] == [1, 2, 5, 10, 20]
    p = attack_params("pgd", 8)
    assert (p.alpha, p.steps, p.random_start) == (1, 10, True)
    assert attack_params("rfgsm", 9).alpha == 4  # random step ⌊ε/2⌋, gradient step ε − ⌊ε/2⌋ = 5
    assert p.restarts == 1 and p.to_dict()["restarts"] == 1


def test_strong_pgd_settings():
    # α = max(1, ⌈ε/4⌉), 20 steps, 3 restarts, random start; recorded in the provenance dict
    for eps, alpha in ((1, 1), (2, 1), (4, 1), (5, 2), (8, 2), (16, 4), (17, 5), (64, 16)):
        p = attack_params("pgd-strong", eps)
        assert (p.alpha, p.steps, p.restarts, p.random_start) == (alpha, 20, 3, True), (eps, p)
    d = attack_params("pgd-strong", 8).to_dict()
    assert (d["attack"], d["alpha"], d["steps"], d["restarts"]) == ("pgd-strong", 2, 20, 3)
    assert attack_params("pgd-strong", 8, restarts=5, steps=40).to_dict()["restarts"] == 5
    with pytest.raises(DqhwError, match="restarts"):
        attack_params("pgd-strong", 8, restarts=0)
    assert attack_params("autoattack", 8).queries == 5000  # AutoAttack "standard": its Square's own budget
    assert attack_params("autoattack", 8, queries=30).queries == 30


def test_bad_attack_and_eps():
    with pytest.raises(DqhwError, match="unknown attack"):
        attack_params("deepfool", 8)
    for bad in (-1, 256, 2.5):
        with pytest.raises(DqhwError, match="eps"):
            attack_params("fgsm", bad)


def test_to_uint8_grid_rounds_projects_and_clips():
    x = np.array([[0, 10, 250, 128]], dtype=np.uint8)
    adv = np.array([[-3.2, 10.6, 300.0, 119.4]])
    out = to_uint8_grid(adv, x, eps=8)
    assert out.dtype == np.uint8
    assert out.tolist() == [[0, 11, 255, 120]]
    with pytest.raises(DqhwError, match="exceeds eps"):
        check_linf(np.array([[0, 20]], np.uint8), np.array([[0, 10]], np.uint8), 9)


@pytest.mark.parametrize("name", [a for a in ATTACKS if a != "autoattack"])
def test_every_attack_is_uint8_on_grid_within_eps(name, target, digits):
    x, y = digits[0][:24], digits[1][:24]
    p = attack_params(name, 12, queries=30)
    adv = attack_images(target.model, x, y, p, seed=3, batch_size=10)  # several batches
    assert adv.dtype == np.uint8 and adv.shape == x.shape
    d = np.abs(adv.astype(int) - x.astype(int))
    assert d.max() <= 12
    if name != "random":
        assert d.max() > 0
    again = attack_images(target.model, x, y, p, seed=3, batch_size=10)
    np.testing.assert_array_equal(adv, again)  # seeded: reproducible


def test_eps_zero_is_identity(target, digits):
    x, y = digits[0][:16], digits[1][:16]
    for name in ("random", "fgsm", "pgd", "pgd-strong", "square"):
        np.testing.assert_array_equal(attack_images(target.model, x, y, attack_params(name, 0)), x)


def test_strength_ordering_on_trained_model(target, digits):
    x, y = digits[0][:N], digits[1][:N]
    clean = accuracy(target.model, x, y)
    assert clean > 0.8
    acc = {a: accuracy(target.model, attack_images(target.model, x, y, attack_params(a, 32, queries=100)), y)
           for a in ("random", "fgsm", "bim", "pgd", "square")}
    # iterative at least as strong as single-step (PGD's random start costs it a little at α = 1 on 8x8 digits:
    # measured over 3 training seeds PGD − FGSM = −6 .. +1.6 points; BIM 10-20 points below FGSM)
    assert acc["pgd"] <= acc["fgsm"] + 2.5 / N, acc
    assert acc["bim"] <= acc["fgsm"] - 0.05, acc
    assert acc["fgsm"] < clean - 0.15, acc
    assert acc["random"] > acc["fgsm"], acc  # noise is not an attack
    assert acc["square"] < clean - 0.1, acc
    big = accuracy(target.model, attack_images(target.model, x, y, attack_params("pgd", 128, alpha=13, steps=20)), y)
    assert big < 0.1


def test_strong_pgd_at_least_as_strong_as_the_papers(target, quantized, digits):
    """On the trained tiny digits models (FP and 2-bit DQ): PGD-strong never scores above the paper's PGD, and on
    the quantized net it is far stronger (measured on all 360 test images at ε = 32: 48.6 % -> 5.6 %)."""
    x, y = digits[0][:N], digits[1][:N]
    for run in (target, quantized):
        for eps in (16, 32):
            paper = accuracy(run.model, attack_images(run.model, x, y, attack_params("pgd", eps), seed=0), y)
            strong = accuracy(run.model, attack_images(run.model, x, y, attack_params("pgd-strong", eps), seed=0), y)
            assert strong <= paper, (run.path.name, eps, strong, paper)
    paper = accuracy(quantized.model, attack_images(quantized.model, x, y, attack_params("pgd", 32)), y)
    strong = accuracy(quantized.model, attack_images(quantized.model, x, y, attack_params("pgd-strong", 32)), y)
    assert strong <= paper - 0.15, (strong, paper)


def test_strong_pgd_keeps_the_worst_restart(quantized, digits):
    """PGD-strong against its restarts run one by one: per image it returns the first restart that misclassifies,
    else the restart with the lowest margin. One image per call, so every forward pass sees the same batch and
    the comparison is exact."""
    model = quantized.model.eval()
    eps, n, steps = 16, 16, 10  # 10 steps of α = 4 keep the per-image loop short
    x, y = nhwc_to_input(digits[0][:n]), torch.as_tensor(digits[1][:n])
    starts = restart_starts(x.shape, eps, torch.Generator().manual_seed(7), 3)
    again = restart_starts(x.shape, eps, torch.Generator().manual_seed(7), 3)
    assert all(torch.equal(a, b) for a, b in zip(starts, again))  # seeded
    assert not torch.equal(starts[0], starts[1]) and not torch.equal(starts[1], starts[2])  # restarts differ
    disagree, later = 0, 0
    for i in range(n):
        xi, yi = x[i:i + 1], y[i:i + 1]
        own = [s[i:i + 1] for s in starts]
        got = pgd_strong(model, xi, yi, eps, None, steps=steps, starts=own)
        singles = [pgd_restart(model, xi, yi, eps, 4, steps, s) for s in own]
        for img, _, _ in singles:  # every restart's kept iterate is on the grid within ε
            assert torch.equal(img, img.round()) and (img - xi).abs().max() <= eps
            assert img.min() >= 0 and img.max() <= 255
        mis = [bool(s[1][0]) for s in singles]
        margins = [float(s[2][0]) for s in singles]
        k = mis.index(True) if any(mis) else int(np.argmin(margins))
        assert torch.equal(got, singles[k][0]), (i, mis, margins)
        with torch.no_grad():
            assert (model(got).argmax(1) != yi).item() == any(mis)  # misclassified iff some restart was
        disagree += len(set(mis)) > 1
        later += k > 0
    # the case the rule is about occurred: restarts disagreed on some image, and a later restart was kept
    assert disagree >= 1 and later >= 1, (disagree, later)


def test_strong_pgd_is_seeded_and_restarts_add_strength(quantized, digits):
    x, y = digits[0][:N], digits[1][:N]
    p = attack_params("pgd-strong", 16)
    a = attack_images(quantized.model, x, y, p, seed=1)
    np.testing.assert_array_equal(a, attack_images(quantized.model, x, y, p, seed=1))
    assert not np.array_equal(a, attack_images(quantized.model, x, y, p, seed=2))
    one = attack_images(quantized.model, x, y, attack_params("pgd-strong", 16, restarts=1), seed=1)
    # restart 1 of the three-restart run starts exactly where the single restart does
    assert accuracy(quantized.model, a, y) <= accuracy(quantized.model, one, y)


def test_cli_attack_pgd_strong_writes_a_valid_set(tmp_path_factory, tmp_path, capsys):
    import json

    from dqhw.advsets import load_set, save_set
    from dqhw.runs import load_run

    run = quant_run(tmp_path_factory)
    code, out, err = run_cli(["attack", run, "--attack", "pgd-strong", "--eps", "16", "--limit", "20", "--quiet",
                              "--out", tmp_path / "s.npz"], capsys)
    assert code == 0, err
    assert "white-box" in out
    s = load_set(tmp_path / "s.npz", run=load_run(run))
    p = s.provenance
    assert (p["attack"], p["eps"], p["alpha"], p["steps"], p["restarts"], p["mode"]) == (
        "pgd-strong", 16, 4, 20, 3, "white-box")
    assert len(s) == 20 and np.abs(s.images.astype(int) - load_dataset("digits").split("test")[0][s.indices]
                                   .astype(int)).max() <= 16
    # a set written before `restarts` existed still loads
    old = {k: v for k, v in p.items() if k != "restarts"}
    s.provenance = old
    save_set(tmp_path / "old.npz", s)
    assert "restarts" not in load_set(tmp_path / "old.npz", run=load_run(run)).provenance
    assert json.loads(json.dumps(old))["steps"] == 20
    code, _, err = run_cli(["attack", run, "--attack", "pgd-strongest", "--eps", "16", "--quiet"], capsys)
    assert_one_line_error(code, err, "unknown attack")


def test_blackbox_transfer_weaker_than_whitebox(target, substitute, digits):
    assert substitute.model_hash() != target.model_hash()
    x, y = digits[0][:N], digits[1][:N]
    p = attack_params("pgd", 32)
    white = accuracy(target.model, attack_images(target.model, x, y, p), y)
    black = accuracy(target.model, attack_images(substitute.model, x, y, p), y)
    assert black > white, (black, white)


class _NoBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        raise AssertionError("a gradient-free attack asked for a gradient")


class _Guarded(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(_NoBackward.apply(x))


def test_square_uses_no_gradients(target, digits):
    x, y = digits[0][:32], digits[1][:32]
    adv = attack_images(_Guarded(target.model), x, y, attack_params("square", 64, queries=60))
    assert accuracy(target.model, adv, y) < accuracy(target.model, x, y)
    with pytest.raises(AssertionError, match="gradient-free"):
        attack_images(_Guarded(target.model), x, y, attack_params("fgsm", 8))


def test_autoattack_sees_the_rounded_image(target, digits):
    """AutoAttack's model wrapper rounds its [0, 1] input onto the pixel grid (identity backward): off-grid
    candidates are judged as the uint8 image that will be scored."""
    from dqhw.attacks import _Unit
    from dqhw.models import to_input

    x = to_input(digits[0][:8])
    off = (x + 0.4 * torch.sign(torch.randn(x.shape, generator=torch.Generator().manual_seed(0)))).clamp(0, 255)
    u = (off / 255.0).requires_grad_(True)
    model = target.model.eval()
    out = _Unit(model)(u)
    torch.testing.assert_close(out, model(torch.round(off)), rtol=0, atol=1e-5)
    (g,) = torch.autograd.grad(out.sum(), u)
    assert g.abs().sum() > 0  # gradients pass the rounding


def test_autoattack_is_mapped_back_to_the_grid(target, digits):
    pytest.importorskip("pyautoattack")
    x, y = digits[0][:4], digits[1][:4]
    adv = attack_images(target.model, x, y, attack_params("autoattack", 40, queries=20))
    assert adv.dtype == np.uint8 and np.abs(adv.astype(int) - x.astype(int)).max() <= 40
    assert accuracy(target.model, adv, y) <= accuracy(target.model, x, y)


# ---- feature squeezing


def test_squeeze_matches_direct_computation():
    from scipy.ndimage import median_filter

    from dqhw.squeeze import squeeze_images

    img = np.array([[0, 100], [200, 255]], dtype=np.uint8)[None, :, :, None]
    # depth: 100 -> round(100·31/255) = 12 -> round(12·255/31) = 99; 200 -> 24 -> 197; 0, 255 stay
    # median (rows i-1..i, cols j-1..j, edges repeated, upper median): [[0, 99], [197, 197]]
    assert squeeze_images(img)[0, :, :, 0].tolist() == [[0, 99], [197, 197]]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(3, 9, 7, 3), dtype=np.uint8)
    depth = np.rint(np.rint(x * 31.0 / 255.0) * 255.0 / 31.0)
    ref = median_filter(depth, size=(1, 2, 2, 1), mode="reflect")
    np.testing.assert_array_equal(squeeze_images(x), ref.astype(np.uint8))


def test_squeezed_pipeline_bpda_gradient(target, digits):
    from dqhw.attacks import input_grad
    from dqhw.models import to_input
    from dqhw.squeeze import Squeezed, squeeze

    x = to_input(digits[0][:8])
    y = torch.as_tensor(digits[1][:8])
    g = input_grad(Squeezed(target.model), x, y)
    torch.testing.assert_close(g, input_grad(target.model, squeeze(x), y))  # identity backward
    assert g.abs().sum() > 0


# ---- adversarial training


def test_training_eps_distribution():
    gen = torch.Generator().manual_seed(0)
    eps = np.array([sample_training_eps(gen) for _ in range(4000)])
    assert eps.min() == 0 and eps.max() == 16
    assert abs(eps.mean() - 6.4) < 0.4  # E|N(0, 8)| = 8·sqrt(2/π) ≈ 6.38 (clipping and rounding: small shifts)


@pytest.mark.parametrize("kind", ["rfgsm", "pgd"])
def test_adversarial_training_batch(kind, target, digits):
    from dqhw.attacks import adversarial_training_batch
    from dqhw.models import to_input

    x = to_input(digits[0][:16])
    y = torch.as_tensor(digits[1][:16])
    gen = torch.Generator().manual_seed(5)
    changed = False
    for _ in range(4):
        adv = adversarial_training_batch(target.model, x, y, kind, gen)
        assert adv.shape == x.shape and adv.dtype == torch.float32
        assert torch.equal(adv, adv.round()) and adv.min() >= 0 and adv.max() <= 255
        assert (adv - x).abs().max() <= 16
        changed |= bool((adv != x).any())
    assert changed
    with pytest.raises(DqhwError):
        adversarial_training_batch(target.model, x, y, "fgsm", gen)


@pytest.mark.parametrize("kind", ["rfgsm", "pgd"])
def test_train_adv_uses_adversarial_batches(kind, tmp_path, monkeypatch):
    """`dqhw train --adv` goes through adversarial_training_batch (on a 128-image slice of digits)."""
    import dqhw.attacks
    import dqhw.train
    from dqhw.config import TrainConfig

    data = load_dataset("digits")
    data.x_train, data.y_train = data.x_train[:128], data.y_train[:128]
    monkeypatch.setattr(dqhw.train, "load_dataset", lambda *a, **k: data)
    calls = []
    real = dqhw.attacks.adversarial_training_batch

    def spy(model, x, y, k, gen):
        adv = real(model, x, y, k, gen)
        calls.append((k, float((adv - x).abs().max())))
        return adv

    monkeypatch.setattr(dqhw.attacks, "adversarial_training_batch", spy)
    out = dqhw.train.train(TrainConfig(out=str(tmp_path / "adv"), bits="2", adv=kind, epochs=1), progress=False)
    assert (out / "metrics.json").is_file()
    assert len(calls) == 2 and all(k == kind and 0 <= d <= 16 for k, d in calls)
