"""`dqhw eval`: the report, its sanity checks, the bit-width table and error amplification."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dqhw.amplification import activation_modules, normalized_distance
from dqhw.evaluate import (
    Pipeline,
    bit_table,
    default_attacks,
    evaluate,
    markdown,
    sanity_checks,
    strong_vs_paper_tolerance,
    worst_cases,
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
    return evaluate([paths["target"], paths["a2"]], eps=[32, 64],
                    attacks=["random", "fgsm", "pgd", "pgd-strong", "square"],
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
        assert r["columns"] == ["random", "fgsm", "pgd", "pgd-strong", "fgsm(B)", "pgd(B)", "square"]
        assert set(r["columns_n"].values()) == {48} and r["worst_case_subsample"] == {}
        for c in r["columns"]:
            for e in ("32", "64"):
                assert 0.0 <= r["acc"][c][e] <= 1.0
                assert r["worst_case"][e] <= min(r["acc"][c][e], r["clean"])  # per-example worst case
        assert {c["status"] for c in r["checks"]} <= {"pass", "flag", "skip"}
        assert len(r["checks"]) == 7
        strong = next(c for c in r["checks"] if c["name"].startswith("PGD-strong"))
        assert strong["status"] == "pass", strong  # PGD-strong <= PGD (paper)
        large = next(c for c in r["checks"] if "large" in c["name"])
        assert "PGD-strong" in large["detail"] and set(r["large_eps"]["acc"]) == {"pgd-strong", "square"}
    md = (out / "report.md").read_text()
    assert ("| run | clean | Random | FGSM | PGD (paper) | PGD-strong | FGSM(B) | PGD(B) | Square (score-based) "
            "| worst case |") in md
    # Square is score-based, never listed as white-box
    legend = next(line for line in md.splitlines() if line.startswith("noise (no model)"))
    white = next(part for part in legend.split("; ") if part.startswith("white-box"))
    assert "Square" not in white and "PGD-strong" in white
    assert "score-based (the target's logits only, no gradients): Square (score-based)" in legend
    assert "## Sanity checks" in md and "Error amplification" in md
    # error amplification: one row per run and ε, every ε of the analysis, with the values of report.json
    for r in rep["runs"]:
        a = r["amplification"]
        if a is None:
            continue
        assert a["eps"] == [4, 8, 16, 32, 64]
        for e, row in zip(a["eps"], a["D"]):
            assert f"| {r['label']} | {e} | " + " | ".join(f"{v:.3f}" for v in row) + " |" in md, (r["label"], e)
    fp = rep["runs"][0]
    assert fp["clean"] > 0.8 and fp["acc"]["fgsm"]["64"] < fp["clean"] - 0.3
    assert fp["acc"]["pgd(B)"]["32"] > fp["acc"]["pgd"]["32"]  # transfer weaker than white-box
    for r in rep["runs"]:
        for e in ("32", "64"):
            assert r["acc"]["pgd-strong"][e] <= r["acc"]["pgd"][e]
    amp = fp["amplification"]
    assert len(amp["layers"]) == 3 and len(amp["D"]) == len(amp["eps"])
    d_first = [row[0] for row in amp["D"]]
    assert d_first == sorted(d_first) and d_first[0] > 0  # D grows with ε
    # Fig. 3a: on / bypassed under perturbations common to every run (noise, FGSM from the --source run)
    onoff = {r["label"]: r["amplification"]["on_off"] for r in rep["runs"] if r["amplification"]}
    assert {k for t in onoff.values() for k in t} == {"quantizers_bypassed", "noise", "transfer-fgsm"}
    fp_t, q_t = onoff[fp["label"]], onoff[rep["runs"][2]["label"]]
    assert fp_t["quantizers_bypassed"] == 0 and q_t["quantizers_bypassed"] > 0
    assert fp_t["noise"]["32"]["on"] == fp_t["noise"]["32"]["off"]  # nothing to bypass in a float model
    assert q_t["noise"]["32"]["on"] != q_t["noise"]["32"]["off"]
    assert "quantizers on / bypassed" in md and "## Lipschitz readout (BN folded in)" in md
    assert all(r["lipschitz"]["layers"][0]["bn"] is not None for r in rep["runs"] if r["lipschitz"])


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
    # scoring a saved set: robust accuracy, correct clean and on the set's image
    from dqhw.advsets import load_set
    from dqhw.data import load_dataset
    from dqhw.infer import predict_logits

    run = load_run(paths["target"])
    s = load_set(sets[0], run=run)
    x, _ = load_dataset("digits").split("test")
    clean = predict_logits(run.model, x[s.indices]).argmax(1) == s.labels
    adv = predict_logits(run.model, s.images).argmax(1) == s.labels
    assert r["acc"]["fgsm"]["32"] == pytest.approx(float((clean & adv).mean()))


def test_attack_columns_count_clean_errors(paths, tmp_path):
    """An image the model gets wrong clean is an error in every column, even where the perturbation flips it to
    its class — which happens: 9 of the 25 test images the 2-bit digits run gets wrong are right again under
    random noise at ε = 16 (11 of 100 CIFAR-10 images of a weak 2-bit CNV under FGSM at ε = 2)."""
    from dqhw.attacks import attack_images, attack_params
    from dqhw.data import load_dataset
    from dqhw.infer import predict_logits
    from dqhw.sampling import sample_split

    rep = evaluate([paths["a2"]], eps=[16], attacks=["random"], limit=60, progress=False, amplification=False,
                   large_eps=0, out=tmp_path)
    run = load_run(paths["a2"])
    x, y = load_dataset("digits").split("test")
    idx = sample_split(y, "test", 60, 0).indices
    x, y = x[idx], y[idx]
    clean = predict_logits(run.model, x).argmax(1) == y
    adv = predict_logits(run.model, attack_images(run.model, x, y, attack_params("random", 16), seed=0)).argmax(1) == y
    assert (~clean & adv).any()  # the case exists here
    assert rep["runs"][0]["acc"]["random"]["16"] == pytest.approx(float((clean & adv).mean()))


def test_eval_errors(paths, tmp_path, capsys):
    code, _, err = run_cli(["eval", paths["target"], "--attacks", "nope", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, "unknown attack")
    code, _, err = run_cli(["eval", paths["target"], "--eps", "-2", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, "--eps")
    code, _, err = run_cli(["eval", tmp_path / "missing", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, "not a run directory")
    code, _, err = run_cli(["eval", paths["target"], "--autoattack-images", "-1", "--out", tmp_path], capsys)
    assert_one_line_error(code, err, "--autoattack-images")


def test_default_attacks():
    for ds in ("cifar10", "svhn"):
        assert {"pgd", "pgd-strong", "autoattack", "square"} <= set(default_attacks(ds))
    assert "pgd-strong" in default_attacks("digits") and "autoattack" not in default_attacks("digits")


def test_default_attack_list_is_the_data_sets(paths, tmp_path):
    rep = evaluate([paths["a2"]], eps=[64], limit=20, queries=5, progress=False, amplification=False, large_eps=0,
                   out=tmp_path)
    assert rep["attacks"] == list(default_attacks("digits"))
    assert rep["runs"][0]["columns"] == ["random", "fgsm", "rfgsm", "pgd", "pgd-strong", "square"]


def test_autoattack_on_a_subsample(paths, tmp_path):
    """AutoAttack on a stratified sub-sample: the report says on how many images each column ran, gives the
    worst case twice, and (whole split) saves its sets under the name of `dqhw attack --limit M`."""
    pytest.importorskip("pyautoattack")
    from dqhw.advsets import load_set
    from dqhw.data import load_dataset
    from dqhw.sampling import sample_split

    # ε = 64: AutoAttack breaks every image within its first attack (a robust image costs it ~20 s on CPU)
    kw = dict(eps=[64], attacks=["fgsm", "autoattack"], queries=10, progress=False, amplification=False,
              large_eps=0)
    rep = evaluate([paths["a2"]], out=tmp_path / "all", autoattack_images=8, save_sets=True, **kw)
    _, y = load_dataset("digits").split("test")
    r = rep["runs"][0]
    assert r["columns_n"] == {"fgsm": len(y), "autoattack": 8}
    w = r["worst_case_subsample"]["64"]
    assert w["n"] == 8 and w["columns"] == ["fgsm", "autoattack"] and w["acc"] <= r["acc"]["autoattack"]["64"]
    assert r["worst_case"]["64"] <= r["acc"]["fgsm"]["64"]  # all images, without AutoAttack
    aa = rep["autoattack_images"]
    assert (aa["n"], aa["of"], aa["requested"]) == (8, len(y), 8)
    s = load_set(paths["a2"] / "adv" / "autoattack-eps64-test-n8-s0.npz", run=load_run(paths["a2"]))
    np.testing.assert_array_equal(s.indices, sample_split(y, "test", 8, 0).indices)
    md = (tmp_path / "all" / "report.md").read_text()
    assert f"sub-sample of 8 of the {len(y)} evaluated images" in md
    assert (f"| AutoAttack (8 images) | worst case (all {len(y)}, without AutoAttack) "
            "| worst case (8, every column) |") in md

    # a sub-sample of a --limit sample: measured and reported, but not saved (no file name can say which images)
    rep = evaluate([paths["a2"]], out=tmp_path / "lim", limit=24, autoattack_images=8, save_sets=True, **kw)
    assert rep["runs"][0]["columns_n"] == {"fgsm": 24, "autoattack": 8}
    assert any("not saved" in t for t in rep["notes"]) and "not saved" in (tmp_path / "lim" / "report.md").read_text()


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
                "pgd": {8: _acc(40), 16: _acc(10)}, "pgd-strong": {8: _acc(30), 16: _acc(5)},
                "square": {8: _acc(55), 16: _acc(20)}, "pgd(B)": {8: _acc(70), 16: _acc(50)}})
    large = {"eps": 128, "correct": {"pgd": _acc(2), "square": _acc(0)}}
    grad = {"zero_grad_images": 0.0, "zero_grad_entries": 0.01, "nan_images": 0}
    status = {c["name"]: c["status"] for c in sanity_checks(ok, [8, 16], large, grad)}
    assert set(status.values()) == {"pass"}, status

    bad = _pipe({"clean": clean, "random": {8: _acc(50)}, "fgsm": {8: _acc(60)}, "pgd": {8: _acc(75)},
                 "pgd-strong": {8: _acc(90)}, "square": {8: _acc(30)}, "pgd(B)": {8: _acc(70)}})
    checks = sanity_checks(bad, [8], {"eps": 128, "correct": {"pgd": _acc(60), "square": _acc(40)}},
                           {"zero_grad_images": 0.5, "zero_grad_entries": 0.9, "nan_images": 0})
    flagged = {c["name"]: c["detail"] for c in checks if c["status"] == "flag"}
    assert len(flagged) == 6, flagged
    masking = next(d for n, d in flagged.items() if "masking" in n)
    assert "GRADIENT MASKING SUSPECTED" in masking
    assert "Square (score-based) 30.0 vs best white-box FGSM 60.0" in masking
    # 15 images only the paper's PGD breaks, none only PGD-strong: 15 > 1 + 2·√15 ≈ 8.7
    assert "15 images only the paper's PGD breaks, 0 only PGD-strong" in flagged[
        "PGD-strong at least as strong as PGD (paper)"]
    assert "PGD(B)" not in masking

    mono = _pipe({"clean": clean, "fgsm": {8: _acc(40), 16: _acc(60)}})
    assert any(c["status"] == "flag" and "non-increasing" in c["name"] for c in sanity_checks(mono, [8, 16], None,
                                                                                                  None))


def test_strong_vs_paper_within_paired_noise():
    clean = _acc(100)
    paper = _acc(40)
    strong = _acc(35)
    strong[40:46] = True  # 1 point weaker overall: 6 images only the paper breaks, 5 only PGD-strong
    p = _pipe({"clean": clean, "pgd": {8: paper}, "pgd-strong": {8: strong}})
    check = next(c for c in sanity_checks(p, [8], None, None) if c["name"].startswith("PGD-strong"))
    assert check["status"] == "pass" and "tolerance 7.6 images" in check["detail"], check
    assert strong_vs_paper_tolerance(6, 5) == pytest.approx(1 + 2 * 11 ** 0.5)
    strong[46:60] = True  # now 20 vs 5: flagged
    check = next(c for c in sanity_checks(p, [8], None, None) if c["name"].startswith("PGD-strong"))
    assert check["status"] == "flag", check


def test_subsampled_column_is_compared_on_shared_images():
    """AutoAttack measured on images 60..99 only, exactly the ones FGSM breaks: on those, AutoAttack (50 %) is
    weaker than FGSM (0 %) — flagged — although over their own image sets it looks stronger (50 vs 60 %)."""
    clean = _acc(100)
    fgsm = _acc(60)
    aa = np.zeros(100, bool)
    aa[60:80] = True
    sub = np.zeros(100, bool)
    sub[60:] = True
    p = _pipe({"clean": clean, "fgsm": {8: fgsm}, "autoattack": {8: aa}})
    p.measured["autoattack"] = sub
    check = next(c for c in sanity_checks(p, [8], None, None) if c["name"].startswith("iterative"))
    assert check["status"] == "flag", check
    assert "AutoAttack 50.0 vs FGSM 0.0 (on the 40 correctly classified images both were run on)" in check["detail"]
    worst, sub_worst = worst_cases(p, ["fgsm", "autoattack"], [8])
    assert worst == {"8": 0.6}  # all 100 images, FGSM only
    assert sub_worst == {"8": {"acc": 0.0, "n": 40, "columns": ["fgsm", "autoattack"]}}


def test_sanity_checks_use_correctly_classified_images():
    clean = _acc(50)  # images 50..99 are misclassified and stay so
    p = _pipe({"clean": clean, "fgsm": {8: _acc(25)}, "pgd": {8: _acc(20)}})
    detail = next(c["detail"] for c in sanity_checks(p, [8], None, None) if c["name"].startswith("iterative"))
    assert "PGD (paper) 40.0 vs FGSM 50.0" in detail


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
    assert "AutoAttack" not in md.split("## Settings")[0]  # no AutoAttack note without AutoAttack
    rep = {"dataset": "cifar10", "split": "test", "num_images": 10, "seed": 0, "dqhw_version": "x",
           "created": "now", "source": None, "sets": [], "eps": [8], "runs": runs, "bit_table": None,
           "settings": {}, "seconds": 1.0, "autoattack_images": {"requested": 500, "n": 10, "of": 10}}
    assert "AutoAttack: on all 10 images — fewer than the 500 asked for" in markdown(rep)


def test_normalized_distance_and_activation_stages(paths):
    a = [np.array([[3.0, 4.0], [0.0, 0.0]])]
    b = [np.array([[3.0, 0.0], [1.0, 1.0]])]
    assert normalized_distance(a, b) == [pytest.approx(0.8)]  # ‖(0, 4)‖ / ‖(3, 4)‖; the zero row is skipped
    run = load_run(paths["a2"])
    assert len(activation_modules(run.model)) == 3  # QuantReLU's inner ReLU is not a second stage
