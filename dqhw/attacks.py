"""Adversarial attacks in pixel units (0..255) on the uint8 grid, as in Defensive Quantization (ICLR 2019).

Every model takes float NCHW pixel values 0..255 and divides by 255 itself, so the attacks work on a
float tensor holding integer pixel values; ε, the step α and the random starts are integers and every
iterate stays on the integer grid by construction. Whatever an attack returns is still rounded,
projected onto [x − ε, x + ε] ∩ [0, 255] and checked (`to_uint8_grid`): the uint8 image is what the
FPGA receives and what is scored.

White-box attacks differentiate through the quantized model (Brevitas' straight-through estimator):
- random: uniform integer noise in [−ε, ε] (a baseline, not an attack);
- fgsm: x + ε·sign(∇x L);
- rfgsm: R+FGSM (Tramèr et al. 2018) as in the paper, one step: x' = x + ⌊ε/2⌋·sign(N(0, I)), then
  x' + (ε − ⌊ε/2⌋)·sign(∇x' L);
- bim: α = 1 px, ⌊min(ε + 4, 1.25ε)⌋ iterations (Kurakin et al.); pgd: the same from a random
  integer start in [−ε, ε] (Madry et al.) — "PGD (paper)", the paper's schedule, kept as it is;
- pgd-strong: "PGD-strong", PGD at full strength on the integer grid: α = max(1, ⌈ε/4⌉), 20 steps,
  3 random integer restarts; per image the worst restart is kept (`pgd_strong`: the first restart that
  misclassifies it, else the lowest margin; within a restart the iterate with the lowest margin);
- square: the score-based, gradient-free Square attack (Andriushchenko et al. 2020, L∞, margin loss,
  the reference p schedule), implemented here on the integer grid with a seeded generator: quantized
  networks partly mask gradients (measured on a 2-bit toy model at ε = 2: Square took robust accuracy
  to 14.1 % where APGD-CE, APGD-T and FAB-T stopped at 29.7 %), so a gradient-free attack is mandatory;
- autoattack: AutoAttack "standard" (APGD-CE, APGD-T, FAB-T, Square) from pyautoattack 0.2.0, the
  reference code RobustBench uses (MIT, on PyPI, unlike `autoattack`). It works on [0, 1] inputs: the
  model is wrapped to see round(x·255) (identity backward), so AutoAttack judges its candidates as the
  rounded images, and its continuous result is rounded back onto the grid and re-scored (never the float
  one).

Black-box transfer = craft with any of these on a substitute model, score on the target (dqhw.advsets).
Input stages that are not differentiable (feature squeezing) are attacked end to end with identity
backward (BPDA, Athalye et al. 2018): see dqhw.squeeze.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dqhw.errors import DqhwError

ATTACKS = ("random", "fgsm", "rfgsm", "bim", "pgd", "pgd-strong", "square", "autoattack")
GRADIENT_ATTACKS = ("fgsm", "rfgsm", "bim", "pgd", "pgd-strong", "autoattack")
ITERATIVE_ATTACKS = ("bim", "pgd", "pgd-strong", "autoattack")
SINGLE_STEP_ATTACKS = ("fgsm", "rfgsm")
LABELS = {"random": "Random", "fgsm": "FGSM", "rfgsm": "R+FGSM", "bim": "BIM", "pgd": "PGD (paper)",
          "pgd-strong": "PGD-strong", "square": "Square (score-based)", "autoattack": "AutoAttack"}
MAX_EPS = 255
DEFAULT_QUERIES = 1000  # our Square column: 1000 keeps CPU evaluation in minutes
AUTOATTACK_QUERIES = 5000  # AutoAttack "standard": its Square's own budget (unless --queries is given)
STRONG_STEPS = 20  # PGD-strong: α = max(1, ⌈ε/4⌉), 20 steps, 3 restarts
STRONG_RESTARTS = 3


@dataclass(frozen=True)
class AttackParams:
    """What an attack does at a given ε (all in integer pixels); recorded in every set's provenance."""

    name: str
    eps: int
    alpha: int | None = None  # step size (iterative attacks); ε for FGSM; ⌊ε/2⌋ random step for R+FGSM
    steps: int = 1
    queries: int | None = None  # Square / AutoAttack's Square
    random_start: bool = False
    restarts: int = 1  # random restarts (PGD-strong); sets written before it existed have no field: read 1

    def to_dict(self) -> dict:
        return {"attack": self.name, "eps": self.eps, "alpha": self.alpha, "steps": self.steps,
                "queries": self.queries, "random_start": self.random_start, "restarts": self.restarts}


def threat_mode(attack: str, on_target: bool) -> str:
    """What the attacker used: `white-box` (the target's gradients), `score-based` (only the target's
    logits: Square), `noise` (no model: Random) or `black-box` (crafted on a substitute, transferred)."""
    if not on_target:
        return "black-box"
    return {"square": "score-based", "random": "noise"}.get(attack, "white-box")


MODE_LABELS = {"white-box": "white-box (the target's gradients)",
               "score-based": "score-based (the target's logits only)",
               "noise": "random noise (no model)",
               "black-box": "black-box transfer (crafted on a substitute)"}


def pgd_steps(eps: int) -> int:
    """The paper's (and Kurakin et al.'s) iteration count: ⌊min(ε + 4, 1.25ε)⌋ (1, 2, 5, 10, 20 at 1, 2, 4, 8, 16)."""
    return int(math.floor(min(eps + 4, 1.25 * eps)))


def strong_alpha(eps: int) -> int:
    """PGD-strong's step: max(1, ⌈ε/4⌉) integer pixels (20 steps cover the ε-ball 5× over)."""
    return max(1, math.ceil(eps / 4))


def check_attack(name: str) -> str:
    if name not in ATTACKS:
        raise DqhwError(f"unknown attack {name!r}; choose one of {', '.join(ATTACKS)}")
    return name


def check_eps(eps) -> int:
    try:
        e = int(eps)
    except (TypeError, ValueError):
        raise DqhwError(f"--eps must be an integer number of pixels 0..{MAX_EPS}, got {eps!r}") from None
    if e != eps or not 0 <= e <= MAX_EPS:
        raise DqhwError(f"--eps must be an integer number of pixels 0..{MAX_EPS}, got {eps!r}")
    return e


def attack_params(name: str, eps: int, queries: int | None = None, alpha: int | None = None,
                  steps: int | None = None, restarts: int | None = None) -> AttackParams:
    """The paper's settings for `name` at ε (PGD-strong: α = max(1, ⌈ε/4⌉), 20 steps, 3 restarts);
    `alpha`/`steps` override them for BIM/PGD/PGD-strong only, `restarts` for PGD-strong only."""
    check_attack(name)
    eps = check_eps(eps)
    if name == "pgd-strong":
        a = strong_alpha(eps) if alpha is None else int(alpha)
        n = STRONG_STEPS if steps is None else int(steps)
        r = STRONG_RESTARTS if restarts is None else int(restarts)
        if a < 1 or n < 0 or r < 1:
            raise DqhwError(f"{name}: alpha must be >= 1, steps >= 0 and restarts >= 1 (got {a}, {n}, {r})")
        return AttackParams(name, eps, a, n, None, True, r)
    if name in ("bim", "pgd"):
        a = 1 if alpha is None else int(alpha)
        n = pgd_steps(eps) if steps is None else int(steps)
        if a < 1 or n < 0:
            raise DqhwError(f"{name}: alpha must be >= 1 and steps >= 0 (got {a}, {n})")
        return AttackParams(name, eps, a, n, None, name == "pgd")
    if name == "fgsm":
        return AttackParams(name, eps, eps, 1)
    if name == "rfgsm":
        return AttackParams(name, eps, eps // 2, 1, None, True)
    if name == "random":
        return AttackParams(name, eps, None, 0, None, True)
    q = (AUTOATTACK_QUERIES if name == "autoattack" else DEFAULT_QUERIES) if queries is None else int(queries)
    if q < 1:
        raise DqhwError(f"--queries must be >= 1, got {q}")
    if name == "square":
        return AttackParams(name, eps, None, q, q, True)
    return AttackParams(name, eps, None, 0, q, True)  # autoattack (its Square gets q queries)


# --------------------------------------------------------------------------------------------------
# the grid


def to_uint8_grid(x_adv: torch.Tensor | np.ndarray, x: torch.Tensor | np.ndarray, eps: int) -> np.ndarray:
    """Round a float adversarial batch (NCHW pixels or NHWC uint8-like) onto the integer grid, project it
    onto [x − ε, x + ε] ∩ [0, 255] and return uint8 of the same layout; re-checked before returning."""
    a = x_adv.detach().cpu().numpy() if isinstance(x_adv, torch.Tensor) else np.asarray(x_adv)
    b = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.shape != b.shape:
        raise ValueError(f"adversarial batch {a.shape} does not match its source {b.shape}")
    if not np.isfinite(a).all():
        raise ValueError("attack produced non-finite pixels")
    b = b.astype(np.int32)
    out = np.rint(a.astype(np.float64)).astype(np.int64)
    out = np.clip(out, b - eps, b + eps).clip(0, 255).astype(np.uint8)
    check_linf(out, b, eps)
    return out


def check_linf(adv: np.ndarray, x: np.ndarray, eps: int, what: str = "adversarial set") -> None:
    """uint8 and ‖adv − x‖∞ ≤ ε in integer pixels, or DqhwError."""
    if adv.dtype != np.uint8:
        raise DqhwError(f"{what}: images must be uint8, got {adv.dtype}")
    if adv.shape != x.shape:
        raise DqhwError(f"{what}: images {adv.shape} do not match their clean source {x.shape}")
    if len(adv):
        d = int(np.abs(adv.astype(np.int32) - np.asarray(x).astype(np.int32)).max())
        if d > eps:
            raise DqhwError(f"{what}: L-inf distance {d} exceeds eps {eps}")


def nhwc_to_input(images: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    from dqhw.models import to_input

    return to_input(images).to(device)


def input_to_nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.detach().permute(0, 2, 3, 1).contiguous()


# --------------------------------------------------------------------------------------------------
# building blocks (float NCHW tensors holding integer pixels 0..255)


def unwrap(model: nn.Module) -> nn.Module:
    """DistributedDataParallel's reducer expects a parameter backward after each forward; attack the module."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇x of the summed cross-entropy (no parameter gradients are accumulated)."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, x)
    return g


def _uniform_int(shape, eps: int, gen: torch.Generator, device) -> torch.Tensor:
    return torch.randint(-eps, eps + 1, shape, generator=gen).to(device=device, dtype=torch.float32)


def _random_sign(shape, gen: torch.Generator, device) -> torch.Tensor:
    return (torch.randint(0, 2, shape, generator=gen) * 2 - 1).to(device=device, dtype=torch.float32)


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: int) -> torch.Tensor:
    return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp(0.0, 255.0)


def random_noise(x: torch.Tensor, eps: int, gen: torch.Generator) -> torch.Tensor:
    return _project(x + _uniform_int(x.shape, eps, gen, x.device), x, eps)


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: int) -> torch.Tensor:
    return _project(x + eps * input_grad(model, x, y).sign(), x, eps)


def rfgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: int, gen: torch.Generator) -> torch.Tensor:
    a = eps // 2
    x1 = _project(x + a * _random_sign(x.shape, gen, x.device), x, eps)
    return _project(x1 + (eps - a) * input_grad(model, x1, y).sign(), x, eps)


def bim(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: int, alpha: int = 1, steps: int | None = None,
        gen: torch.Generator | None = None, random_start: bool = False) -> torch.Tensor:
    """BIM; with `random_start` (and `gen`) PGD. α and the start are integers: iterates stay on the grid."""
    steps = pgd_steps(eps) if steps is None else steps
    x_adv = x.clone()
    if random_start and eps > 0:
        x_adv = _project(x + _uniform_int(x.shape, eps, gen, x.device), x, eps)
    for _ in range(steps):
        x_adv = _project(x_adv + alpha * input_grad(model, x_adv, y).sign(), x, eps)
    return x_adv


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: int, gen: torch.Generator, alpha: int = 1,
        steps: int | None = None) -> torch.Tensor:
    return bim(model, x, y, eps, alpha, steps, gen, random_start=True)


def _grad_logits(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """∇x of the summed cross-entropy and the logits of the same forward pass."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        (g,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), x)
    return g, logits.detach().float()


def _margin_of(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Logit of the true class minus the largest other logit (< 0: misclassified)."""
    correct = logits.gather(1, y[:, None])[:, 0]
    return correct - logits.scatter(1, y[:, None], float("-inf")).max(1).values


def _worse(mis: torch.Tensor, margin: torch.Tensor, mis_best: torch.Tensor, margin_best: torch.Tensor) -> torch.Tensor:
    """The worst-case rule of PGD-strong: a candidate replaces the kept image when it misclassifies and the kept
    one does not, or when both do or both do not and its margin is lower (the most confidently wrong image is
    kept, not a barely misclassified one that a rounding-level difference in the logits could flip back)."""
    return (mis & ~mis_best) | ((mis == mis_best) & (margin < margin_best))


def restart_starts(shape, eps: int, gen: torch.Generator, restarts: int, device="cpu") -> list[torch.Tensor]:
    """The random integer starts of PGD-strong's restarts, uniform in [−ε, ε], drawn in order from `gen`
    (one full batch each, also for images an earlier restart already broke: restart k starts the same
    whichever images are still left)."""
    return [_uniform_int(shape, eps, gen, device) for _ in range(restarts)]


def pgd_restart(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: int, alpha: int, steps: int,
                start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One PGD run from x + start on the integer grid (cross-entropy ascent, sign steps of α, `steps` steps),
    keeping per image its worst iterate by `_worse` (the start and the final iterate included).
    Returns (kept images, misclassified, margin)."""
    x_adv = _project(x + start, x, eps)
    best = x_adv.clone()
    mis_best = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    margin_best = torch.full((len(x),), float("inf"), device=x.device)
    for t in range(steps + 1):
        if t < steps:
            g, logits = _grad_logits(model, x_adv, y)
        else:
            with torch.no_grad():
                logits = model(x_adv).float()
        mis, margin = logits.argmax(1) != y, _margin_of(logits, y)
        upd = _worse(mis, margin, mis_best, margin_best)
        best[upd], mis_best[upd], margin_best[upd] = x_adv[upd], mis[upd], margin[upd]
        if t < steps:
            x_adv = _project(x_adv + alpha * g.sign(), x, eps)
    return best, mis_best, margin_best


def pgd_strong(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: int, gen: torch.Generator,
               alpha: int | None = None, steps: int = STRONG_STEPS, restarts: int = STRONG_RESTARTS,
               starts: list[torch.Tensor] | None = None) -> torch.Tensor:
    """PGD-strong: `restarts` runs of `pgd_restart` (α = max(1, ⌈ε/4⌉), `steps` steps, random integer
    starts from `restart_starts`, or the given `starts`). Per image the worst restart is kept: the first
    restart that misclassifies it (later restarts skip the image), else the one with the lowest margin (ties:
    the earlier restart). Everything stays on the integer grid within ε."""
    alpha = strong_alpha(eps) if alpha is None else alpha
    if eps == 0:
        return x.clone()
    starts = restart_starts(x.shape, eps, gen, restarts, x.device) if starts is None else starts
    best = x.clone()
    mis_best = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    margin_best = torch.full((len(x),), float("inf"), device=x.device)
    for start in starts:
        left = (~mis_best).nonzero()[:, 0]
        if len(left) == 0:
            break
        xr, mis, margin = pgd_restart(model, x[left], y[left], eps, alpha, steps, start[left])
        upd = _worse(mis, margin, mis_best[left], margin_best[left])
        keep = left[upd]
        best[keep], mis_best[keep], margin_best[keep] = xr[upd], mis[upd], margin[upd]
    return best


@torch.no_grad()
def _margin(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x).float()
    correct = logits.gather(1, y[:, None])[:, 0]
    others = logits.scatter(1, y[:, None], float("-inf")).max(1).values
    return correct - others


def _p_selection(p_init: float, it: int, n_queries: int) -> float:
    """The reference Square schedule (defined for 10,000 queries, rescaled to n_queries)."""
    it = int(it / n_queries * 10000)
    for bound, div in ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128),
                       (8000, 256)):
        if it <= bound:
            return p_init / div
    return p_init / 512


@torch.no_grad()
def square(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: int, gen: torch.Generator,
           queries: int = DEFAULT_QUERIES, p_init: float = 0.8) -> torch.Tensor:
    """Square attack (L∞, margin loss), score-based: only the model's logits are used, no gradients.
    Every candidate sets a random s×s window (one random sign per channel, per image) to x ± ε: on the
    integer grid by construction. An image stops when it is misclassified."""
    n, c, h, w = x.shape
    if eps == 0:
        return x.clone()
    x_best = _project(x + eps * _random_sign((n, c, 1, w), gen, x.device), x, eps)  # vertical stripes
    margin = _margin(model, x_best, y)
    rows = torch.arange(h, device=x.device).view(1, 1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, 1, w)
    for it in range(queries - 1):
        active = (margin > 0).nonzero()[:, 0]
        if len(active) == 0:
            break
        p = _p_selection(p_init, it, queries)
        s = min(max(int(round(math.sqrt(p * h * w))), 1), h, w)
        k = len(active)
        vh = torch.randint(0, h - s + 1, (k,), generator=gen).to(x.device).view(k, 1, 1, 1)
        vw = torch.randint(0, w - s + 1, (k,), generator=gen).to(x.device).view(k, 1, 1, 1)
        window = (rows >= vh) & (rows < vh + s) & (cols >= vw) & (cols < vw + s)
        signs = _random_sign((k, c, 1, 1), gen, x.device)
        xa = x[active]
        cand = torch.where(window, _project(xa + eps * signs, xa, eps), x_best[active])
        m = _margin(model, cand, y[active])
        better = m < margin[active]
        upd = active[better]
        x_best[upd] = cand[better]
        margin[upd] = m[better]
    return x_best


class _Unit(nn.Module):
    """[0, 1] inputs (AutoAttack's convention) -> the dqhw model's 0..255 pixel inputs, rounded onto the integer
    grid in the forward pass with identity backward (BPDA). AutoAttack thus judges every candidate as the
    rounded uint8 image that will be scored: it keeps attacking an image whose float example the rounding
    would undo, instead of counting it as broken and moving on. Measured on a 2-bit CNV (CIFAR-10, 100
    images, ε = 2): without the rounding AutoAttack left 50 % of the correctly classified images robust after
    rounding, PGD-strong 16 %."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        z = x * 255.0
        return self.model(z + (torch.round(z) - z).detach())


def autoattack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: int, seed: int,
               queries: int = AUTOATTACK_QUERIES, batch_size: int = 256) -> torch.Tensor:
    import logging

    try:
        from pyautoattack import AutoAttack
    except ImportError:
        raise DqhwError("attack 'autoattack' needs pyautoattack==0.2.0 (pip install pyautoattack==0.2.0)") from None
    logging.getLogger("auto-attack").setLevel(logging.ERROR)
    if eps == 0:
        return x.clone()
    with torch.random.fork_rng(devices=[]):  # its Square reseeds the global generator
        aa = AutoAttack(_Unit(model), eps=eps / 255.0, norm="Linf", version="standard", seed=seed,
                        device=x.device)
        aa.square.n_queries = queries
        x_adv, _ = aa.run_standard_evaluation(x / 255.0, y, batch_size=batch_size)
    return (x_adv * 255.0).detach()


# --------------------------------------------------------------------------------------------------
# the public entry points


def craft_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, params: AttackParams,
                gen: torch.Generator, seed: int = 0) -> torch.Tensor:
    """One batch (float NCHW, integer pixels) -> adversarial batch (float NCHW; rounded and projected by
    the caller with `to_uint8_grid`). The model is switched to eval mode."""
    model = unwrap(model)
    model.eval()
    x = x.detach().float()
    e, name = params.eps, params.name
    if name == "random":
        return random_noise(x, e, gen)
    if name == "fgsm":
        return fgsm(model, x, y, e)
    if name == "rfgsm":
        return rfgsm(model, x, y, e, gen)
    if name in ("bim", "pgd"):
        return bim(model, x, y, e, params.alpha or 1, params.steps, gen, random_start=name == "pgd")
    if name == "pgd-strong":
        return pgd_strong(model, x, y, e, gen, params.alpha, params.steps, params.restarts)
    if name == "square":
        return square(model, x, y, e, gen, queries=params.queries or DEFAULT_QUERIES)
    if name == "autoattack":
        return autoattack(model, x, y, e, seed, queries=params.queries or AUTOATTACK_QUERIES, batch_size=len(x))
    raise DqhwError(f"unknown attack {name!r}")


def attack_images(model: nn.Module, images: np.ndarray, labels: np.ndarray, params: AttackParams, seed: int = 0,
                  batch_size: int = 256, device: str = "cpu",
                  on_batch: Callable[[int], None] | None = None) -> np.ndarray:
    """uint8 NHWC images + labels -> uint8 NHWC adversarial images on the grid, ‖·‖∞ ≤ ε (checked).
    Deterministic for a given seed and batch size."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise DqhwError(f"attack input must be uint8 NHWC images, got {images.dtype} {images.shape}")
    gen = torch.Generator().manual_seed(int(seed))
    out = np.empty_like(images)
    was_training = unwrap(model).training
    try:
        for i in range(0, len(images), batch_size):
            xb = images[i:i + batch_size]
            x = nhwc_to_input(xb, device)
            y = torch.as_tensor(np.asarray(labels[i:i + batch_size]), dtype=torch.long, device=device)
            x_adv = craft_batch(model, x, y, params, gen, seed=seed + i)
            out[i:i + batch_size] = to_uint8_grid(input_to_nhwc(x_adv), xb, params.eps)
            if on_batch is not None:
                on_batch(len(xb))
    finally:
        unwrap(model).train(was_training)
    check_linf(out, images, params.eps)
    return out


def sample_training_eps(gen: torch.Generator) -> int:
    """The paper's adversarial-training ε: clip(|N(0, 8)|, 0, 16), rounded to integer pixels."""
    return int(round(min(abs(float(torch.randn((), generator=gen))) * 8.0, 16.0)))


def adversarial_training_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, kind: str,
                               gen: torch.Generator) -> torch.Tensor:
    """Adversarial batch for `dqhw train --adv rfgsm|pgd`: ε per batch from clip(|N(0, 8)|, 0, 16) (rounded),
    R+FGSM single step (ε/2 random sign step) or PGD (α = 1, ⌊min(ε+4, 1.25ε)⌋ steps, random integer start).
    x: float NCHW pixels 0..255 (augmented, on the grid). Returns the batch on the integer grid, on x's device.
    Crafted in eval mode (BatchNorm statistics are not updated by the attack); the caller sets train()."""
    if kind not in ("rfgsm", "pgd"):
        raise DqhwError(f"--adv must be rfgsm or pgd, got {kind!r}")
    eps = sample_training_eps(gen)
    if eps == 0:
        return x.detach()
    m = unwrap(model)
    m.eval()
    x = x.detach().float()
    x_adv = rfgsm(m, x, y, eps, gen) if kind == "rfgsm" else pgd(m, x, y, eps, gen)
    return _project(torch.round(x_adv), torch.round(x), eps).detach()


# the report's column order of the attacks (white-box, then transfer (B), then score-based)
COLUMN_ORDER = ("random", "fgsm", "rfgsm", "bim", "pgd", "pgd-strong", "fgsm(B)", "rfgsm(B)", "bim(B)", "pgd(B)",
                "pgd-strong(B)", "square(B)", "random(B)", "autoattack(B)", "square", "autoattack")


def column_label(col: str) -> str:
    """Report label of a column: "PGD (paper)", "PGD-strong", "Square (score-based)", transfer "PGD(B)"."""
    if col.endswith("(B)"):
        base = LABELS.get(col[:-3], col[:-3])
        return base.replace(" (paper)", "").replace(" (score-based)", "") + "(B)"
    return LABELS.get(col, col)
