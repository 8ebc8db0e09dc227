"""`dqhw train`: Brevitas quantization-aware training with the DQ regularizer.

SGD with momentum 0.9; the paper's step schedule (x0.1 at 50 % and 75 % of the epochs) or cosine.
The regularizer's gradient is added in closed form after backward() (dqhw.regularizer). A checkpoint
is written atomically after every epoch; `--resume` continues from it. Multi-GPU/multi-process data
parallel training works when launched with torchrun (WORLD_SIZE > 1): each rank trains on its shard,
rank 0 writes the run directory.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dqhw import runs
from dqhw.config import TrainConfig
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
    total = cfg.total_epochs
    if cfg.schedule == "cosine":
        t = (epoch + step / max(1, steps_per_epoch)) / total
        return 0.5 * cfg.lr * (1 + np.cos(np.pi * t))
    factor = 1.0
    if epoch >= int(0.5 * total):
        factor *= 0.1
    if epoch >= int(0.75 * total):
        factor *= 0.1
    return cfg.lr * factor


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

    seed_everything(cfg.seed + rank)
    device = torch.device(cfg.device if world == 1 or not torch.cuda.is_available() else f"cuda:{rank}")
    model = runs.build_from_config(cfg, data.shape, data.num_classes).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
    reg = DQRegularizer(model, cfg.beta, cfg.reg_every)
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

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    t0 = time.time()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                  disable=not progress or rank != 0, transient=False) as bar:
        task = bar.add_task(f"train {out.name}", total=(total - start_epoch) * steps, info="")
        for epoch in range(start_epoch, total):
            net.train()
            perm = shard[torch.randperm(len(shard), generator=gen)]
            loss_sum, reg_sum, correct, seen = 0.0, 0.0, 0, 0
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
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
                bar.update(task, advance=1, info=f"epoch {epoch + 1}/{total} loss {loss_sum / seen:.3f}")
            if rank != 0:
                continue
            val_acc = accuracy(model, data.x_val, data.y_val, device=str(device))
            test_acc = accuracy(model, data.x_test, data.y_test, device=str(device))
            history.append({
                "epoch": epoch + 1, "loss": loss_sum / seen, "regularizer": reg_sum / seen,
                "train_acc": correct / seen, "val_acc": val_acc, "test_acc": test_acc,
                "lr": opt.param_groups[0]["lr"], "seconds": time.time() - t0,
            })
            bar.update(task, info=f"epoch {epoch + 1}/{total} loss {loss_sum / seen:.3f} test {test_acc:.3f}")
            runs.save_checkpoint(ckpt_path, {
                "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                "config": cfg.to_dict(), "history": history, "torch_rng": torch.get_rng_state(),
                "in_shape": list(data.shape), "num_classes": data.num_classes,
            })
            write_json(out / runs.CONFIG, cfg.to_dict())
            _write_metrics(out, cfg, history, model)
    if rank == 0:
        _write_layer_report(out, model, data.shape)
    return out


def _write_metrics(out: Path, cfg: TrainConfig, history: list[dict], model: nn.Module) -> None:
    last = history[-1]
    write_json(out / runs.METRICS, {
        "run": out.name, "model_hash": runs.state_hash(model), "epochs": history,
        "test_acc": last["test_acc"], "val_acc": last["val_acc"], "train_acc": last["train_acc"],
        "regularizer": last["regularizer"], "config": cfg.to_dict(),
    })


def _write_layer_report(out: Path, model: nn.Module, in_shape) -> None:
    from dqhw.lipschitz import layer_report

    h, w, c = in_shape
    rows = layer_report(model.cpu(), torch.zeros(1, c, h, w))
    write_json(out / runs.LAYERS, {"layers": rows})
