"""The Defensive Quantization regularizer: beta/2 * sum_l ||W_l^T W_l - I||_F^2.

Each conv/linear weight is viewed as an m x n matrix, m = c_out, n = c_in*k*k. We always form the
*smaller* Gram matrix G (m x m if m <= n, else n x n) because

    ||W^T W - I_n||_F^2 = ||W W^T - I_m||_F^2 + (n - m)

holds for every W: both sides have the same gradient 4 (W W^T W - W), the constant n - m is the floor
the paper's value cannot go below when m < n (rank m < n makes W^T W = I_n impossible). Pushing
W W^T towards I_m makes the rows orthonormal, which is exactly what keeps the layer non-expansive
(all m singular values 1). The small Gram costs m^2 n instead of n^2 m flops (about 5x less on CNV).

Two ways to use it, numerically identical:
- `dq_loss(model, beta)`: a differentiable term to add to the loss (used by tests, autograd reference).
- `DQRegularizer.add_grad_(model)`: after loss.backward(), adds the closed-form gradient
  2*beta*(G - I) W to every weight's .grad under no_grad and returns the paper's value. No autograd
  graph, two matmuls per layer: this is the fast path used for training (bench/bench_regularizer.py).
The regularized weight is the latent float weight (what the optimizer updates); the per-layer report
(dqhw.lipschitz) shows the operator norm of the weights the hardware actually applies.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from dqhw.quant import weight_layers


def as_matrix(weight: torch.Tensor) -> torch.Tensor:
    """c_out x (c_in * k * k) view of a conv or linear weight."""
    return weight.reshape(weight.shape[0], -1)


def _small_gram(w: torch.Tensor) -> torch.Tensor:
    m, n = w.shape
    return w @ w.T if m <= n else w.T @ w


def orth_residual(weight: torch.Tensor, paper: bool = True) -> torch.Tensor:
    """||W^T W - I||_F^2 (paper=True) or the small-Gram value ||G - I||_F^2 (paper=False)."""
    w = as_matrix(weight)
    m, n = w.shape
    g = _small_gram(w)
    small = (g - torch.eye(g.shape[0], dtype=g.dtype, device=g.device)).pow(2).sum()
    return small + max(n - m, 0) if paper else small


def dq_loss(model: nn.Module, beta: float) -> torch.Tensor:
    """beta/2 * sum ||G - I||^2 over the small Gram of every layer (differentiable)."""
    terms = [orth_residual(m.weight, paper=False) for _, m in weight_layers(model)]
    if not terms:
        return torch.zeros(())
    return 0.5 * beta * torch.stack(terms).sum()


class DQRegularizer:
    """Closed-form gradient of beta/2 * sum ||W^T W - I||^2, applied after backward().

    `every=k` applies it lazily: on every k-th call with k times the gradient (the same
    regularization in expectation, 1/k of the cost; StyleGAN's "lazy regularization"). Default 1.

    `target="bn-folded"` (beyond the paper) regularizes W' = diag(gamma / sigma) W for every layer in
    `bns` (name -> the BatchNorm after it, dqhw.lipschitz.following_bn), sigma from the running variance
    (held constant): conv + BN is invariant to scaling W's rows, so only the folded weight says how far
    the layer stretches its input. The gradient reaches W and gamma. Layers without a BN keep W.
    """

    def __init__(self, model: nn.Module, beta: float, every: int = 1, target: str = "weight",
                 bns: dict[str, nn.Module] | None = None):
        if target not in ("weight", "bn-folded"):
            raise ValueError(f"unknown regularizer target {target!r}")
        if target == "bn-folded" and bns is None:
            raise ValueError("target='bn-folded' needs the BatchNorm of each layer (bns)")
        self.beta = float(beta)
        self.every = max(1, int(every))
        self.calls = 0
        self.last_value = 0.0
        self.last_reducible = 0.0  # beta/2 * sum ||G - I||^2: the part training can remove
        bns = bns or {}
        self.layers = [(m.weight, bns.get(n) if target == "bn-folded" else None) for n, m in weight_layers(model)]
        self.params = [p for p, _ in self.layers]

    @torch.no_grad()
    def add_grad_(self) -> float:
        """Add the regularizer's gradient to each weight's .grad; return the paper's value
        beta/2 * sum ||W^T W - I_n||_F^2 (0.0 when beta == 0, nothing computed). With every=k the
        value of the last computed step is returned in between. `last_reducible` holds the same sum
        without the constant n - m per layer that no weight can remove (rank m < n)."""
        if self.beta == 0.0:
            return 0.0
        self.calls += 1
        if (self.calls - 1) % self.every:
            return self.last_value
        scale = 2.0 * self.beta * self.every
        total = reducible = 0.0
        for p, bn in self.layers:
            gain = None
            w = as_matrix(p)
            if bn is not None:
                gain = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).view(-1, 1)
                w = w * gain
            m, n = w.shape
            if m <= n:
                e = w @ w.T
                e.diagonal().sub_(1.0)
                grad = e @ w  # d/dW of 1/4 ||WW^T - I||^2
            else:
                e = w.T @ w
                e.diagonal().sub_(1.0)
                grad = w @ e
            small = float(torch.linalg.vector_norm(e)) ** 2
            reducible += small
            total += small + max(n - m, 0)
            grad.mul_(scale)
            if bn is not None:  # chain rule through W' = diag(gain) W: to W and to gamma
                g_gamma = (grad * as_matrix(p)).sum(1) / torch.sqrt(bn.running_var + bn.eps)
                bn.weight.grad = g_gamma if bn.weight.grad is None else bn.weight.grad.add_(g_gamma)
                grad = grad * gain
            g = grad.reshape(p.shape)
            if p.grad is None:
                p.grad = g
            else:
                p.grad.add_(g)
        self.last_value = 0.5 * self.beta * total
        self.last_reducible = 0.5 * self.beta * reducible
        return self.last_value
