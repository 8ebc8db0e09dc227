"""How long each unit should take, for `dqhw reproduce --plan` and the runner's ETA.

A cost model, not a measurement; its constants come from timings measured on this project's 2-core CPU
machine with one torch thread per process (docs/reproduce.md lists them):

- training: CNV width 0.5 (15.3 M MACs per image), full precision, on 13.5k CIFAR-10 images: ~25 s per
  epoch = 1.85 ms per image (forward, backward and step, batch 64) -> TRAIN_MS_PER_MMAC; quantized
  (Brevitas fake quantization) QUANT_FACTOR x that (measured 2-3x on the subset; 289 s/epoch for A2W2 DQ
  on all 45k images is 3.5x FP's rate), the DQ regularizer +10 %, R+FGSM training 2x (one more forward
  and backward per step), PGD training 1 + the mean step count; plus PER_IMAGE_OVERHEAD_MS (tiny models).
- attacks, in units c = one quantized forward+backward of one image at the training rate: FGSM 1.2,
  PGD (paper) its step count, PGD-strong ~32 (20 steps, restarts only on the surviving images), Square
  0.11 per query (forward only, stops when the image breaks), AutoAttack ~400 on its sub-sample: from
  docs/attacks.md's seconds per 100 images of a CNV 0.25 A2W2 (FGSM 0.2-0.3, PGD-strong 4-8, Square
  1000 queries 14-20 s).
- build: 30 s + 12 s per M MACs (digits 20-30 s, CNV 0.25 43-60 s, full CNV 755 s on a shared machine);
  simulation: 60 s compile + 6 ms per M MACs per frame (CNV 0.25 at 9,216 cycles/frame, 0.3-0.5 M cycles/s).
Finished units show their measured time instead; the runner rescales the ETA by measured/estimated.
"""

from __future__ import annotations

import os
from functools import cache

from dqhw.attacks import pgd_steps
from dqhw.reproduce.config import ReproConfig
from dqhw.reproduce.plan import Unit

PER_IMAGE_OVERHEAD_MS = 0.3
TRAIN_MS_PER_MMAC = (1.85 - PER_IMAGE_OVERHEAD_MS) / 15.26  # CNV 0.5 FP, CIFAR-10: 25 s per 13.5k-image epoch
QUANT_FACTOR = 3.0
DQ_FACTOR = 1.1
ADV_FACTOR = {"none": 1.0, "rfgsm": 2.0, "pgd": 9.0}
ATTACK_COST = {"random": 0.35, "fgsm": 1.2, "rfgsm": 1.2, "pgd-strong": 32.0}
SQUARE_COST_PER_QUERY = 0.11
AUTOATTACK_COST = 400.0
DIGITS_SPLITS = (1293, 360)  # train (after the 10 % validation carve), test
FULL_SPLITS = {"cifar10": (45000, 10000), "svhn": (65932, 26032)}


@cache
def mmacs(model: str, width: float, shape: tuple[int, int, int]) -> float:
    """Multiply-accumulates of one forward pass, in millions (conv + linear layers)."""
    import torch

    from dqhw.config import TrainConfig
    from dqhw.models import build_model

    spec = TrainConfig(model=model, bits="fp", wbits="fp", width=width).quant_spec()
    net = build_model(model, spec, shape, 10, width=width).eval()
    total = [0]

    def hook(mod, _i, o):
        if isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            total[0] += o.numel() * mod.in_channels // mod.groups * k
        elif isinstance(mod, torch.nn.Linear):
            total[0] += o.numel() * mod.in_features

    hooks = [m.register_forward_hook(hook) for m in net.modules()]
    with torch.no_grad():
        net(torch.zeros(1, shape[2], shape[0], shape[1]))
    for h in hooks:
        h.remove()
    return total[0] / 1e6


def sim_jobs() -> int:
    """Shards side by side in a reproduce `sim` unit: one per core (units run one at a time)."""
    return max(1, os.cpu_count() or 1)


def image_shape(dataset: str) -> tuple[int, int, int]:
    return (8, 8, 1) if dataset == "digits" else (32, 32, 3)


def split_sizes(cfg: ReproConfig) -> tuple[int, int]:
    """(training images after the validation carve, test images)."""
    if cfg.dataset == "digits":
        return DIGITS_SPLITS
    full_train, full_test = FULL_SPLITS[cfg.dataset]
    train = round(cfg.train_subset * 0.9) if cfg.train_subset else full_train
    return train, cfg.test_subset or full_test


def _c_ms(settings: dict, dataset: str, c_of=None) -> float:
    return c_of(settings) if c_of is not None else _c_ms_cpu(settings, dataset)


def _c_ms_cpu(settings: dict, dataset: str) -> float:
    """ms of one forward+backward of one image (the attack cost unit c)."""
    m = mmacs(settings["model"], float(settings["width"]), image_shape(dataset))
    quant = not (settings["bits"] == "fp" and settings["wbits"] == "fp")
    return (TRAIN_MS_PER_MMAC * m + PER_IMAGE_OVERHEAD_MS) * (QUANT_FACTOR if quant else 1.0)


def _attack_cost(attack: str, eps: int, queries: int | None) -> float:
    if attack in ("pgd", "bim"):
        return pgd_steps(eps) + 0.35
    if attack == "square":
        return SQUARE_COST_PER_QUERY * (queries or 1000)
    if attack == "autoattack":
        return AUTOATTACK_COST
    return ATTACK_COST.get(attack, 1.2)


def estimate(unit: Unit, units: dict[str, Unit], cfg: ReproConfig, c_of=None) -> float:
    """Estimated seconds of one unit. `c_of(run settings)`: ms of one forward+backward of one image of that
    run's model (default: this CPU's cost model; gpu_projection passes a measured GPU rate)."""
    n_train, n_test = split_sizes(cfg)
    if unit.kind == "data":
        return 10.0
    if unit.kind == "train":
        s = unit.settings
        c = _c_ms(s, cfg.dataset, c_of)
        per_img = c * (DQ_FACTOR if s["beta"] > 0 else 1.0) * ADV_FACTOR.get(s["adv"], 1.0)
        # + the per-epoch validation and test accuracy (forward only, ~1/3 of a training step)
        per_epoch = n_train * per_img + (n_test + n_train / 9) * c / 3
        return 5.0 + s["epochs"] * per_epoch / 1000
    if unit.kind == "eval":
        s = unit.settings
        run = units[s["run"]].settings
        c = _c_ms(run, cfg.dataset, c_of)
        n = min(s["limit"] or n_test, n_test)
        cost = 1.5  # clean accuracy + gradient health
        for a in s["attacks"]:
            per = sum(_attack_cost(a, e, s["queries"]) for e in s["eps"])
            cost += per * (min(n, s["autoattack_images"] or n) / n if a == "autoattack" else 1.0)
        if s["large_eps"]:
            cost += 32.0
        if s["amplification"]:
            cost += 1.5 * (len(set(s["eps"]) | {1, 2, 4, 8, 16}) if cfg.dataset != "digits" else 6)
        if s["squeeze"]:
            cost *= 2
        total = n * c * cost / 1000
        if s["source"]:
            cs = _c_ms(units[s["source"]].settings, cfg.dataset, c_of)
            total += n * cs * sum(_attack_cost(a, e, None) for a in ("fgsm", "pgd") if a in s["attacks"]
                                  for e in s["eps"]) / 1000
        return 10.0 + total
    run = units[unit.settings["run"]].settings if "run" in unit.settings else None
    if unit.kind == "worst":
        return 10.0
    if unit.kind == "build":
        return 30.0 + 12.0 * mmacs(run["model"], float(run["width"]), image_shape(cfg.dataset))
    if unit.kind == "sim":
        b = units[unit.settings["build"]]
        r = units[b.settings["run"]].settings
        frames = min(unit.settings["sim_limit"] or n_test, n_test) + (cfg.evals["strong"].limit or n_test)
        if unit.settings.get("full_test_split"):
            frames += FULL_SPLITS[cfg.dataset][1]
        # the sim unit shards over the machine's cores (runner.run_sim_unit)
        return 60.0 + frames * 0.006 * mmacs(r["model"], float(r["width"]), image_shape(cfg.dataset)) / sim_jobs()
    return 10.0


def hms(seconds: float) -> str:
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"


# --------------------------------------------------------------------------------------------------
# GPU projection (bench/gpu_check.sh)


def gpu_c_of(images_per_s: float, ref_model: str, ref_width: float, dataset: str):
    """c_of for estimate(): a training step measured at `images_per_s` on the reference model (quantized, DQ),
    scaled to another model by its multiply-accumulates. Full-precision runs are charged the quantized rate
    (an upper bound: a GPU's ratio between them was not measured), vanilla runs the DQ rate less the
    regularizer's CPU-measured share (DQ_FACTOR)."""
    ref = mmacs(ref_model, ref_width, image_shape(dataset))
    ms = 1000.0 / images_per_s

    def c_of(settings: dict) -> float:
        return ms * mmacs(settings["model"], float(settings["width"]), image_shape(dataset)) / ref / DQ_FACTOR

    return c_of


def makespan(units: list[Unit], seconds: dict[str, float], workers: int) -> float:
    """Wall time of the unit graph on `workers` identical devices: greedy list scheduling in plan order
    (a unit starts when its dependencies are done and a device is free), as Ray's scheduler runs it."""
    free = [0.0] * workers
    end: dict[str, float] = {}
    for u in units:
        ready = max((end[d] for d in u.deps if d in end), default=0.0)
        k = min(range(workers), key=lambda i: max(free[i], ready))
        start = max(free[k], ready)
        end[u.id] = free[k] = start + seconds[u.id]
    return max(end.values(), default=0.0)


def gpu_projection(cfg: ReproConfig, units: list[Unit], images_per_s: float, ref_model: str, ref_width: float,
                   gpus: int) -> dict:
    """Projected wall time of the config's units on 1 and `gpus` GPUs (one unit per GPU at a time)."""
    by_id = {u.id: u for u in units}
    c_of = gpu_c_of(images_per_s, ref_model, ref_width, cfg.dataset)
    secs = {u.id: estimate(u, by_id, cfg, c_of) for u in units}
    kinds = {k: sum(v for i, v in secs.items() if by_id[i].kind == k) for k in {u.kind for u in units}}
    return {"units": len(units), "seconds_by_kind": kinds, "one_gpu_seconds": makespan(units, secs, 1),
            "gpus": gpus, "n_gpu_seconds": makespan(units, secs, gpus),
            "longest_unit_seconds": max(secs.values(), default=0.0)}
