"""The Lipschitz picture DQ is about, per conv/linear layer and over the whole network.

For each layer: the relative orthogonality residual ||G - I||_F / sqrt(k) of the reshaped weight (G the
smaller Gram matrix, k its size: 0 for orthonormal rows, ~1 for a random init), the condition
sigma_max / sigma_min of the latent and of the applied (quantized) weight, the gain range gamma / sigma of
the BatchNorm that follows the layer, and the operator norm of the layer *as an operator* (the real conv
with its padding and stride, the applied weight, BN's gain folded in), by power iteration. The product of
the folded norms bounds the network's Lipschitz constant (activations are 1-Lipschitz).

Which BatchNorm follows which layer is read from a traced forward pass (a BN whose input *is* a layer's
output tensor), not from module order: Brevitas layers have child modules, and residual nets put the BN
of one block far from its conv in definition order. An orthonormal reshaped kernel does not make a 3x3
conv 1-Lipschitz (norms up to k are measured), and BN's gain multiplies on top, so the folded operator norm
is the number to read, not the residual alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from dqhw.quant import effective_weight, weight_layers
from dqhw.regularizer import as_matrix, orth_residual

BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)


@torch.no_grad()
def following_bn(model: nn.Module, example: torch.Tensor) -> dict[str, nn.Module]:
    """Map each conv/linear layer's name to the BatchNorm applied directly to its output (traced)."""
    names = {id(m): n for n, m in weight_layers(model)}
    outputs: dict[int, tuple[str, torch.Tensor]] = {}  # keep the tensors alive: ids stay unique
    found: dict[str, nn.Module] = {}

    def after_layer(mod, _inp, out):
        outputs[id(out)] = (names[id(mod)], out)

    def before_bn(mod, inp):
        hit = outputs.get(id(inp[0]))
        if hit is not None and hit[1] is inp[0]:
            found.setdefault(hit[0], mod)

    hooks = [m.register_forward_hook(after_layer) for _, m in weight_layers(model)]
    hooks += [m.register_forward_pre_hook(before_bn) for m in model.modules() if isinstance(m, BN_TYPES)]
    was_training = model.training
    model.eval()
    try:
        model(example)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return found


def bn_gain(bn: nn.Module) -> torch.Tensor:
    """gamma / sqrt(running_var + eps): the per-channel factor BN applies at inference."""
    return (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()


def _operator(layer: nn.Module, weight: torch.Tensor, bn: nn.Module | None):
    gain = bn_gain(bn) if bn is not None else None

    def apply(x):
        if isinstance(layer, nn.Conv2d):
            y = F.conv2d(x, weight, None, layer.stride, layer.padding, layer.dilation, layer.groups)
            return y * gain.view(1, -1, 1, 1) if gain is not None else y
        y = F.linear(x, weight)
        return y * gain if gain is not None else y

    return apply


def operator_norm(apply, in_shape: tuple[int, ...], iters: int = 50, seed: int = 0) -> float:
    """Largest singular value of the linear map `apply` on inputs of `in_shape`, by power iteration
    (the adjoint comes from autograd, so padding and stride are handled exactly)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((1, *in_shape), generator=g)
    x /= x.norm()
    sigma = 0.0
    for _ in range(iters):
        x = x.detach().requires_grad_(True)
        y = apply(x)
        sigma = float(y.detach().norm())
        (adj,) = torch.autograd.grad(0.5 * y.pow(2).sum(), x)  # A^T A x
        x = adj / (adj.norm() + 1e-30)
    return sigma


@torch.no_grad()
def _input_shapes(model: nn.Module, example: torch.Tensor) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []

    def record(name):
        def hook(mod, inp, out):  # must return None, or it would replace the output
            shapes.setdefault(name, tuple(inp[0].shape[1:]))

        return hook

    for name, m in weight_layers(model):
        hooks.append(m.register_forward_hook(record(name)))
    was_training = model.training
    model.eval()
    model(example)
    model.train(was_training)
    for h in hooks:
        h.remove()
    return shapes


def relative_residual(weight: torch.Tensor) -> float:
    """||G - I||_F / sqrt(k), G the k x k smaller Gram matrix of the reshaped weight."""
    k = min(as_matrix(weight).shape)
    return math.sqrt(float(orth_residual(weight.detach().float(), paper=False))) / math.sqrt(k)


def condition(weight: torch.Tensor) -> tuple[float, float, float]:
    """(sigma_max, sigma_min, sigma_max / sigma_min) of the reshaped weight (its min(m, n) singular values)."""
    s = torch.linalg.svdvals(as_matrix(weight.detach().float()))
    hi, lo = float(s.max()), float(s.min())
    return hi, lo, (hi / lo if lo > 0 else float("inf"))


def layer_report(model: nn.Module, example: torch.Tensor, iters: int = 50) -> list[dict]:
    """One row per conv/linear layer (see the module docstring for every field)."""
    shapes = _input_shapes(model, example)
    bns = following_bn(model, example)
    rows = []
    for name, layer in weight_layers(model):
        latent = layer.weight.detach().float()
        applied = effective_weight(layer).detach().float()
        bn = bns.get(name)
        gains = bn_gain(bn) if bn is not None else None
        lat_hi, lat_lo, lat_cond = condition(latent)
        app_hi, app_lo, app_cond = condition(applied)
        rows.append({
            "layer": name,
            "type": type(layer).__name__,
            "weight_shape": list(layer.weight.shape),
            "orth_residual": math.sqrt(float(orth_residual(latent))),  # the paper's ||W^T W - I||_F
            "relative_residual": relative_residual(latent),
            "relative_residual_applied": relative_residual(applied),
            # of diag(gamma / sigma) W, what conv + BN applies (what --dq-target bn-folded regularizes)
            "relative_residual_folded": relative_residual(
                applied if gains is None else applied * gains.view(-1, *[1] * (applied.dim() - 1))),
            "sigma_max": lat_hi, "sigma_min": lat_lo, "condition": lat_cond,
            "sigma_max_applied": app_hi, "sigma_min_applied": app_lo, "condition_applied": app_cond,
            "bn": None if bn is None else next(n for n, m in model.named_modules() if m is bn),
            "bn_gain_min": None if gains is None else float(gains.abs().min()),
            "bn_gain_max": None if gains is None else float(gains.abs().max()),
            "spectral_norm": operator_norm(_operator(layer, applied, None), shapes[name], iters),
            "spectral_norm_with_bn": operator_norm(_operator(layer, applied, bn), shapes[name], iters),
        })
    return rows


def bn_gain_range(rows: list[dict]) -> tuple[float, float] | None:
    """(smallest, largest) BN gain over the layers that have a BatchNorm; None without any."""
    gains = [(r["bn_gain_min"], r["bn_gain_max"]) for r in rows if r.get("bn_gain_min") is not None]
    return (min(g[0] for g in gains), max(g[1] for g in gains)) if gains else None


def format_gain_range(rows: list[dict]) -> str:
    rng = bn_gain_range(rows)
    return f"{rng[0]:.2f}–{rng[1]:.2f}" if rng else "–"


def network_summary(rows: list[dict]) -> dict:
    """Products over layers (a bound on the network's Lipschitz constant) and mean relative residuals."""
    prod = math.prod(r["spectral_norm_with_bn"] for r in rows) if rows else float("nan")
    prod_w = math.prod(r["spectral_norm"] for r in rows) if rows else float("nan")
    n = max(len(rows), 1)
    return {"layers": len(rows), "norm_product_with_bn": prod, "norm_product": prod_w,
            "mean_relative_residual": sum(r["relative_residual"] for r in rows) / n,
            "max_norm_with_bn": max((r["spectral_norm_with_bn"] for r in rows), default=float("nan"))}
