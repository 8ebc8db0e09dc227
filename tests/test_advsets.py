"""Adversarial set files: contents, provenance round trip, `dqhw attack`, and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dqhw.advsets import AdvSet, craft_set, load_set, save_set
from dqhw.cli import main
from dqhw.data import load_dataset
from dqhw.errors import DqhwError
from dqhw.runs import load_run
from tests.conftest import assert_one_line_error, run_cli
from tests.test_attacks import one_thread, shared_runs


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """Copies of the shared runs without their adv/: these tests write and list RUN/adv/, which
    tests/test_eval.py writes into at the same time under pytest-xdist."""
    root = tmp_path_factory.mktemp("advsets-runs")
    return {k: Path(shutil.copytree(p, root / p.name, ignore=shutil.ignore_patterns("adv")))
            for k, p in shared_runs(tmp_path_factory).items()}


@pytest.fixture(scope="module")
def test_split():
    return load_dataset("digits").split("test")


@pytest.mark.parametrize("attack", ["random", "fgsm", "rfgsm", "bim", "pgd", "square"])
def test_cli_attack_writes_valid_set(attack, paths, test_split, capsys):
    run = paths["a2"]
    rc = main(["attack", str(run), "--attack", attack, "--eps", "16", "--limit", "20", "--queries", "20", "--quiet"])
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    path = run / "adv" / f"{attack}-eps16-test-n20-s0.npz"  # the split and the sample are in the name
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"images", "labels", "indices", "provenance"}
        assert z["images"].dtype == np.uint8 and z["labels"].dtype == np.int64 and z["indices"].dtype == np.int64
        assert z["provenance"].dtype.kind == "U"
    s = load_set(path, run=load_run(run))
    x, y = test_split
    assert len(s.indices) == 20 and np.all(np.diff(s.indices) > 0)
    assert len(np.unique(y[s.indices])) == 10  # a stratified sample, all ten digits
    np.testing.assert_array_equal(s.labels, y[s.indices])
    assert s.images.shape == (20, 8, 8, 1)
    assert np.abs(s.images.astype(int) - x[s.indices].astype(int)).max() <= 16
    p = s.provenance
    mode = {"square": "score-based", "random": "noise"}.get(attack, "white-box")
    assert (p["attack"], p["eps"], p["mode"], p["split"], p["dataset"]) == (attack, 16, mode, "test", "digits")
    assert p["sample"]["size"] == 20 and p["sample"]["of"] == len(y) and p["sample"]["method"] == "stratified"
    assert p["crafted_by_hash"] == load_run(run).model_hash() and p["image_shape"] == [8, 8, 1]
    assert not [f for f in (run / "adv").iterdir() if f.name.startswith(".")]  # no temp files left


def test_cli_blackbox_set(paths, capsys):
    rc = main(["attack", str(paths["target"]), "--attack", "fgsm", "--eps", "32", "--source", str(paths["sub"]),
               "--limit", "16", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    s = load_set(paths["target"] / "adv" / f"fgsm-eps32-from-{paths['sub'].name}-test-n16-s0.npz",
                 run=load_run(paths["target"]))
    assert s.black_box and s.provenance["crafted_by_hash"] == load_run(paths["sub"]).model_hash()
    assert s.provenance["target_hash"] == load_run(paths["target"]).model_hash()


def test_provenance_round_trip(paths, tmp_path):
    run = load_run(paths["target"])
    s = craft_set(run, "pgd", 8, limit=10, seed=7)
    out = save_set(tmp_path / "x.npz", s)
    back = load_set(out, run=run)
    assert back.provenance == s.provenance
    assert json.loads(json.dumps(s.provenance)) == s.provenance
    np.testing.assert_array_equal(back.images, s.images)
    assert (back.provenance["alpha"], back.provenance["steps"], back.provenance["seed"]) == (1, 10, 7)
    for key in ("dqhw_version", "target_run", "crafted_by_run", "random_start", "num_images"):
        assert key in back.provenance


# ---- errors: one line, non-zero exit


def test_unknown_attack(paths, capsys):
    code, _, err = run_cli(["attack", paths["target"], "--attack", "deepfool", "--eps", "8"], capsys)
    assert_one_line_error(code, err, "unknown attack 'deepfool'")


@pytest.mark.parametrize("eps", ["-1", "300", "2.5"])
def test_bad_eps(eps, paths, capsys):
    code, _, err = run_cli(["attack", paths["target"], "--attack", "fgsm", "--eps", eps], capsys)
    assert_one_line_error(code, err, "--eps")


def test_not_a_run(tmp_path, capsys):
    code, _, err = run_cli(["attack", tmp_path / "nope", "--attack", "fgsm", "--eps", "8"], capsys)
    assert_one_line_error(code, err, "not a run directory")


def test_source_from_another_dataset_shape(paths, tmp_path, capsys):
    from dqhw import runs
    from dqhw.config import TrainConfig

    cfg = TrainConfig(dataset="cifar10", bits="2", out=str(tmp_path / "cifar-sub"))
    model = runs.build_from_config(cfg, (32, 32, 3), 10)  # an untrained run of another data set is enough
    runs.save_checkpoint(tmp_path / "cifar-sub" / runs.CHECKPOINT, {
        "model": model.state_dict(), "config": cfg.to_dict(), "in_shape": [32, 32, 3], "num_classes": 10})
    code, _, err = run_cli(["attack", paths["target"], "--attack", "fgsm", "--eps", "8", "--source",
                            tmp_path / "cifar-sub"], capsys)
    assert_one_line_error(code, err, "was trained on cifar10")


def _good_set(paths) -> AdvSet:
    return craft_set(load_run(paths["target"]), "fgsm", 16, limit=8)


def test_corrupt_set_file(paths, tmp_path, capsys):
    bad = tmp_path / "corrupt.npz"
    good = save_set(tmp_path / "good.npz", _good_set(paths))
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])  # truncated
    with pytest.raises(DqhwError, match="corrupt or unreadable"):
        load_set(bad)
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file at all")
    code, _, err = run_cli(["eval", paths["target"], "--sets", tmp_path / "garbage.npz", "--quiet",
                            "--out", tmp_path / "rep"], capsys)
    assert_one_line_error(code, err, "corrupt or unreadable")


def test_set_from_another_dataset_shape(paths, tmp_path, capsys):
    s = _good_set(paths)
    s.images = np.zeros((8, 32, 32, 3), np.uint8)
    s.provenance = {**s.provenance, "dataset": "cifar10", "image_shape": [32, 32, 3]}
    path = save_set(tmp_path / "cifar.npz", s)
    code, _, err = run_cli(["eval", paths["target"], "--sets", path, "--quiet", "--out", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "does not fit run")


def test_wrong_dtype_missing_key_and_eps_violation(paths, tmp_path):
    s = _good_set(paths)
    prov = np.array([json.dumps(s.provenance)])
    np.savez(tmp_path / "f.npz", images=s.images.astype(np.float32), labels=s.labels, indices=s.indices,
             provenance=prov)
    with pytest.raises(DqhwError, match="must be uint8"):
        load_set(tmp_path / "f.npz")
    np.savez(tmp_path / "m.npz", images=s.images, labels=s.labels, provenance=prov)
    with pytest.raises(DqhwError, match="missing indices"):
        load_set(tmp_path / "m.npz")
    far = s.images.copy()
    far[0, 0, 0, 0] = 255 if far[0, 0, 0, 0] < 128 else 0
    save_set(tmp_path / "far.npz", AdvSet(far, s.labels, s.indices, s.provenance))
    with pytest.raises(DqhwError, match="exceeds eps 16"):
        load_set(tmp_path / "far.npz", run=load_run(paths["target"]))
    wrong = AdvSet(s.images, (s.labels + 1) % 10, s.indices, s.provenance)
    save_set(tmp_path / "lab.npz", wrong)
    with pytest.raises(DqhwError, match="labels do not match"):
        load_set(tmp_path / "lab.npz", run=load_run(paths["target"]))


def test_attack_shards_merge_into_the_whole_set(paths, capsys):
    """`dqhw attack --shard i/n` on n machines + `--merge` = the set one run writes (FGSM is
    deterministic per image); shard files stay out of RUN/adv/ (sim and build read every set there)."""
    run = paths["target"]
    common = ["attack", str(run), "--attack", "fgsm", "--eps", "24", "--limit", "30", "--quiet"]
    assert main(common) == 0
    whole = load_set(run / "adv" / "fgsm-eps24-test-n30-s0.npz", run=load_run(run))
    (run / "adv" / "fgsm-eps24-test-n30-s0.npz").unlink()
    for i in range(3):
        assert main([*common, "--shard", f"{i}/3"]) == 0
    shards = sorted((run / "adv" / "shards").glob("fgsm-eps24-test-n30-s0.shard*of3.npz"))
    assert len(shards) == 3 and not (run / "adv" / "fgsm-eps24-test-n30-s0.npz").exists()
    assert sum(len(load_set(p, check_source=False)) for p in shards) == 30
    code, _, err = run_cli(["attack", run, "--merge", shards[0], shards[2]], capsys)
    assert_one_line_error(code, err, "shard 1/3 is missing")
    code, out, err = run_cli(["attack", run, "--merge", *shards], capsys)
    assert code == 0, err
    merged = load_set(run / "adv" / "fgsm-eps24-test-n30-s0.npz", run=load_run(run))
    np.testing.assert_array_equal(merged.indices, whole.indices)
    np.testing.assert_array_equal(merged.images, whole.images)
    assert merged.provenance["merged_shards"] == 3 and "shard" not in merged.provenance
    assert merged.provenance["sample"] == whole.provenance["sample"]
    for p in [*shards, run / "adv" / "fgsm-eps24-test-n30-s0.npz"]:
        p.unlink()
