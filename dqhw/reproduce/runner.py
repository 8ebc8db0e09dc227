"""Execute the units of a plan in order, each through dqhw's own Python API (train, evaluate, build,
run_sim), skipping the done ones; progress lines with an ETA on stderr (plain lines: fine in a log file).

A unit's done record is written only after its outputs are complete, atomically (dqhw.io.write_json: temp
file, then rename), so a `kill -9` at any moment leaves either a finished unit with its record, or an
unfinished one that the next run computes again (a training run resumes from its last epoch checkpoint).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dqhw.errors import DqhwError, MismatchError
from dqhw.reproduce.config import ReproConfig
from dqhw.reproduce.estimate import estimate, hms
from dqhw.reproduce.plan import Unit, read_done, train_progress, write_done


def machine() -> dict:
    import torch

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"host": platform.node(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "load_average_at_start": load}


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def execute(cfg: ReproConfig, out: Path, units: list[Unit], quiet: bool = False,
            say: Callable[[str], None] = _say) -> dict:
    """Run every pending unit; returns {"ran": [...ids], "skipped": [...ids], "seconds": wall}."""
    by_id = {u.id: u for u in units}
    est = {u.id: estimate(u, by_id, cfg) for u in units}
    done = {u.id: read_done(out, u) for u in units}
    todo = [u for u in units if done[u.id] is None]
    say(f"reproduce {cfg.name}: {len(units)} units, {len(units) - len(todo)} done before, {len(todo)} to run "
        f"(estimated {hms(sum(est[u.id] for u in todo))}); output in {out}")
    t_all = time.time()
    spent_est, spent_real = 0.0, 0.0
    ran, skipped = [], []
    width = len(str(len(units)))
    for k, u in enumerate(units, 1):
        tag = f"[{k:>{width}}/{len(units)}] {u.title}"
        if done[u.id] is not None:
            rec = done[u.id]
            say(f"{tag}: done before ({hms(rec['wall_seconds'])}), skipped")
            skipped.append(u.id)
            continue
        missing = [d for d in u.deps if (by_id[d].id not in ran and done.get(d) is None)]
        if missing:  # cannot happen in plan order unless a dependency failed
            raise DqhwError(f"{u.title}: dependency {missing[0]} is not done")
        note = ""
        if u.kind == "train":
            prog = train_progress(u)
            if prog:
                note = f", resuming after epoch {prog[0]}/{prog[1]}"
        say(f"{tag}: running (estimate {hms(est[u.id])}{note})")
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        t0 = time.time()
        result = RUNNERS[u.kind](u, cfg, by_id, quiet, say)
        wall = time.time() - t0
        rec = write_done(out, u, result, wall, started, machine())
        done[u.id] = rec
        ran.append(u.id)
        spent_est += est[u.id]
        spent_real += wall
        scale = min(4.0, max(0.25, spent_real / spent_est)) if spent_est > 0 else 1.0
        left = sum(est[v.id] for v in units[k:] if done[v.id] is None) * scale
        say(f"{tag}: done in {hms(wall)}{_summary(u, result)} | elapsed {hms(time.time() - t_all)} | "
            f"ETA {hms(left)}")
    return {"ran": ran, "skipped": skipped, "seconds": time.time() - t_all}


def _summary(u: Unit, r: dict) -> str:
    if u.kind == "train":
        return f": test accuracy {100 * r['test_acc']:.1f} %"
    if u.kind == "eval":
        return f": {r['num_images']} images, clean {100 * r['runs'][0]['clean']:.1f} %"
    if u.kind == "worst":
        return f": {r['n']} images, software accuracy {100 * r['sw_accuracy']:.1f} %"
    if u.kind == "build":
        return f": {r['estimated_fps']} FPS estimated, RTL proof {r['proof_mismatches']} mismatches"
    if u.kind == "sim":
        return f": {r['total_frames']} frames through the RTL, {r['total_mismatches']} mismatches"
    return ""


# --------------------------------------------------------------------------------------------------
# one function per kind


def run_data(u: Unit, cfg: ReproConfig, by_id, quiet, say) -> dict:
    from dqhw.data import write_stratified_subset

    s = u.settings
    counts = write_stratified_subset(cfg.dataset, cfg.data_dir, s["train_subset"], s["test_subset"], s["seed"],
                                     u.meta["path"])
    return {"path": u.meta["path"], **counts}


def _data_dir(u: Unit, cfg: ReproConfig, by_id) -> str | None:
    key = u.settings.get("data")
    return by_id[key].meta["path"] if isinstance(key, str) and key in by_id else cfg.data_dir


def run_train(u: Unit, cfg: ReproConfig, by_id, quiet, say) -> dict:
    from dqhw.config import TrainConfig
    from dqhw.runs import CHECKPOINT, load_checkpoint, load_run
    from dqhw.train import _write_layer_report, _write_metrics, train

    run_dir = Path(u.meta["run_dir"])
    tc = TrainConfig(**u.meta["train_kwargs"], dataset=cfg.dataset, data_dir=_data_dir(u, cfg, by_id),
                     seed=u.meta["seed"], device=cfg.device, out=str(run_dir), init=u.meta.get("init_dir"))
    state = load_checkpoint(run_dir / CHECKPOINT) if (run_dir / CHECKPOINT).is_file() else None
    if state is not None and int(state["epoch"]) + 1 >= int(u.settings["epochs"]):
        # killed after the last checkpoint, before metrics.json / layers.json / the done record were written
        run = load_run(run_dir)
        _write_metrics(run_dir, run.config, state["history"], run.model, state.get("init"))
        if not (run_dir / "layers.json").is_file():
            _write_layer_report(run_dir, run.model, run.in_shape)
    elif state is not None:
        train(tc, resume=True, progress=not quiet)
    else:
        if run_dir.exists():  # killed before the first checkpoint: start again
            shutil.rmtree(run_dir)
        train(tc, progress=not quiet)
    m = json.loads((run_dir / "metrics.json").read_text())
    epochs = m["epochs"]
    return {"run": str(run_dir), "label": m.get("label"), "test_acc": m["test_acc"], "val_acc": m["val_acc"],
            "epochs": len(epochs), "elapsed": m.get("elapsed"), "model_hash": m.get("model_hash"),
            "seconds_per_epoch": sum(e["seconds"] for e in epochs) / len(epochs),
            "init": m.get("init")}


def run_eval(u: Unit, cfg: ReproConfig, by_id, quiet, say) -> dict:
    from dqhw.evaluate import evaluate

    s = u.settings
    rep = evaluate([u.meta["run_dir"]], eps=s["eps"], attacks=s["attacks"], source=u.meta.get("source_dir"),
                   limit=s["limit"], seed=s["seed"], queries=s["queries"], squeeze=s["squeeze"],
                   out=u.meta["out_dir"], large_eps=s["large_eps"], amplification=s["amplification"],
                   batch_size=s["batch_size"], progress=not quiet and sys.stderr.isatty(),
                   save_sets=s["save_sets"], autoattack_images=s["autoattack_images"], device=cfg.device,
                   log=None if quiet else (lambda m: say(f"    {m}")))
    keep = ("label", "family", "bits", "wbits", "beta", "adv", "squeeze", "clean", "acc", "worst_case",
            "worst_case_subsample", "columns", "columns_n", "amplification")
    runs = []
    for r in rep["runs"]:
        row = {k: r.get(k) for k in keep}
        row["flagged"] = [c["name"] for c in r["checks"] if c["status"] == "flag"]
        runs.append(row)
    aa = rep.get("autoattack_images")
    return {"report": str(Path(rep["out"]) / "report.md"), "num_images": rep["num_images"],
            "sample": rep["sample_text"], "eps": rep["eps"], "runs": runs, "seconds": rep["seconds"],
            "autoattack_images": None if not aa else {k: aa[k] for k in ("n", "of", "requested")}}


def run_worst(u: Unit, cfg: ReproConfig, by_id, quiet, say) -> dict:
    """The per-image worst case over every (unsqueezed) set the strong evaluation saved at ε: per image, the
    clean image or one of its adversarial images, whichever the model misclassifies with the lowest margin
    (true logit minus the largest other); when none is misclassified, the one with the lowest margin. Its
    accuracy is the worst case over those sets: what the RTL is then measured on."""
    from dqhw import __version__
    from dqhw.advsets import FORMAT, FORMAT_VERSION, AdvSet, load_set, save_set
    from dqhw.data import load_dataset
    from dqhw.evaluate import COLUMN_ORDER
    from dqhw.infer import predict_logits
    from dqhw.runs import load_run

    eps = int(u.settings["eps"])
    ev = by_id[u.settings["eval"]]
    run = load_run(u.meta["run_dir"])
    h = run.model_hash()
    seed = ev.settings["seed"]
    sets = []
    for p in sorted((Path(run.path) / "adv").glob(f"*-eps{eps}-*.npz")):
        s = load_set(p, run=run, check_source=False)
        prov = s.provenance
        if (s.eps == eps and not s.squeezed and prov["split"] == "test" and prov.get("target_hash") == h
                and int(prov["seed"]) == seed):
            sets.append(s)
    if not sets:
        raise DqhwError(f"{u.title}: the strong evaluation saved no set at ε = {eps} in {run.path}/adv")

    def col(s: AdvSet) -> str:
        return s.attack + ("(B)" if s.black_box else "")

    sets.sort(key=lambda s: (COLUMN_ORDER.index(col(s)) if col(s) in COLUMN_ORDER else 99, str(s.path)))
    base = max(sets, key=len).indices
    sets = [s for s in sets if np.isin(s.indices, base).all()]
    data = load_dataset(run.config.dataset, run.config.data_dir)
    x, y = data.split("test")
    labels = y[base]
    best = x[base].copy()
    logits = predict_logits(run.model, best)

    def margin(lg: np.ndarray, lab: np.ndarray) -> np.ndarray:
        true = lg[np.arange(len(lab)), lab]
        other = lg.copy()
        other[np.arange(len(lab)), lab] = -np.inf
        return true - other.max(1)

    best_wrong = logits.argmax(1) != labels
    best_margin = margin(logits, labels)
    chosen = np.array(["clean"] * len(base), dtype=object)
    pos_of = {int(v): k for k, v in enumerate(base)}
    for s in sets:
        pos = np.array([pos_of[int(i)] for i in s.indices])
        lg = predict_logits(run.model, s.images)
        wrong = lg.argmax(1) != s.labels
        m = margin(lg, s.labels)
        # a misclassified candidate beats a correct one; between two of the same kind the lower margin wins
        better = (wrong & ~best_wrong[pos]) | ((wrong == best_wrong[pos]) & (m < best_margin[pos]))
        take = pos[better]
        best[take] = s.images[better]
        best_wrong[take], best_margin[take] = wrong[better], m[better]
        chosen[take] = col(s)
    ref = sets[0].provenance
    prov = {"format": FORMAT, "format_version": FORMAT_VERSION, "attack": "worst-case", "eps": eps, "alpha": None,
            "steps": 0, "queries": None, "random_start": False, "restarts": 1, "seed": seed, "split": "test",
            "num_images": int(len(base)), "sample": ref["sample"] if len(sets[0]) == len(base) else None,
            "dataset": run.config.dataset, "image_shape": list(best.shape[1:]), "crafted_by_hash": h,
            "crafted_by_run": str(run.path), "target_run": str(run.path), "target_hash": h, "mode": "worst-case",
            "source_run": None, "squeeze": False, "dqhw_version": __version__,
            "components": [col(s) for s in sets]}
    save_set(u.meta["path"], AdvSet(best, labels.astype(np.int64), base.astype(np.int64), prov))
    load_set(u.meta["path"], run=run)  # the set passes every check a set file gets (labels, indices, ε)
    counts = {c: int((chosen == c).sum()) for c in ["clean"] + [col(s) for s in sets] if (chosen == c).any()}
    return {"path": u.meta["path"], "n": int(len(base)), "sw_accuracy": float((~best_wrong).mean()),
            "components": [col(s) for s in sets], "chosen": counts}


def run_build(u: Unit, cfg: ReproConfig, by_id, quiet, say) -> dict:
    from dqhw.flow.pipeline import BuildOptions, build

    build_dir = Path(u.meta["build_dir"])
    for stale in build_dir.parent.glob(f".{build_dir.name}.*"):  # a killed build's temporary folder
        shutil.rmtree(stale, ignore_errors=True)
    s = u.settings
    opts = BuildOptions(model=u.meta["run_dir"], board=s["board"], out=str(build_dir),
                        verify_frames=s["verify_frames"], prove_frames=s["prove_frames"], synth=s["synth"])
    build(opts, progress=None if quiet else (lambda m: say(f"    build {m}")))
    summ = json.loads((build_dir / "report" / "summary.json").read_text())
    rtl = summ.get("rtl") or {}
    proof = rtl.get("proof") or {}
    if proof.get("mismatches"):
        raise MismatchError(f"{u.title}: the build's RTL proof found {proof['mismatches']} mismatches")
    est = summ["resources"]["estimated"]
    return {"build": str(build_dir), "estimated_fps": summ["estimated_fps"],
            "cycles_per_frame": summ["cycles_per_frame"], "clock_mhz": summ["clock_mhz"],
            "LUT": est.get("LUT"), "BRAM18": est.get("BRAM18"), "DSP": est.get("DSP"),
            "proof_frames": proof.get("frames"), "proof_mismatches": proof.get("mismatches"),
            "fps_measured": rtl.get("fps_measured_at_clock"), "build_seconds": summ.get("build_seconds")}


def run_sim_unit(u: Unit, cfg: ReproConfig, by_id, quiet, say) -> dict:
    """The experiment's clean test split plus the worst-case set through the RTL; with full_test_split
    (a test subset in use) first the data set's whole clean test split too (BUILD/sim/report-full-test.*).
    Shards over the machine's cores; any mismatch fails the unit."""
    from dqhw.data import load_dataset
    from dqhw.io import atomic_path
    from dqhw.reproduce.estimate import sim_jobs
    from dqhw.simsession.session import run_sim

    build_dir = Path(u.meta["build_dir"])
    jobs = sim_jobs()
    full = None
    if u.settings.get("full_test_split"):
        x, y = load_dataset(cfg.dataset, cfg.data_dir, val_fraction=0.0).split("test")
        frames = build_dir / "sim" / "full-test-split.npz"
        frames.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(frames, ".npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, images=x, labels=y)
        if not quiet:
            say(f"    the whole {cfg.dataset} test split ({len(y):,} images) through the RTL, {jobs} shards")
        rep = _checked(run_sim(build_dir, frames=str(frames), progress=not quiet, jobs=jobs), u)
        for ext in ("json", "md"):
            shutil.copyfile(build_dir / "sim" / f"report.{ext}", build_dir / "sim" / f"report-full-test.{ext}")
        r = rep["sets"][0]
        full = {"frames": r["frames"], "rtl_accuracy": r["rtl_accuracy"], "golden_accuracy": r["golden_accuracy"],
                "mismatches": rep["total_mismatches"], "seconds": rep["seconds"],
                "cycles_per_frame": r["cycles_per_frame"], "per_class": r.get("per_class")}
    rep = _checked(run_sim(build_dir, split="test", limit=u.settings["sim_limit"], set_paths=[u.meta["worst"]],
                           progress=not quiet, jobs=jobs), u)
    rows = {}
    for r in rep["sets"]:
        rows[r["set"]] = {"frames": r["frames"], "kind": r["kind"], "rtl_accuracy": r["rtl_accuracy"],
                          "golden_accuracy": r["golden_accuracy"], "sample": r.get("sample"),
                          "clean_pair": (r.get("clean_pair") or {}).get("rtl_accuracy"),
                          "cycles_per_frame": r["cycles_per_frame"], "fps_at_clock": r["fps_at_clock"]}
    total = rep["total_frames"] + (full["frames"] if full else 0)
    amp = _rtl_amplification(u, cfg, build_dir, quiet, say)
    return {"amplification_rtl": amp,
            "total_frames": total, "total_mismatches": rep["total_mismatches"] + (full["mismatches"] if full else 0),
            "sets": rows, "clean_set": "clean-test", "worst_set": Path(u.meta["worst"]).stem,
            "seconds": rep["seconds"] + (full["seconds"] if full else 0), "full_test_split": full, "jobs": jobs}


RTL_AMP_IMAGES = 50  # Fig. 3 from the RTL's internal streams: clean + FGSM frames of this many test images


def _rtl_amplification(u: Unit, cfg: ReproConfig, build_dir: Path, quiet, say) -> dict:
    """Fig. 3 on the hardware: FGSM at the pair's ε on a stratified sample of the test split, D per
    activation layer read from the RTL's internal streams (dqhw.simulate.amplification), next to the
    golden model's D (equal on a bit-exact build) and the Brevitas model's (software)."""
    from dqhw.amplification import activations, normalized_distance
    from dqhw.attacks import attack_images, attack_params
    from dqhw.data import load_dataset
    from dqhw.runs import load_run
    from dqhw.sampling import stratified_indices
    from dqhw.simulate.amplification import rtl_amplification

    run = load_run(u.meta["run_dir"])
    eps = int(u.settings.get("amp_eps") or 8)
    x, y = load_dataset(run.config.dataset, run.config.data_dir).split("test")
    idx = stratified_indices(y, min(RTL_AMP_IMAGES, len(y)), 0)
    clean, labels = x[idx], y[idx]
    adv = attack_images(run.model, clean, labels, attack_params("fgsm", eps), seed=0)
    if not quiet:
        say(f"    error amplification from the RTL's internal streams: FGSM ε = {eps}, {len(idx)} images")
    res = rtl_amplification(build_dir, clean, adv, build_dir / "sim" / "amplification")
    res["D_software"] = normalized_distance(activations(run.model, clean), activations(run.model, adv))
    if not res["equal"]:
        raise MismatchError(f"{u.title}: error amplification from the RTL's streams differs from the golden "
                            f"model's ({res['D_rtl']} vs {res['D_golden']})")
    return res | {"eps": eps, "attack": "fgsm"}


def _checked(rep: dict, u: Unit) -> dict:
    if rep["total_mismatches"] or not rep["passed"]:
        raise MismatchError(f"{u.title}: {rep['total_mismatches']} mismatches between the RTL and the golden "
                            f"model ({'; '.join(rep['failures'][:1])})")
    return rep


RUNNERS = {"data": run_data, "train": run_train, "eval": run_eval, "worst": run_worst, "build": run_build,
           "sim": run_sim_unit}
