"""`dqhw eval`: the report, its sanity checks, the bit-width table and error amplification."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dqhw.evaluate import (
    Pipeline,
    activation_modules,
    bit_table,
    evaluate,
    markdown,
    normalized_distance,
    sanity_checks,
)
from dqhw.runs import load_run
from tests.conftest import assert_one_line_error, run_cli
from tests.test_attacks import one_thread, shared_runs

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return shared_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def report(paths, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    return evaluate([paths["target"], paths["a2"]], eps=[32, 64], attacks=["random", "fgsm", "pgd", "square"],
                    source=paths["sub"], limit=48, queries=40, squeeze=True, out=out, progress=False)


def test_report_files_and_layout(report):
    from pathlib import Path

    out = Path(report["out"])
    assert {"report.md", "report.json", "accuracy_vs_eps.png", "error_amplification.png"} <= {
        p.name for p in out.iterdir()}
    for png in report["plots"]:
        data = (out / png).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    rep = json.loads((out / "report.json").read_text())
    assert rep["eps"] == [32, 64] and rep["num_images"] == 48
    assert len(rep["runs"]) == 4  # two runs, each also behind feature squeezing
    assert [r["squeeze"] for r in rep["runs"]] == [False, True, False, True]
    for r in rep["runs"]:
        assert r["columns"] == ["random", "fgsm", "pgd", "fgsm(B)", "pgd(B)", "square"]
        for c in r["columns"]:
            for e in ("32", "64"):
                assert 0.0 <= r["acc"][c][e] <= 1.0
                assert r["worst_case"][e] <= min(r["acc"][c][e], r["clean"])  # per-example worst case
        assert {c["status"] for c in r["checks"]} <= {"pass", "flag", "skip"}
        assert len(r["checks"]) == 6
    md = (out / "report.md").read_text()
    assert "| run | clean | Random | FGSM | PGD | FGSM(B) | PGD(B) | Square | worst case |" in md
    assert "## Sanity checks" in md and "Error amplification" in md
    fp = rep["runs"][0]
    assert fp["clean"] > 0.8 and fp["acc"]["fgsm"]["64"] < fp["clean"] - 0.3
    assert fp["acc"]["pgd(B)"]["32"] > fp["acc"]["pgd"]["32"]  # transfer weaker than white-box
    amp = fp["amplification"]
    assert len(amp["layers"]) == 3 and len(amp["D"]) == len(amp["eps"])
    d_first = [row[0] for row in amp["D"]]
    assert d_first == sorted(d_first) and d_first[0] > 0  # D grows with ε


def test_evaluate_saved_sets_cli(paths, tmp_path, capsys):
    for args in (["--attack", "fgsm", "--eps", "32"], ["--attack", "pgd", "--eps", "32", "--source", paths["sub"]]):
        code, _, err = run_cli(["attack", paths["target"], *args, "--limit", "24", "--quiet"], capsys)
        assert code == 0, err
    adv = paths["target"] / "adv"
    sets = [adv / "fgsm-eps32-test-n24-s0.npz", adv / f"pgd-eps32-from-{paths['sub'].name}-test-n24-s0.npz"]
    code, out, err = run_cli(["eval", paths["target"], "--sets", *sets, "--out", tmp_path / "r", "--quiet",
                              "--no-amplification", "--large-eps", "0"], capsys)
    assert code == 0, err
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    r = rep["runs"][0]
    assert rep["num_images"] == 24 and rep["eps"] == [32]
    assert r["columns"] == ["fgsm", "pgd(B)"]
    # scoring a saved set gives the accuracy `dqhw attack` reported for it
    from dqhw.advsets import load_set
    from dqhw.infer import accuracy

    run = load_run(paths["target"])
    s = load_set(sets[0], run=run)
    assert r["acc"]["fgsm"]["32"] == pytest.approx(accuracy(run.model, s.images, s.labels))


def test_eval_errors(paths, tmp_path, capsys):
    code, _, err = run_cli(["eval", paths["target"], "--attacks", "nope", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, "unknown attack")
    code, _, err = run_cli(["eval", paths["target"], "--eps", "-2", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, "--eps")
    code, _, err = run_cli(["eval", tmp_path / "missing", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, "not a run directory")


# ---- pieces, on synthetic numbers


def _pipe(correct: dict) -> Pipeline:
    class _Run:
        pass

    return Pipeline(_Run(), None, False, "synthetic", correct)


def _acc(n_correct: int, n: int = 100) -> np.ndarray:
    a = np.zeros(n, bool)
    a[:n_correct] = True
    return a


def test_sanity_checks_flag_masking_and_weak_iterative():
    clean = _acc(100)
    ok = _pipe({"clean": clean, "random": {8: _acc(95), 16: _acc(90)}, "fgsm": {8: _acc(60), 16: _acc(30)},
                "pgd": {8: _acc(40), 16: _acc(10)}, "square": {8: _acc(55), 16: _acc(20)},
                "pgd(B)": {8: _acc(70), 16: _acc(50)}})
    large = {"eps": 128, "correct": {"pgd": _acc(2), "square": _acc(0)}}
    grad = {"zero_grad_images": 0.0, "zero_grad_entries": 0.01, "nan_images": 0}
    status = {c["name"]: c["status"] for c in sanity_checks(ok, [8, 16], large, grad)}
    assert set(status.values()) == {"pass"}, status

    bad = _pipe({"clean": clean, "random": {8: _acc(50)}, "fgsm": {8: _acc(60)}, "pgd": {8: _acc(75)},
                 "square": {8: _acc(30)}, "pgd(B)": {8: _acc(70)}})
    checks = sanity_checks(bad, [8], {"eps": 128, "correct": {"pgd": _acc(60), "square": _acc(40)}},
                           {"zero_grad_images": 0.5, "zero_grad_entries": 0.9, "nan_images": 0})
    flagged = {c["name"]: c["detail"] for c in checks if c["status"] == "flag"}
    assert len(flagged) == 5, flagged
    masking = next(d for n, d in flagged.items() if "masking" in n)
    assert "GRADIENT MASKING SUSPECTED" in masking and "Square 30.0 vs best white-box FGSM 60.0" in masking
    assert "PGD(B)" not in masking

    mono = _pipe({"clean": clean, "fgsm": {8: _acc(40), 16: _acc(60)}})
    assert any(c["status"] == "flag" and "non-increasing" in c["name"] for c in sanity_checks(mono, [8, 16], None,
                                                                                                  None))


def test_sanity_checks_use_correctly_classified_images():
    clean = _acc(50)  # images 50..99 are misclassified and stay so
    p = _pipe({"clean": clean, "fgsm": {8: _acc(25)}, "pgd": {8: _acc(20)}})
    detail = next(c["detail"] for c in sanity_checks(p, [8], None, None) if c["name"].startswith("iterative"))
    assert "PGD 40.0 vs FGSM 50.0" in detail


def test_bit_table_and_markdown():
    def run(label, bits, fam, clean, fgsm):
        return {"label": label, "name": label, "bits": bits, "family": fam, "squeeze": False, "clean": clean,
                "acc": {"fgsm": {"8": fgsm}}, "columns": ["fgsm"], "worst_case": {"8": fgsm}, "checks": []}

    runs = [run("fp", "fp", "FP", 0.95, 0.39), run("v1", "1", "vanilla", 0.94, 0.09),
            run("v2", "2", "vanilla", 0.95, 0.085), run("d1", "1", "DQ", 0.95, 0.513)]
    bt = bit_table(runs, [2, 8, 16])
    assert bt["eps"] == 8 and bt["bits"] == [1, 2] and bt["columns"] == ["clean", "fgsm"]
    assert bt["rows"]["vanilla"]["2"]["fgsm"] == 0.085 and bt["rows"]["FP"]["fp"]["clean"] == 0.95
    assert bit_table(runs[:2], [8]) is None  # one bit width only
    md = markdown({"dataset": "cifar10", "split": "test", "num_images": 10, "seed": 0, "dqhw_version": "x",
                   "created": "now", "source": None, "sets": [], "eps": [8], "runs": runs, "bit_table": bt,
                   "settings": {}, "seconds": 1.0})
    assert "| DQ |  | 95.0 / 51.3 |  |" in md and "No transfer attack" in md


def test_normalized_distance_and_activation_stages(paths):
    a = [np.array([[3.0, 4.0], [0.0, 0.0]])]
    b = [np.array([[3.0, 0.0], [1.0, 1.0]])]
    assert normalized_distance(a, b) == [pytest.approx(0.8)]  # ‖(0, 4)‖ / ‖(3, 4)‖; the zero row is skipped
    run = load_run(paths["a2"])
    assert len(activation_modules(run.model)) == 3  # QuantReLU's inner ReLU is not a second stage
