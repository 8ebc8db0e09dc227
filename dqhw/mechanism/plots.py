"""Plots of the mechanism experiment: D per layer (quantizers on vs bypassed) and robust accuracy."""

from __future__ import annotations

from pathlib import Path

from dqhw.mechanism.config import MechanismConfig

KIND_LABELS = {"noise": "uniform noise", "transfer-fgsm": "FGSM transferred from FP"}


def _figure(rows: int, cols: int, size=(4.2, 3.2)):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)


def plot_d(cfg: MechanismConfig, results: list[dict], path: Path) -> None:
    """One panel per (perturbation kind, eps): D per activation layer for every seed-0 run, solid =
    quantizers on, dashed = bypassed (float ReLU6)."""
    eps_list = cfg.measure["robust_eps"]
    kinds = list(KIND_LABELS)
    plt, fig, axes = _figure(len(kinds), len(eps_list))
    runs = [r for r in results if r["seed"] == 0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, kind in enumerate(kinds):
        for j, eps in enumerate(eps_list):
            ax = axes[i][j]
            for k, r in enumerate(runs):
                cell = r["d"][kind][str(eps)]
                x = range(1, len(cell["on"]) + 1)
                ax.plot(x, cell["on"], "-o", ms=3, color=colors[k % len(colors)], label=r["group"])
                if r["quantized"]:
                    ax.plot(x, cell["off"], "--", color=colors[k % len(colors)], alpha=0.6)
            ax.set_title(f"{KIND_LABELS[kind]}, ε = {eps}", fontsize=9)
            ax.set_xlabel("activation layer", fontsize=8)
            ax.set_ylabel("D = ‖A − A′‖ / ‖A‖", fontsize=8)
            ax.set_yscale("log")
    axes[0][0].legend(fontsize=6, title="solid: quantized, dashed: bypassed", title_fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_robust(cfg: MechanismConfig, results: list[dict], path: Path) -> None:
    """Per-image worst-case robust accuracy per run at each robust eps (bars), clean accuracy as a mark."""
    eps_list = cfg.measure["robust_eps"]
    plt, fig, axes = _figure(1, 1, size=(8, 3.6))
    ax = axes[0][0]
    width = 0.8 / (len(eps_list) + 1)
    names = [r["run"] for r in results]
    for j, eps in enumerate([None, *eps_list]):
        vals = [100 * (r["robust"]["clean"] if eps is None else r["robust"]["eps"][str(eps)]["worst"]) for r in results]
        ax.bar([i + j * width for i in range(len(results))], vals, width,
               label="clean" if eps is None else f"worst case ε = {eps}")
    ax.set_xticks([i + width * len(eps_list) / 2 for i in range(len(results))], names, rotation=45, ha="right",
                  fontsize=7)
    ax.set_ylabel("accuracy %")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
