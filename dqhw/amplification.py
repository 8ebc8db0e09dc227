"""Fig. 3a as the paper means it: the error amplification D = ||A - A_adv||_2 / ||A||_2 per activation
layer, for the *same* model with its activation quantizers on and bypassed (float ReLU6 over the same
range), under perturbations that are identical for every model (uniform integer noise in [-eps, eps] and
FGSM transferred from one fixed source model), so that models are compared on the same inputs.

The paper's argument: a quantizer rounds small perturbations away (D on < D bypassed) until the noise,
amplified layer by layer, jumps buckets; a non-expansive network keeps it small enough.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn

from dqhw.attacks import attack_images, attack_params


def bypass_quantizers(model: nn.Module) -> tuple[nn.Module, int]:
    """A copy of `model` whose quantized ReLUs are float clipped ReLUs over the same range [0, max]
    (the input quantizer, if any, is bypassed too: an identity). Returns (copy, number replaced)."""
    from brevitas.nn import QuantIdentity, QuantReLU

    twin = copy.deepcopy(model).eval()
    replaced = 0
    for mod in list(twin.modules()):
        for child_name, child in list(mod.named_children()):
            if isinstance(child, QuantReLU):
                setattr(mod, child_name, nn.Hardtanh(0.0, _act_max(child)))
                replaced += 1
            elif isinstance(child, QuantIdentity):
                setattr(mod, child_name, nn.Identity())
                replaced += 1
    return twin, replaced


def _act_max(q: nn.Module) -> float:
    """The clipping range a QuantReLU applies: its quantizer's scale * (2^b - 1)."""
    with torch.no_grad():
        scale = float(q.act_quant.scale().detach().reshape(-1)[0])
        bits = int(q.act_quant.bit_width())
    return scale * (2 ** bits - 1)


def noise_set(images: np.ndarray, eps: int, seed: int) -> np.ndarray:
    """Uniform integer noise in [-eps, eps] per pixel, clipped to 0..255: the same for every model."""
    gen = np.random.default_rng(seed * 1000 + eps)
    noise = gen.integers(-eps, eps + 1, size=images.shape)
    return np.clip(images.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def transfer_set(source: nn.Module, images: np.ndarray, labels: np.ndarray, attack: str, eps: int,
                 seed: int, batch_size: int = 250) -> np.ndarray:
    """`attack` crafted on `source` (white-box there), to be applied to every other model."""
    return attack_images(source, images, labels, attack_params(attack, eps), seed=seed, batch_size=batch_size)


def d_per_layer(model: nn.Module, clean: np.ndarray, perturbed: np.ndarray, batch_size: int = 250) -> list[float]:
    """D per activation layer (rows of Fig. 3a) of `model` between two image sets."""
    return normalized_distance(activations(model, clean, batch_size), activations(model, perturbed, batch_size))


def on_off_table(model: nn.Module, clean: np.ndarray, sets: dict[str, dict[int, np.ndarray]],
                 batch_size: int = 250) -> dict:
    """{kind: {eps: {"on": [D per layer], "off": [...]}}} for every perturbation kind and eps in `sets`;
    "off" is the same model with its quantizers bypassed ("off" = "on" for a float model)."""
    twin, replaced = bypass_quantizers(model)
    out: dict = {"quantizers_bypassed": replaced}
    for kind, by_eps in sets.items():
        out[kind] = {}
        for eps, pert in by_eps.items():
            on = d_per_layer(model, clean, pert, batch_size)
            off = d_per_layer(twin, clean, pert, batch_size) if replaced else list(on)
            out[kind][str(eps)] = {"on": on, "off": off}
    return out


def mean_last_layer(table: dict, kinds: Sequence[str], eps_list: Sequence[int], which: str = "on") -> float:
    """The last activation layer's D averaged over perturbation kinds and eps (the rule's statistic)."""
    vals = [table[k][str(e)][which][-1] for k in kinds for e in eps_list]
    return float(np.mean(vals)) if vals else float("nan")


# Fig. 3: D per activation layer (also read by dqhw.evaluate's report and dqhw reproduce)
def activation_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The activation stages (quantized ReLU or float clipped ReLU) in definition order."""
    try:
        from brevitas.nn import QuantReLU
        kinds: tuple = (QuantReLU, nn.ReLU, nn.ReLU6, nn.Hardtanh)
    except ImportError:  # pragma: no cover
        kinds = (nn.ReLU, nn.ReLU6, nn.Hardtanh)
    out: list[tuple[str, nn.Module]] = []
    for n, m in model.named_modules():  # QuantReLU wraps an nn.ReLU: keep the outermost stage only
        if isinstance(m, kinds) and not any(n.startswith(p + ".") for p, _ in out):
            out.append((n, m))
    return out


@torch.no_grad()
def activations(model: nn.Module, images: np.ndarray, batch_size: int = 256) -> list[np.ndarray]:
    """Outputs of every activation stage, in call order, flattened per image: a list of (N, features)."""
    from dqhw.models import to_input

    model.eval()
    store: list[list[torch.Tensor]] = []
    calls: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: calls.append(o.detach().float().flatten(1)))
             for _, m in activation_modules(model)]
    try:
        for i in range(0, len(images), batch_size):
            calls.clear()
            model(to_input(images[i:i + batch_size]))
            store.append(list(calls))
    finally:
        for h in hooks:
            h.remove()
    if not store or not store[0]:
        return []
    return [torch.cat([b[k] for b in store]).numpy() for k in range(len(store[0]))]


def normalized_distance(clean: list[np.ndarray], adv: list[np.ndarray]) -> list[float]:
    """D = ‖A − A_adv‖₂ / ‖A‖₂ per layer, per image, averaged over images with ‖A‖ > 0."""
    out = []
    for a, b in zip(clean, adv):
        na = np.linalg.norm(a, axis=1)
        d = np.linalg.norm(a - b, axis=1)
        ok = na > 0
        out.append(float((d[ok] / na[ok]).mean()) if ok.any() else float("nan"))
    return out


def error_amplification(run, images: np.ndarray, labels: np.ndarray, eps_list: Sequence[int], seed: int,
                        batch_size: int = 256, source=None) -> dict:
    """Fig. 3: D per activation layer for FGSM white-box examples at each ε (rows: ε, columns: layers), and
    Fig. 3a as the paper means it (`on_off`): the same model with its quantizers on and bypassed, under
    perturbations identical for every run (uniform noise seeded by `seed`; FGSM transferred from `source`
    when one is given)."""
    clean = activations(run.model, images, batch_size)
    rows = []
    for e in eps_list:
        adv = attack_images(run.model, images, labels, attack_params("fgsm", e), seed=seed, batch_size=batch_size)
        rows.append(normalized_distance(clean, activations(run.model, adv, batch_size)))
    sets = {"noise": {e: noise_set(images, e, seed) for e in eps_list}}
    if source is not None:
        sets["transfer-fgsm"] = {e: transfer_set(source.model, images, labels, "fgsm", e, seed, batch_size)
                                 for e in eps_list}
    return {"attack": "fgsm", "eps": list(eps_list), "layers": [n for n, _ in activation_modules(run.model)],
            "D": rows, "on_off": on_off_table(run.model, images, sets, batch_size),
            "transfer_source": None if source is None else str(source.path)}
