"""The end-to-end slice on the embedded data set, through the same commands a user types:
train (2-bit DQ) -> attack (FGSM, PGD) -> build (FINN flow, RTL, FIFO sizing) -> sim (Verilator).
The RTL must agree with the golden model on every frame of the clean test split and both sets."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.rtl]


@pytest.fixture(scope="module")
def slice_dirs(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


def test_train_attack_build_sim(slice_dirs, capsys):
    run, build = slice_dirs / "run", slice_dirs / "build"
    code, _, err = run_cli(["train", "--bits", "2", "--epochs", "12", "--out", run, "--quiet"], capsys)
    assert code == 0, err
    for attack, limit in (("fgsm", 120), ("pgd", 60)):
        code, _, err = run_cli(["attack", run, "--attack", attack, "--eps", "32", "--limit", limit, "--quiet"],
                               capsys)
        assert code == 0, err
    code, out, err = run_cli(["build", run, "--board", "pynq-z2", "--out", build, "--quiet"], capsys)
    assert code == 0, err
    info = json.loads((build / "build.json").read_text())
    rtl = info["rtl"]
    # measured in Verilator during FIFO sizing, within 10 % of FINN's analytic estimate
    assert abs(rtl["cycles_per_frame_measured"] - rtl["cycles_per_frame_estimated"]) <= \
        0.1 * rtl["cycles_per_frame_estimated"]
    assert (build / "board" / "build_bitstream.tcl").is_file() and "Vivado" in rtl["bitstream"]
    # the generated top and dqhw's modules lint clean (finn-plus' own templates are not ours to fix)
    from dqhw.rtlgen.generate import Design
    from dqhw.simulate.verilator import lint

    design = Design.load(build / "rtl")
    res = lint([build / "rtl" / f for f in design.files], top="dqhw_accel")
    ours = [w for w in res.warnings if "dqhw_" in w.split(":")[1]]
    assert not ours, ours

    code, out, err = run_cli(["sim", build, "--quiet"], capsys)
    assert code == 0, err
    report = json.loads((build / "sim" / "report.json").read_text())
    assert report["passed"] and report["total_mismatches"] == 0
    assert report["engine"] == "cocotb"  # --engine auto: a short run keeps cocotb and the build's compile
    by_set = {r["set"]: r for r in report["sets"]}
    fgsm, pgd = "fgsm-eps32-test-n120-s0", "pgd-eps32-test-n60-s0"
    assert set(by_set) == {"clean-test", fgsm, pgd}  # every clean source image is in clean-test: no extra run
    assert by_set["clean-test"]["frames"] == 360 and by_set[pgd]["frames"] == 60
    assert by_set[pgd]["clean_pair"]["frames"] == 60 and by_set[pgd]["clean_pair"]["split"] == "test"
    for r in report["sets"]:
        assert r["rtl_accuracy"] == r["golden_accuracy"]
        assert r["cycles_per_frame"] == rtl["cycles_per_frame_measured"]
        assert not r["deadlock"] and r["tlast_ok"]
    # the adversarial sets really are adversarial on the hardware
    assert by_set[fgsm]["rtl_accuracy"] < by_set[fgsm]["clean_pair"]["rtl_accuracy"]
    assert (build / "sim" / "report.md").read_text().count("| 0/0/0 |") == 3
    full_rows = by_set

    # a --limit sample of each set: the adversarial sets' clean sources missing from the clean sample run
    # as extra clean rows, so every adversarial row is paired with its own clean images, on the RTL
    code, out, err = run_cli(["sim", build, "--limit", "20", "--quiet"], capsys)
    assert code == 0, err
    report = json.loads((build / "sim" / "report.json").read_text())
    assert report["passed"] and report["total_mismatches"] == 0
    rows = {r["set"]: r for r in report["sets"]}
    assert rows["clean-test"]["frames"] == 20 and rows[pgd]["frames"] == 20
    assert f"clean-test-sources-of-{pgd}" in rows and rows[pgd]["clean_pair"]["frames"] == 20
    assert sum(rows["clean-test"]["per_class"].values()) == 20 and len(rows["clean-test"]["per_class"]) == 10

    # every set again, clocked by the bare C++ main instead of cocotb, in 2 shards: the same model, so
    # the same classes and the same cycles per frame as the cocotb run of every set above
    code, out, err = run_cli(["sim", build, "--engine", "cpp", "--jobs", "2", "--quiet"], capsys)
    assert code == 0, err
    cpp = json.loads((build / "sim" / "report.json").read_text())
    assert cpp["engine"] == "cpp" and cpp["shards"] == 2 and cpp["passed"] and cpp["total_mismatches"] == 0
    cpp_rows = {r["set"]: r for r in cpp["sets"]}
    assert set(cpp_rows) == set(full_rows)
    for name, r in full_rows.items():
        c = cpp_rows[name]
        assert (c["frames"], c["rtl_accuracy"], c["cycles_per_frame"]) == \
            (r["frames"], r["rtl_accuracy"], r["cycles_per_frame"]), name
    assert "bare C++ main" in (build / "sim" / "report.md").read_text()


def test_error_amplification_from_the_rtl_streams(slice_dirs):
    """Fig. 3 on the hardware: D per activation layer read from the RTL's internal streams for clean and
    FGSM frames equals the golden model's D exactly, and the Brevitas model's (an independent float
    computation) to float precision, layer by layer."""
    from dqhw.advsets import load_set
    from dqhw.amplification import activation_modules, activations, normalized_distance
    from dqhw.data import load_dataset
    from dqhw.runs import load_run
    from dqhw.simulate.amplification import rtl_amplification

    run_dir, build = slice_dirs / "run", slice_dirs / "build"
    if not (build / "sim" / "report.json").is_file():
        pytest.skip("needs the build and Verilator run of test_train_attack_build_sim (run the module)")
    run = load_run(run_dir)
    s = load_set(run_dir / "adv" / "fgsm-eps32-test-n120-s0.npz", run=run)
    x, _ = load_dataset(run.config.dataset, run.config.data_dir).split("test")
    clean, adv = x[s.indices[:30]], s.images[:30]
    res = rtl_amplification(build, clean, adv, slice_dirs / "amp")
    assert res["equal"] and res["images"] == 30
    software = normalized_distance(activations(run.model, clean), activations(run.model, adv))
    assert len(res["D_rtl"]) == len(software) == len(activation_modules(run.model))
    assert all(abs(a - b) < 1e-4 for a, b in zip(res["D_rtl"], software)), (res["D_rtl"], software)
    assert all(d > 0 for d in res["D_rtl"])  # FGSM at ε = 32 moves every layer


@pytest.mark.hls
def test_hls_csim_of_the_slice(slice_dirs, capsys):
    """The same build's HLS C++ (BUILD/hls, written by the build) C-simulated with g++ on the same sets:
    every logit and class equal to the golden model's (no extra build: the slice's own)."""
    from dqhw.errors import DqhwError
    from dqhw.simulate.hls_csim import find_toolchain

    build = slice_dirs / "build"
    if not (build / "sim" / "report.json").is_file():
        pytest.skip("needs the build and Verilator run of test_train_attack_build_sim (run the module)")
    try:
        find_toolchain()
    except DqhwError as e:
        pytest.skip(f"HLS C-simulation toolchain missing: {e}")
    assert (build / "hls" / "run_vitis.tcl").is_file() and (build / "hls" / "hls.json").is_file()
    code, out, err = run_cli(["sim", build, "--backend", "hls", "--quiet"], capsys)
    assert code == 0, err
    assert "backend=hls" in out
    report = json.loads((build / "sim" / "report-hls.json").read_text())
    assert report["backend"] == "hls" and report["passed"] and report["total_mismatches"] == 0
    rows = {r["set"]: r for r in report["sets"]}
    # the sets of the full Verilator run above (the RTL equalled the golden model on each)
    assert {k: r["frames"] for k, r in rows.items()} == {"clean-test": 360, "fgsm-eps32-test-n120-s0": 120,
                                                          "pgd-eps32-test-n60-s0": 60}
    for r in rows.values():
        assert r["rtl_accuracy"] == r["golden_accuracy"] and r["mismatches"] == {"labels": 0, "logits": 0,
                                                                                 "missing": 0}
    assert rows["pgd-eps32-test-n60-s0"]["clean_pair"]["frames"] == 60
    assert "backend=hls" in (build / "sim" / "report-hls.md").read_text()
