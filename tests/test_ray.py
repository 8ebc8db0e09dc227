"""`--executor ray` on a real local Ray cluster of 2 CPUs (one per test session, no dashboard, a small
object store): `dqhw reproduce configs/digits-smoke.toml` gives the serial run's tables while one of its
workers is SIGKILLed mid-unit (Ray retries the unit), and a sharded `dqhw attack` and `dqhw sim` through Ray
equal the serial set and report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dqhw.errors import DqhwError
from tests.conftest import assert_one_line_error, run_cli

ray = pytest.importorskip("ray", reason="Ray is in requirements/base.txt; this environment lacks it")

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "digits-smoke.toml"


@pytest.fixture(scope="session")
def ray_cluster():
    from dqhw.distributed.cluster import connect

    connect(None, 2)  # every --executor ray command of this session joins this cluster
    assert ray.cluster_resources()["CPU"] == 2
    yield ray
    ray.shutdown()


def _kill_one_unit_mid_run(out: Path, stop: threading.Event, killed: list) -> None:
    """SIGKILL the worker process of the first strong evaluation that has been running for 0.5 s (its
    attempt recorded, no done record yet): a real process death in the middle of a unit."""
    while not stop.is_set():
        for rec in sorted((out / "attempts").glob("eval-strong-*.json")):
            done = out / "done" / rec.name
            try:
                attempts = json.loads(rec.read_text())["attempts"]
            except (OSError, ValueError):
                continue
            if done.exists() or len(attempts) != 1 or time.time() - rec.stat().st_mtime < 0.5:
                continue
            os.kill(attempts[0]["pid"], signal.SIGKILL)
            killed.append({"id": rec.stem, "pid": attempts[0]["pid"], "done_at_kill": done.exists()})
            return
        time.sleep(0.05)


@pytest.mark.slow
def test_reproduce_on_ray_survives_a_killed_worker_and_gives_the_serial_tables(ray_cluster, tmp_path, capsys):
    serial, distributed = tmp_path / "serial", tmp_path / "ray"
    code, stdout, err = run_cli(["reproduce", SMOKE, "--out", serial, "--no-hardware", "--quiet"], capsys)
    assert code == 0, err
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_one_unit_mid_run, args=(distributed, stop, killed), daemon=True)
    killer.start()
    try:
        code, stdout, err = run_cli(["reproduce", SMOKE, "--out", distributed, "--no-hardware", "--quiet",
                                     "--executor", "ray"], capsys)
    finally:
        stop.set()
        killer.join()
    assert code == 0, err
    assert "on Ray (2 CPUs, local)" in err and "37 units run, 0 skipped" in stdout
    assert len(killed) == 1 and not killed[0]["done_at_kill"], "no unit was killed mid-run"
    uid = killed[0]["id"]
    attempts = json.loads((distributed / "attempts" / f"{uid}.json").read_text())["attempts"]
    assert len(attempts) == 2 and attempts[1]["pid"] != killed[0]["pid"]  # retried in a new worker process
    rec = json.loads((distributed / "done" / f"{uid}.json").read_text())
    assert rec["machine"]["executor"] == "ray" and rec["machine"]["attempt"] == 2
    assert "(attempt 2: its earlier worker died)" in err
    # the same units with the same done results, and the same tables
    names = [sorted(p.name for p in (d / "done").iterdir()) for d in (serial, distributed)]
    assert names[0] == names[1]
    assert (distributed / "tables.md").read_text() == (serial / "tables.md").read_text()
    verdict = [v["outcome"] for v in json.loads((serial / "results.json").read_text())["verdict"]]
    assert [v["outcome"] for v in json.loads((distributed / "results.json").read_text())["verdict"]] == verdict
    # the serial run's folder through Ray: every unit done before, nothing submitted, the same report
    report = (serial / "report.md").read_text()
    code, stdout, err = run_cli(["reproduce", SMOKE, "--out", serial, "--no-hardware", "--quiet", "--executor", "ray"],
                                capsys)
    assert code == 0, err
    assert "0 units run, 37 skipped" in stdout and (serial / "report.md").read_text() == report


SIM_KEYS = ("set", "kind", "frames", "mismatches", "rtl_accuracy", "golden_accuracy", "per_class", "clean_pair",
            "cycles_per_frame", "deadlock", "tlast_ok")


@pytest.mark.slow
@pytest.mark.rtl
def test_attack_and_sim_shards_on_ray_equal_the_serial_ones(ray_cluster, digits_build, tmp_path, capsys):
    run = Path(json.loads((digits_build / "build.json").read_text())["run"])
    sets = {}
    for name, extra in (("serial", []), ("ray", ["--executor", "ray", "--jobs", "2"])):
        out = tmp_path / f"fgsm-{name}.npz"
        code, stdout, err = run_cli(["attack", run, "--attack", "fgsm", "--eps", 32, "--limit", 200, "--out", out,
                                     "--quiet", *extra], capsys)
        assert code == 0, err
        sets[name] = np.load(out)
    assert "merged from 2 shards" in stdout
    for key in ("images", "labels", "indices"):
        assert np.array_equal(sets["serial"][key], sets["ray"][key]), key
    reports = {}
    build = tmp_path / "build"  # dqhw sim writes BUILD/sim: a copy, not the build other tests read
    shutil.copytree(digits_build, build)
    for name, extra in (("serial", ["--jobs", 1]), ("ray", ["--executor", "ray", "--jobs", 2])):
        code, stdout, err = run_cli(["sim", build, "--limit", 200, "--sets", tmp_path / "fgsm-serial.npz",
                                     "--quiet", *extra], capsys)
        assert code == 0, err
        reports[name] = json.loads((build / "sim" / "report.json").read_text())
    assert "(Ray, 2 shards)" in stdout
    assert reports["ray"]["shards"] == 2 and reports["ray"]["executor"] == "ray"
    assert reports["ray"]["total_frames"] == reports["serial"]["total_frames"] == 400
    assert reports["ray"]["total_mismatches"] == reports["serial"]["total_mismatches"] == 0
    for a, b in zip(reports["serial"]["sets"], reports["ray"]["sets"], strict=True):
        assert {k: a.get(k) for k in SIM_KEYS} == {k: b.get(k) for k in SIM_KEYS}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: a cuda device is no error here")
def test_cuda_on_a_cluster_without_gpus_is_one_line_not_a_task_waiting_forever(ray_cluster, trained_run, capsys):
    from dqhw.distributed.cluster import cluster_device

    assert cluster_device(ray, "auto") == "cpu"
    with pytest.raises(DqhwError, match="the Ray cluster has no GPU"):
        cluster_device(ray, "cuda")
    code, _, err = run_cli(["attack", trained_run, "--attack", "fgsm", "--eps", 8, "--executor", "ray",
                            "--device", "cuda"], capsys)
    assert_one_line_error(code, err, "no CUDA device available")
    # on a cluster (--address: this session's, already joined) the cluster's resources decide
    code, _, err = run_cli(["attack", trained_run, "--attack", "fgsm", "--eps", 8, "--executor", "ray",
                            "--address", "auto", "--device", "cuda"], capsys)
    assert_one_line_error(code, err, "the Ray cluster has no GPU")
    code, _, err = run_cli(["reproduce", SMOKE, "--out", trained_run.parent / "no-gpu", "--executor", "ray",
                            "--device", "cuda"], capsys)
    assert_one_line_error(code, err, "no CUDA device available")


@pytest.mark.parametrize("argv, needle", [
    (["reproduce", SMOKE, "--address", "auto", "--plan"], "--address and --jobs are for --executor ray"),
    (["sim", "nonexistent-build", "--address", "auto"], "--address is for --executor ray"),
    (["attack", "nonexistent-run", "--attack", "fgsm", "--eps", "8", "--jobs", "2"], "for --executor ray"),
    (["attack", "r", "--attack", "fgsm", "--eps", "8", "--executor", "ray", "--shard", "0/2"], "not with --shard"),
])
def test_executor_flag_errors_are_one_line(argv, needle, capsys):
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, needle)
