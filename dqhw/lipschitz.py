"""The Lipschitz picture DQ is about: per layer, the orthogonality residual of the (latent) weight and
the spectral norm of the layer *as an operator* (the real conv with its padding and stride, BatchNorm's
per-channel gain gamma/sigma folded in, the weights the hardware applies), by power iteration.

An orthonormal reshaped kernel does not make a 3x3 conv 1-Lipschitz (norms up to k are measured), so
the operator norm is the number to read, not the residual alone.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dqhw.quant import effective_weight, weight_layers
from dqhw.regularizer import orth_residual


def _following_bn(model: nn.Module) -> dict[str, nn.Module]:
    """Map each conv/linear name to the BatchNorm that directly follows it in module order."""
    out, prev = {}, None
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            prev = name
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) and prev is not None:
            out[prev] = m
            prev = None
        elif len(list(m.children())) == 0 and not isinstance(m, (nn.Identity,)):
            if prev is not None and not isinstance(m, (nn.Conv2d, nn.Linear)):
                prev = None
    return out


def _operator(layer: nn.Module, weight: torch.Tensor, bn: nn.Module | None):
    gain = None
    if bn is not None:
        gain = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()

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


def layer_report(model: nn.Module, example: torch.Tensor, iters: int = 50) -> list[dict]:
    """One row per conv/linear layer: shape, ||W^T W - I||_F (paper form), operator norm with BN."""
    shapes = _input_shapes(model, example)
    bns = _following_bn(model)
    rows = []
    for name, layer in weight_layers(model):
        w_eff = effective_weight(layer).detach().float()
        with torch.no_grad():
            residual = float(orth_residual(layer.weight.detach()).sqrt())
        norm_w = operator_norm(_operator(layer, w_eff, None), shapes[name], iters)
        norm_bn = operator_norm(_operator(layer, w_eff, bns.get(name)), shapes[name], iters)
        rows.append({
            "layer": name,
            "type": type(layer).__name__,
            "weight_shape": list(layer.weight.shape),
            "orth_residual": residual,
            "spectral_norm": norm_w,
            "spectral_norm_with_bn": norm_bn,
        })
    return rows
