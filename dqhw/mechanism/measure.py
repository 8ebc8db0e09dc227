"""Measurements of one run of the mechanism experiment, written to OUT/measure/<run>.json:

- `layers`: the Lipschitz readout per layer (dqhw.lipschitz) and its network summary;
- `d`: D per activation layer with quantizers on and bypassed, under the common perturbations
  (uniform noise, FGSM transferred from the config's source) at every d_eps;
- `robust`: accuracy on the test subset, clean and under each attack at every robust_eps, and the
  per-image worst case (an image counts as robust only if it is classified correctly clean and under
  every attack).

The common perturbations are made once (`common_perturbations`, OUT/common/*.npz) and read by every run.
Run as `python -m dqhw.mechanism.measure CONFIG RUN --out OUT` (the runner does, one process per run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from dqhw.io import atomic_path, write_json
from dqhw.mechanism.config import MechanismConfig, RunSpec, load, run_dir, subset_path

COMMON_KINDS = ("noise", "transfer-fgsm")


def measure_path(cfg: MechanismConfig, run: RunSpec) -> Path:
    return Path(cfg.out) / "measure" / f"{run.name}.json"


def _common_file(cfg: MechanismConfig, kind: str, eps: int) -> Path:
    return Path(cfg.out) / "common" / f"{kind}-eps{eps}.npz"


def test_split(cfg: MechanismConfig) -> tuple[np.ndarray, np.ndarray]:
    with np.load(subset_path(cfg)) as z:
        return z["x_test"], z["y_test"].astype(np.int64)


def common_perturbations(cfg: MechanismConfig, say) -> None:
    """Noise and transferred FGSM at every d_eps, transferred PGD at every robust_eps (uint8 sets)."""
    from dqhw.amplification import noise_set, transfer_set
    from dqhw.runs import load_run

    x, y = test_split(cfg)
    m = cfg.measure
    source = None
    wanted = [("noise", e) for e in m["d_eps"]] + [("transfer-fgsm", e) for e in m["d_eps"]]
    wanted += [("transfer-pgd", e) for e in m["robust_eps"]]
    for kind, eps in wanted:
        path = _common_file(cfg, kind, eps)
        if path.is_file():
            continue
        if kind == "noise":
            images = noise_set(x, eps, int(m.get("noise_seed", 0)))
        else:
            if source is None:
                source = load_run(run_dir(cfg, cfg.run(m["transfer_source"]))).model.eval()
            images = transfer_set(source, x, y, kind.split("-", 1)[1], eps, int(m.get("attack_seed", 0)))
        with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, images=images)
        say(f"common: {kind} eps {eps} -> {path}")


def _load_common(cfg: MechanismConfig, kind: str, eps: int) -> np.ndarray:
    with np.load(_common_file(cfg, kind, eps)) as z:
        return z["images"]


def _correct(model, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    from dqhw.infer import predict_logits

    return predict_logits(model, images, 250).argmax(1) == labels


def robustness(cfg: MechanismConfig, model, x: np.ndarray, y: np.ndarray, log) -> dict:
    """Clean accuracy and, per robust_eps, accuracy under each attack and the per-image worst case."""
    from dqhw.attacks import attack_images, attack_params

    m = cfg.measure
    clean = _correct(model, x, y)
    out = {"n": int(len(y)), "clean": float(clean.mean()), "eps": {}}
    for eps in m["robust_eps"]:
        row, worst = {}, clean.copy()
        for attack in m["attacks"]:
            t0 = time.time()
            if attack == "transfer-pgd":
                adv = _load_common(cfg, "transfer-pgd", eps)
            else:
                params = attack_params(attack, eps, queries=m.get("square_queries"))
                adv = attack_images(model, x, y, params, seed=int(m.get("attack_seed", 0)), batch_size=250)
            ok = _correct(model, adv, y) & clean  # an image already wrong clean is not robust
            worst &= ok
            row[attack] = float(ok.mean())
            log(f"{attack} eps {eps}: {100 * ok.mean():.1f} % ({time.time() - t0:.0f} s)")
        row["worst"] = float(worst.mean())
        out["eps"][str(eps)] = row
    return out


def measure_run(cfg: MechanismConfig, run: RunSpec, log=print) -> dict:
    import torch

    from dqhw.amplification import on_off_table
    from dqhw.lipschitz import layer_report, network_summary
    from dqhw.runs import load_run

    torch.set_num_threads(1)
    loaded = load_run(run_dir(cfg, run))
    model = loaded.model.eval()
    x, y = test_split(cfg)
    h, w, c = x.shape[1:]
    t0 = time.time()
    rows = layer_report(model, torch.zeros(1, c, h, w), int(cfg.measure.get("power_iterations", 50)))
    log(f"readout ({time.time() - t0:.0f} s)")
    sets = {k: {e: _load_common(cfg, k, e) for e in cfg.measure["d_eps"]} for k in COMMON_KINDS}
    d = on_off_table(model, x, sets)
    log("D on/off done")
    metrics = json.loads((run_dir(cfg, run) / "metrics.json").read_text())
    return {
        "run": run.name, "group": run.group, "seed": run.seed, "quantized": run.quantized, "beta": run.beta,
        "dq_target": run.train.get("dq_target", "weight"), "model_hash": loaded.model_hash(),
        "train": {"val_acc": metrics["val_acc"], "test_acc": metrics["test_acc"],
                  "regularizer": metrics.get("regularizer"),
                  "regularizer_reducible": metrics.get("regularizer_reducible"),
                  "elapsed_s": metrics.get("elapsed")},
        "layers": rows, "summary": network_summary(rows), "d": d,
        "robust": robustness(cfg, model, x, y, log),
    }


def main(argv: list[str] | None = None) -> int:
    from dqhw.errors import DqhwError

    ap = argparse.ArgumentParser(prog="python -m dqhw.mechanism.measure")
    ap.add_argument("config")
    ap.add_argument("run")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    try:
        cfg = load(args.config)
        if args.out:
            cfg.out = args.out
        run = cfg.run(args.run)
        result = measure_run(cfg, run, log=lambda s: print(f"{run.name}: {s}", flush=True))
        write_json(measure_path(cfg, run), result)
    except DqhwError as e:
        print(f"measure: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
