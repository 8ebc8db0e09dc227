"""`dqhw reproduce`: config validation, stable unit ids, the verdict rules, and the digits-smoke config end to
end: killed with SIGKILL after its first unit, resumed (finished units skipped), rerun (identical tables),
one evaluation redone (identical tables); the hardware stage (build + RTL simulation) as a slow test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from dqhw.errors import DqhwError
from dqhw.reproduce.config import load_config, parse_config
from dqhw.reproduce.plan import make_plan
from dqhw.reproduce.verdict import DOES_NOT, PARTLY, REPRODUCES, TIE
from tests.conftest import assert_one_line_error, run_cli

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "digits-smoke.toml"


def _raw() -> dict:
    return tomllib.loads(SMOKE.read_text())


def _bad(edit) -> str:
    raw = _raw()
    edit(raw)
    with pytest.raises(DqhwError) as e:
        parse_config(raw, Path("x.toml"))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("x.toml")
    return msg


@pytest.mark.parametrize("edit, needle", [
    (lambda r: r.pop("experiment"), "missing [experiment]"),
    (lambda r: r["experiment"].update(colour="red"), "unknown key 'colour'"),
    (lambda r: r["models"]["dq"].update(bits=["2", "9"]), "bits"),
    (lambda r: r["models"]["dq"].update(bits=["2", "2"]), "listed twice"),
    (lambda r: r["models"]["dq"].update(lr=-1.0), "--lr must be > 0"),
    (lambda r: r["models"]["dq"].update(frobnicate=1), "unknown key 'frobnicate'"),
    (lambda r: r["models"]["dq"].update(seeds_at={"4": [0, 1]}), "seeds_at"),
    (lambda r: r["models"]["vanilla"].update(init="dq") or r["models"]["dq"].update(init="vanilla"), "cycle"),
    (lambda r: r["models"]["fp"].update(role="substitute"), "at most one substitute"),
    (lambda r: r["experiment"].update(dataset="cifar10"), "needs a data_dir"),
    (lambda r: r["eval"]["paper"].update(groups=["nope"]), "'nope' is not a model group"),
    (lambda r: r["eval"]["paper"].update(attacks=["laser"]), "laser"),
    (lambda r: r["eval"]["paper"].update(eps=[300]), "eps"),
    (lambda r: r["eval"].pop("paper"), "needs [eval.paper]"),
    (lambda r: r["hardware"].update(eps=8), "must be one of [eval.strong] eps"),
    (lambda r: r["hardware"].update(seed=5), "no run at bits 2, seed 5"),
    (lambda r: r["hardware"].update(enabled=False), "needs a reason"),
    (lambda r: r["verdict"][0].update(metric="square"), "does not run 'square'"),
    (lambda r: r["verdict"][0].update(better="DQQ"), "not a family"),
    (lambda r: r["verdict"][0].update(better="FP W8"), "not a family"),
    (lambda r: r["verdict"][0].update(margin=-1), "margin: must be a number of percentage points >= 0"),
    (lambda r: r["verdict"][0].update(eps=8), "must be one of [eval.paper] eps"),
])
def test_config_errors(edit, needle):
    assert needle in _bad(edit)


def test_config_file_errors(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment\nname = 1")
    with pytest.raises(DqhwError, match="not valid TOML"):
        load_config(bad)
    code, _, err = run_cli(["reproduce", str(tmp_path / "missing.toml"), "--plan"], capsys)
    assert_one_line_error(code, err, "no such config file")
    code, _, err = run_cli(["reproduce", str(bad), "--plan"], capsys)
    assert_one_line_error(code, err, "not valid TOML")


def test_shipped_configs_load_and_plan(capsys):
    """Every reproduce config under configs/ validates; the CPU config's estimate stays within its budget
    (about 3 hours: the paper's quantizer trains every model from scratch)."""
    shipped = [p for p in sorted((ROOT / "configs").glob("*.toml")) if p.read_text().startswith("# dqhw reproduce")]
    assert {p.name for p in shipped} >= {"digits-smoke.toml", "cifar10-cpu.toml", "cifar10-paper.toml"}
    for path in shipped:
        load_config(path)
    code, out, err = run_cli(["reproduce", ROOT / "configs" / "cifar10-cpu.toml", "--plan", "--out", "/nonexistent"],
                             capsys)
    assert code == 0, err
    assert "CIFAR-10 (JPEG copy)" in out
    total = out.strip().splitlines()[-1]
    assert total.startswith("total: 48 units"), total
    est = total.split("estimated ")[1].split(" ")[0]  # 2h00m or 59m30s
    if "h" in est:
        minutes = int(est.split("h")[0]) * 60 + int(est.split("h")[1].rstrip("m"))
    else:
        minutes = int(est.split("m")[0])
    assert minutes <= 185, total


def test_unit_ids_are_stable_and_follow_settings(tmp_path):
    cfg = load_config(SMOKE)
    a = make_plan(cfg, tmp_path)
    b = make_plan(load_config(SMOKE), tmp_path)
    assert [u.id for u in a] == [u.id for u in b]
    assert len({u.id for u in a}) == len(a)
    # --no-hardware drops the hardware units but keeps every other id (the evaluations included)
    soft = make_plan(cfg, tmp_path, hardware=False)
    assert [u.id for u in soft] == [u.id for u in a if u.kind not in ("worst", "build", "sim")]
    raw = _raw()
    raw["models"]["dq"]["epochs"] = 4
    c = make_plan(parse_config(raw, SMOKE), tmp_path)
    changed = [(u.kind, u.name, u.meta.get("group")) for u, v in zip(a, c) if u.id != v.id]
    assert {("train", "dq-a2-s0", "dq"), ("eval", "paper-dq-a2-s0", "dq")} <= set(changed)
    # the hardware twin starts from dq's 2-bit seed-0 run: it (and its build and simulation) follows
    assert {("train", "dq-w8-a2-s0", "dq-w8"), ("sim", "dq-w8-a2-s0", "dq-w8")} <= set(changed)
    assert {g for _, _, g in changed} == {"dq", "dq-w8"}  # nothing of the other groups is recomputed
    twin = next(u for u in a if u.kind == "train" and u.name == "dq-w8-a2-s0")
    assert twin.settings["init"] == next(u.id for u in a if u.kind == "train" and u.name == "dq-a2-s0")


def test_full_test_split_goes_through_the_rtl_when_a_subset_is_used(tmp_path):
    """cifar10-cpu evaluates on a 2,000-image test subset; its sim units also put the whole 10,000-image
    CIFAR-10 test split through the RTL (full_test_split, default on), and the estimate counts those
    frames; switched off, the sim units' ids change and nothing else does."""
    from dqhw.reproduce.estimate import estimate

    path = ROOT / "configs" / "cifar10-cpu.toml"
    raw = tomllib.loads(path.read_text())
    on = make_plan(parse_config(raw, path), tmp_path)
    sims = [u for u in on if u.kind == "sim"]
    assert len(sims) == 2 and all(u.settings["full_test_split"] for u in sims)
    raw["hardware"]["full_test_split"] = False
    cfg_off = parse_config(raw, path)
    off = make_plan(cfg_off, tmp_path)
    assert {u.kind for u, v in zip(on, off) if u.id != v.id} == {"sim"}
    cfg_on = parse_config(tomllib.loads(path.read_text()), path)
    by_on, by_off = {u.id: u for u in on}, {u.id: u for u in off}
    more = [estimate(u, by_on, cfg_on) - estimate(v, by_off, cfg_off) for u, v in zip(on, off) if u.kind == "sim"]
    assert all(m > 0 for m in more)
    # a data set used whole has nothing more to add
    assert not any(u.settings["full_test_split"] for u in make_plan(load_config(SMOKE), tmp_path) if u.kind == "sim")


# --------------------------------------------------------------------------------------------------
# end to end on digits


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The smoke config without hardware, SIGKILLed after its first unit, then resumed to the end."""
    out = tmp_path_factory.mktemp("reproduce") / "smoke"
    cmd = [sys.executable, "-m", "dqhw", "reproduce", str(SMOKE), "--out", str(out), "--no-hardware", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    while not list((out / "done").glob("train-*.json")) and time.time() - t0 < 120 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = sorted((out / "done").glob("*.json"))
    assert first, "no unit finished before the kill"
    assert not (out / "report.md").exists()
    rec = json.loads(first[0].read_text())
    ckpt = Path(rec["result"]["run"]) / "checkpoint.pt"
    stamp = ckpt.stat().st_mtime_ns
    t = time.time()
    resumed = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    return {"out": out, "first": rec, "ckpt": ckpt, "stamp": stamp, "log": resumed.stderr,
            "stdout": resumed.stdout, "seconds": time.time() - t}


def test_resume_after_kill_skips_finished_units(smoke):
    assert f"train {smoke['first']['name']}: done before" in smoke["log"]
    assert smoke["ckpt"].stat().st_mtime_ns == smoke["stamp"]  # the finished run was not touched
    assert "units run" in smoke["stdout"]


def test_smoke_outputs(smoke):
    out = smoke["out"]
    report = (out / "report.md").read_text()
    for section in ("## Verdict", "## Table 1", "worst case", "## Tables 2 and 3 style", "## Table 3 style",
                    "## Fig. 3", "## Compute used", "Not run (--no-hardware)"):
        assert section in report, section
    res = json.loads((out / "results.json").read_text())
    assert res["dataset_label"].startswith("sklearn digits")
    assert len(res["verdict"]) == 7
    assert all(v["outcome"] in (REPRODUCES, PARTLY, DOES_NOT, TIE) for v in res["verdict"])
    assert "tie within noise" in report and "margin" in report
    # the BN-folded Lipschitz readout of every trained run (digits' tiny net: 3 convs with BN + a classifier)
    lip = report.split("## Lipschitz readout (BN folded in, from each run's layers.json)", 1)[1]
    assert "| run | mean relative residual" in lip and lip.count("\n| ") >= 5
    two_seeds = [c for c in res["cells"] if c["profile"] == "paper" and c["bits"] == "2" and c["metric"] == "clean"
                 and c["family"] in ("vanilla", "DQ")]
    assert len(two_seeds) == 2 and all(len(c["values"]) == 2 for c in two_seeds)
    assert "±" in (out / "tables.md").read_text()
    # every comparison's outcome follows its difference and its noise margin (seed spread + 2 binomial SE)
    for v in res["verdict"]:
        for row in v["rows"]:
            assert row["margin"] == pytest.approx(row["seed_spread"] + 2 * row["se"] + v["rule"]["margin"])
            d, m = row["diff_points"], row["margin"]
            assert row["outcome"] == (REPRODUCES if d > m else DOES_NOT if -d > m else TIE)
            assert row["n_better"] == row["n_worse"] == 60
    # the hardware twins (8-bit weights) have rows of their own beside the float-weight nets
    assert {c["family"] for c in res["cells"] if c["profile"] == "strong"} >= {"DQ", "DQ W8", "vanilla W8",
                                                                               "FP+DQ+rfgsm", "FP+rfgsm"}
    assert {c["family"] for c in res["cells"] if c["profile"] == "squeeze"} == {"FP", "FP + FS", "FP+DQ",
                                                                                "FP+DQ + FS"}
    assert {p.name for p in (out / "plots").iterdir()} >= {"table1_accuracy_vs_bits.png",
                                                           "fig3_error_amplification.png", "strong_attacks.png"}


def test_rerun_is_idempotent_and_redone_units_give_identical_tables(smoke, capsys):
    out = smoke["out"]
    tables, report = (out / "tables.md").read_text(), (out / "report.md").read_text()
    code, stdout, err = run_cli(["reproduce", SMOKE, "--out", out, "--no-hardware", "--quiet"], capsys)
    assert code == 0, err
    assert "0 units run" in stdout
    assert (out / "tables.md").read_text() == tables and (out / "report.md").read_text() == report
    # a lost done record (as after a kill between the outputs and the record): that unit alone runs again
    rec = next((out / "done").glob("eval-paper-dq-a2-s0-*.json"))
    rec.unlink()
    code, stdout, err = run_cli(["reproduce", SMOKE, "--out", out, "--no-hardware", "--quiet"], capsys)
    assert code == 0, err
    assert "1 units run" in stdout
    assert (out / "tables.md").read_text() == tables
    # killed after a training run's last checkpoint, before its metrics and done record: finished from the
    # checkpoint, not trained again
    rec = next((out / "done").glob("train-dq-a1-s0-*.json"))
    run = Path(json.loads(rec.read_text())["result"]["run"])
    stamp = (run / "checkpoint.pt").stat().st_mtime_ns
    for p in (rec, run / "metrics.json", run / "layers.json"):
        p.unlink()
    code, stdout, err = run_cli(["reproduce", SMOKE, "--out", out, "--no-hardware", "--quiet"], capsys)
    assert code == 0, err
    assert "1 units run" in stdout
    assert (run / "layers.json").is_file() and (run / "checkpoint.pt").stat().st_mtime_ns == stamp
    assert (out / "tables.md").read_text() == tables


@pytest.mark.slow
@pytest.mark.rtl
def test_smoke_hardware_stage(smoke, capsys):
    """The [hardware] units on top of the finished software units: the 2-bit pair built and simulated
    (the whole test split + the worst-case set), 0 mismatches, the RTL columns in the tables."""
    out = smoke["out"]
    code, stdout, err = run_cli(["reproduce", SMOKE, "--out", out, "--quiet"], capsys)
    assert code == 0, err
    assert "6 units run" in stdout  # worst, build, sim for each of the pair; nothing else redone
    res = json.loads((out / "results.json").read_text())
    assert len(res["hardware"]) == 2
    for hw in res["hardware"].values():
        assert hw["sim"]["total_mismatches"] == 0
        assert hw["sim"]["sets"]["clean-test"]["frames"] == 360
        assert hw["worst"]["n"] == 60
        amp = hw["sim"]["amplification_rtl"]  # Fig. 3 from the RTL's own streams
        assert amp["equal"] and amp["images"] == 50 and len(amp["D_rtl"]) == len(amp["D_software"]) > 0
        assert all(abs(a - b) < 0.02 for a, b in zip(amp["D_rtl"], amp["D_software"]))
    tables = (out / "tables.md").read_text()
    assert "RTL worst case (seed 0)" in tables and "RTL clean (whole test split, seed 0)" in tables
    assert "RTL = GOLDEN MODEL" in (out / "report.md").read_text()
    assert "| RTL streams |" in (out / "report.md").read_text()
