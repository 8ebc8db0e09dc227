"""`dqhw train`: Brevitas quantization-aware training with the DQ regularizer.

SGD with momentum 0.9; the paper's step schedules (`step`: x0.1 at 50 % and 75 % of the epochs, its SVHN
one; `cifar-step`: x0.2 at 30/60/80 %, its CIFAR-10 one) or cosine,
optionally after a linear warm-up (`--warmup-epochs`). The regularizer's gradient is added in closed
form after backward() (dqhw.regularizer). `--init RUN` starts from another run's weights (e.g. a
full-precision one), `--distill T` adds knowledge distillation from that run's logits. A checkpoint
is written atomically after every epoch; `--resume` continues from it. Multi-GPU/multi-process data
parallel training works when launched with torchrun (WORLD_SIZE > 1): each rank trains on its shard,
rank 0 writes the run directory.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dqhw import runs
from dqhw.config import DISTILL_ALPHA, TrainConfig
from dqhw.data import load_dataset
from dqhw.errors import DqhwError
from dqhw.infer import accuracy
from dqhw.io import write_json
from dqhw.models import to_input
from dqhw.regularizer import DQRegularizer


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return rank, world


def _augment(x: torch.Tensor, dataset: str, gen: torch.Generator) -> torch.Tensor:
    """Random crop (pad 4) + horizontal flip for CIFAR-10; crop only for SVHN; nothing for digits."""
    if dataset not in ("cifar10", "svhn"):
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=gen)
    dx = torch.randint(0, 9, (n,), generator=gen)
    rows = (dy.view(n, 1) + torch.arange(h).view(1, h)).view(n, 1, h, 1).expand(n, x.shape[1], h, w + 8)
    x = padded.gather(2, rows)
    cols = (dx.view(n, 1) + torch.arange(w).view(1, w)).view(n, 1, 1, w).expand(n, x.shape[1], h, w)
    x = x.gather(3, cols)
    if dataset == "cifar10":
        flip = torch.rand(n, generator=gen) < 0.5
        x[flip] = x[flip].flip(3)
    return x


def _lr_at(cfg: TrainConfig, epoch: int, step: int, steps_per_epoch: int) -> float:
    total, warm = cfg.total_epochs, cfg.warmup_epochs
    if epoch < warm:  # linear warm-up from lr / (warm * steps) to lr, per step
        return cfg.lr * (epoch * steps_per_epoch + step + 1) / (warm * steps_per_epoch)
    if cfg.schedule == "cosine":  # cosine over the epochs after the warm-up
        t = (epoch - warm + step / max(1, steps_per_epoch)) / (total - warm)
        return 0.5 * cfg.lr * (1 + np.cos(np.pi * t))
    # milestones never at epoch 0 (--epochs 1 used to train at lr / 100)
    drop, milestones = STEP_SCHEDULES[cfg.schedule]
    factor = 1.0
    for frac in milestones:
        if epoch >= max(1, int(frac * total)):
            factor *= drop
    return cfg.lr * factor


# (factor, milestones as fractions of the epochs): the paper's SVHN and CIFAR-10 step schedules
STEP_SCHEDULES = {"step": (0.1, (0.5, 0.75)), "cifar-step": (0.2, (0.3, 0.6, 0.8))}


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train and return the run directory."""
    cfg.validate()
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise DqhwError(f"--device {cfg.device}: no CUDA device available on this machine")
    rank, world = _distributed()
    out = Path(cfg.out) if cfg.out else Path("runs") / cfg.run_name()
    cfg.out = str(out)
    ckpt_path = out / runs.CHECKPOINT

    data = load_dataset(cfg.dataset, cfg.data_dir)
    start_epoch, history, state = 0, [], None
    if resume:
        state = runs.load_checkpoint(ckpt_path)
        saved = TrainConfig.from_dict(state["config"])
        saved.epochs, saved.out, saved.device = cfg.epochs or saved.epochs, cfg.out, cfg.device
        cfg = saved.validate()
        start_epoch = int(state["epoch"]) + 1
        history = list(state.get("history", []))
    elif ckpt_path.exists():
        raise DqhwError(f"{out} already holds a run; use --resume to continue it or choose another --out")

    if world > 1:
        cfg.extra["world_size"] = world  # how the run was trained (each rank saw 1/world of every epoch)
    seed_everything(cfg.seed + rank)
    device = torch.device(cfg.device if world == 1 or not torch.cuda.is_available() else f"cuda:{rank}")
    model = runs.build_from_config(cfg, data.shape, data.num_classes)
    init_info = None
    if cfg.init is not None and state is None:
        init_info = load_init(model, cfg, data.shape, data.num_classes)
        if init_info["quantizer_keys_not_loaded"] and cfg.act_range == "learned":
            # the source run had no ranges to copy: start each from the source's own activations
            from dqhw.calibrate import calibrate_learned_ranges

            init_info["calibrated_ranges"] = [
                r["range"] for r in calibrate_learned_ranges(model, data.x_train, cfg.quant_spec().act_max, cfg.seed)]
    model = model.to(device)
    opt = torch.optim.SGD(_param_groups(model, cfg.weight_decay), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        init_info = state.get("init")
    elif init_info is not None and rank == 0:
        init_info["test_acc_at_start"] = accuracy(model, data.x_test, data.y_test, device=str(device))
    teacher = None
    if cfg.distill is not None:
        teacher = runs.load_run(cfg.init).model.to(device).eval()
    bns = None
    if cfg.dq_target == "bn-folded":
        from dqhw.lipschitz import following_bn

        h, w, c = data.shape
        bns = dict(following_bn(model, torch.zeros(1, c, h, w, device=device)))
    reg = DQRegularizer(model, cfg.beta, cfg.reg_every, target=cfg.dq_target, bns=bns)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model)
    from dqhw.models.wrn import project_parseval

    adv_batch = None
    if cfg.adv != "none":
        from dqhw.attacks import adversarial_training_batch as adv_batch  # noqa: N813

    x_train = torch.as_tensor(data.x_train)
    y_train = torch.as_tensor(data.y_train)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
    n = len(x_train)
    shard = torch.arange(rank, n, world)
    steps = max(1, len(shard) // cfg.batch_size)
    total = cfg.total_epochs
    if start_epoch >= total:
        raise DqhwError(f"{out}: already trained for {total} epochs; pass a larger --epochs to continue")

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    show = progress and rank == 0
    # a terminal gets the rich bar; a file or pipe gets plain, flushed log lines (rate and ETA)
    log = _Log(out.name, total, steps, cfg.batch_size, start_epoch) if show and not sys.stderr.isatty() else None
    t0 = time.time()
    elapsed0 = float(history[-1].get("elapsed", history[-1].get("seconds", 0.0))) if history else 0.0
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=Console(stderr=True),
                  disable=not show or log is not None, transient=False) as bar:
        task = bar.add_task(f"train {out.name}", total=(total - start_epoch) * steps, info="")
        for epoch in range(start_epoch, total):
            t_epoch = time.time()
            net.train()
            perm = shard[torch.randperm(len(shard), generator=gen)]
            loss_sum, reg_sum, reducible_sum, correct, seen = 0.0, 0.0, 0.0, 0, 0
            for step in range(steps):
                for g in opt.param_groups:
                    g["lr"] = _lr_at(cfg, epoch, step, steps)
                idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
                x = _augment(to_input(x_train[idx]), cfg.dataset, gen).to(device)
                y = y_train[idx].to(device)
                if adv_batch is not None:
                    x = adv_batch(net, x, y, cfg.adv, gen)
                    net.train()
                logits = net(x)
                loss = F.cross_entropy(logits, y)
                if teacher is not None:
                    with torch.no_grad():
                        t_logits = teacher(x)
                    loss = (1 - DISTILL_ALPHA) * loss + DISTILL_ALPHA * distill_loss(logits, t_logits, cfg.distill)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                reg_value = reg.add_grad_()
                if cfg.clip_grad > 0:
                    # quantized nets (1-bit activations with low-bit weights) otherwise blow up
                    # their latent weights through the straight-through estimator
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
                opt.step()
                project_parseval(model)
                loss_sum += loss.item() * len(y)
                reg_sum += reg_value * len(y)
                reducible_sum += reg.last_reducible * len(y)
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
                bar.update(task, advance=1, info=f"epoch {epoch + 1}/{total} loss {loss_sum / seen:.3f}")
                if log is not None:
                    log.step(epoch, step + 1, loss_sum / seen)
            if rank != 0:
                continue
            val_acc = accuracy(model, data.x_val, data.y_val, device=str(device))
            test_acc = accuracy(model, data.x_test, data.y_test, device=str(device))
            history.append({
                "epoch": epoch + 1, "loss": loss_sum / seen, "regularizer": reg_sum / seen,
                # the paper's value = beta/2 (reducible ||G - I||^2 + the constant sum (n - m) no W can remove)
                "regularizer_reducible": reducible_sum / seen,
                "train_acc": correct / seen, "val_acc": val_acc, "test_acc": test_acc,
                "lr": opt.param_groups[0]["lr"],
                # this epoch's own wall time (training + the val/test evaluation); elapsed = cumulative
                "seconds": time.time() - t_epoch, "elapsed": elapsed0 + time.time() - t0,
            })
            bar.update(task, info=f"epoch {epoch + 1}/{total} loss {loss_sum / seen:.3f} test {test_acc:.3f}")
            if log is not None:
                log.epoch(history[-1])
            runs.save_checkpoint(ckpt_path, {
                "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                "config": cfg.to_dict(), "history": history, "torch_rng": torch.get_rng_state(),
                "in_shape": list(data.shape), "num_classes": data.num_classes, "init": init_info,
            })
            write_json(out / runs.CONFIG, cfg.to_dict())
            _write_metrics(out, cfg, history, model, init_info)
    if rank == 0:
        _write_layer_report(out, model, data.shape)
    if world > 1:
        # the other ranks return only once rank 0 has written the whole run (their callers read it)
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return out


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Every parameter, except that the learned activation ranges get no weight decay."""
    from dqhw.quant import quantizer_parameters

    qp = {id(p) for p in quantizer_parameters(model)}
    rest = [p for p in model.parameters() if id(p) not in qp]
    groups = [{"params": rest, "weight_decay": weight_decay}]
    if qp:
        groups.append({"params": [p for p in model.parameters() if id(p) in qp], "weight_decay": 0.0})
    return groups


def distill_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton's KD term: T^2 * KL(softmax(teacher / T) || softmax(student / T)), batch mean."""
    t = float(temperature)
    return F.kl_div(F.log_softmax(student / t, 1), F.log_softmax(teacher / t, 1), reduction="batchmean",
                    log_target=True) * t * t


def _is_quantizer_key(key: str) -> bool:
    return "_quant" in key  # Brevitas quantizer parameters/buffers (act_quant, weight_quant, input_quant)


def load_init(model: nn.Module, cfg: TrainConfig, in_shape, num_classes: int) -> dict:
    """Copy the weights of the run `cfg.init` into `model` (--init). The architecture must be the same
    (model, width, input shape, classes); quantizer parameters may differ (a full-precision run into a
    quantized model: the quantizers keep their initial values). Raises DqhwError in one line otherwise."""
    path = Path(cfg.init)
    state = runs.load_checkpoint(path / runs.CHECKPOINT)
    src = TrainConfig.from_dict(state["config"])
    src_shape = tuple(state.get("in_shape", ()))
    src_classes = int(state.get("num_classes", 10))
    if (src.model, float(src.width), src_shape, src_classes) != (cfg.model, float(cfg.width), tuple(in_shape),
                                                                 num_classes):
        raise DqhwError(f"--init {path}: a {src.model} width {src.width} for {src_shape} inputs and {src_classes} "
                        f"classes, not the {cfg.model} width {cfg.width} for {tuple(in_shape)} and {num_classes} "
                        "being trained")
    weights = state["model"]
    own = model.state_dict()
    missing = [k for k in own if k not in weights and not _is_quantizer_key(k)]
    unexpected = [k for k in weights if k not in own and not _is_quantizer_key(k)]
    shapes = [k for k in own if k in weights and tuple(own[k].shape) != tuple(weights[k].shape)]
    if missing or unexpected or shapes:
        what = (f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}" if unexpected
                else f"shape of {shapes[0]} {tuple(weights[shapes[0]].shape)} != {tuple(own[shapes[0]].shape)}")
        raise DqhwError(f"--init {path}: weights do not fit the model being trained ({what})")
    result = model.load_state_dict(weights, strict=False)
    return {"run": str(path), "label": src.label(), "test_acc": _final_test_acc(path),
            "quantizer_keys_not_loaded": len(result.missing_keys)}


def _final_test_acc(path: Path) -> float | None:
    import json

    try:
        return float(json.loads((path / runs.METRICS).read_text())["test_acc"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _Log:
    """Plain progress lines for a file or pipe: every ~LOG_EVERY_S seconds within an epoch and one per
    epoch, with the rate in images/s and the ETA; flushed at once."""

    LOG_EVERY_S = 30.0

    def __init__(self, name: str, total: int, steps: int, batch: int, start_epoch: int):
        self.name, self.total, self.steps, self.batch = name, total, steps, batch
        self.t_start = self.t_last = time.time()
        self.done_steps, self.start_epoch = 0, start_epoch

    def _rate_eta(self, epoch: int, step: int) -> tuple[float, float, float]:
        self.done_steps = (epoch - self.start_epoch) * self.steps + step
        dt = max(1e-9, time.time() - self.t_start)
        rate = self.done_steps * self.batch / dt
        per_step = dt / max(1, self.done_steps)
        left_total = (self.total - self.start_epoch) * self.steps - self.done_steps
        return rate, per_step * (self.steps - step), per_step * left_total

    def step(self, epoch: int, step: int, loss: float) -> None:
        if step == self.steps or time.time() - self.t_last < self.LOG_EVERY_S:
            return
        self.t_last = time.time()
        rate, eta_epoch, eta = self._rate_eta(epoch, step)
        self._print(f"train {self.name} epoch {epoch + 1}/{self.total} step {step}/{self.steps} loss {loss:.3f} "
                    f"| {rate:.0f} img/s | epoch ETA {_hms(eta_epoch)} | ETA {_hms(eta)}")

    def epoch(self, rec: dict) -> None:
        self.t_last = time.time()
        rate, _, eta = self._rate_eta(rec["epoch"] - 1, self.steps)
        self._print(f"train {self.name} epoch {rec['epoch']}/{self.total} done: loss {rec['loss']:.3f} "
                    f"train {rec['train_acc']:.3f} val {rec['val_acc']:.3f} test {rec['test_acc']:.3f} "
                    f"| {rec['seconds']:.0f} s | {rate:.0f} img/s | ETA {_hms(eta)}")

    @staticmethod
    def _print(line: str) -> None:
        print(line, file=sys.stderr, flush=True)


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _write_metrics(out: Path, cfg: TrainConfig, history: list[dict], model: nn.Module,
                   init_info: dict | None = None) -> None:
    last = history[-1]
    write_json(out / runs.METRICS, {
        "run": out.name, "label": cfg.label(), "model_hash": runs.state_hash(model), "epochs": history,
        "test_acc": last["test_acc"], "val_acc": last["val_acc"], "train_acc": last["train_acc"],
        "regularizer": last["regularizer"],
        "regularizer_reducible": last.get("regularizer_reducible"), "elapsed": last.get("elapsed"), "init": init_info,
        "config": cfg.to_dict(),
    })


def _write_layer_report(out: Path, model: nn.Module, in_shape) -> None:
    from dqhw.lipschitz import layer_report

    h, w, c = in_shape
    rows = layer_report(model.cpu(), torch.zeros(1, c, h, w))
    write_json(out / runs.LAYERS, {"layers": rows})
