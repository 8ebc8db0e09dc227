"""The PNGs of `dqhw eval` (matplotlib, Agg backend), drawn from the report dict of dqhw.evaluate."""

from __future__ import annotations

from pathlib import Path

from dqhw.io import atomic_path

FAMILY_COLORS = {"FP": "black", "FP+DQ": "tab:gray", "vanilla": "tab:red", "DQ": "tab:blue"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> str:
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)
    return path.name


def _styles(runs: list[dict]) -> dict[str, dict]:
    plt = _plt()
    cmap = plt.get_cmap("tab10")
    out, k = {}, 0
    for r in runs:
        base = r["label"].removesuffix(" + FS")
        if base not in out:
            out[base] = {"color": cmap(k % 10)}
            k += 1
    return {r["label"]: {**out[r["label"].removesuffix(" + FS")],
                         "linestyle": "--" if r["squeeze"] else "-", "marker": "o"} for r in runs}


def _short(label: str, width: int = 48) -> str:
    return label if len(label) <= width else label[:width - 1] + "…"


def accuracy_vs_eps(rep: dict, out: Path) -> str | None:
    from dqhw.attacks import COLUMN_ORDER, column_label

    runs = rep["runs"]
    cols = []
    for r in runs:
        cols += [c for c in r["columns"] if c not in cols]
    cols = sorted(cols, key=lambda c: COLUMN_ORDER.index(c) if c in COLUMN_ORDER else len(COLUMN_ORDER))
    if not cols:
        return None
    plt = _plt()
    ncol = min(4, len(cols))
    nrow = -(-len(cols) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.0 * nrow + 0.8), squeeze=False, sharey=True)
    style = _styles(runs)
    for ax, c in zip(axes.flat, cols):
        for r in runs:
            pts = sorted((int(e), v) for e, v in r["acc"].get(c, {}).items())
            if not pts:
                continue
            xs = [0] + [p[0] for p in pts]
            ys = [100 * r["clean"]] + [100 * p[1] for p in pts]
            ax.plot(xs, ys, label=_short(r["label"]), **style[r["label"]])
        ns = {r.get("columns_n", {}).get(c, rep["num_images"]) for r in runs} - {rep["num_images"]}
        ax.set_title(column_label(c) + (f" ({', '.join(map(str, sorted(ns)))} images)" if ns else ""))
        ax.set_xlabel("ε (pixels)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (%)")
    for ax in list(axes.flat)[len(cols):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8,
               bbox_to_anchor=(0.5, -0.02 - 0.035 * ((len(labels) - 1) // 3)))
    fig.suptitle(f"Accuracy vs ε — {rep['dataset']} {rep['split']}, {rep['num_images']} images (ε=0: clean)")
    fig.tight_layout(rect=(0, 0.04 + 0.035 * ((len(labels) - 1) // 3), 1, 1))
    return _save(fig, out / "accuracy_vs_eps.png")


def accuracy_vs_bits(rep: dict, out: Path) -> str | None:
    from dqhw.attacks import column_label

    bt = rep.get("bit_table")
    if not bt:
        return None
    plt = _plt()
    cols = bt["columns"]
    fig, axes = plt.subplots(1, len(cols), figsize=(3.4 * len(cols), 3.4), squeeze=False, sharey=True)
    cmap = plt.get_cmap("tab10")
    for ax, c in zip(axes[0], cols):
        for k, (fam, row) in enumerate(sorted(bt["rows"].items())):
            color = FAMILY_COLORS.get(fam, cmap((k + 4) % 10))
            if "fp" in row and row["fp"].get(c) is not None:
                ax.axhline(100 * row["fp"][c], color=color, linestyle=":",
                           label=fam if fam.startswith("FP") else f"{fam} (FP)")
            pts = sorted((int(b), v.get(c)) for b, v in row.items() if b != "fp" and v.get(c) is not None)
            if pts:
                ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], marker="o", color=color, label=fam)
        ax.set_title("clean" if c == "clean" else f"{column_label(c)} ε={bt['eps']}")
        ax.set_xlabel("activation bits")
        ax.set_xticks(bt["bits"])
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("accuracy (%)")
    handles, labels = [], []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(f"Accuracy vs activation bit width (Table 1 / Fig. 1 layout) — {rep['dataset']}")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, out / "accuracy_vs_bits.png")


def error_amplification(rep: dict, out: Path) -> str | None:
    runs = [r for r in rep["runs"] if r.get("amplification")]
    if not runs:
        return None
    plt = _plt()
    style = _styles(runs)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    e_show = rep["eps"][len(rep["eps"]) // 2]
    for r in runs:
        a = r["amplification"]
        st = style[r["label"]]
        d_first = [row[0] for row in a["D"]]
        d_last = [row[-1] for row in a["D"]]
        axes[0].plot(a["eps"], d_first, label=_short(r["label"]), **st)
        axes[1].plot(a["eps"], d_last, **st)
        row = a["D"][a["eps"].index(e_show)]
        axes[2].plot(range(1, len(row) + 1), row, **st)
    axes[0].set_title("(a) after the first activation, vs ε")
    axes[1].set_title("(b) at the last activation, vs ε")
    axes[2].set_title(f"(c) per layer, FGSM ε={e_show}")
    for ax in axes[:2]:
        ax.set_xlabel("ε (pixels)")
    axes[2].set_xlabel("activation layer")
    n_layers = max(len(r["amplification"]["layers"]) for r in runs)
    axes[2].set_xticks(range(1, n_layers + 1))
    for ax in axes:
        ax.set_ylabel("D = ‖A − A_adv‖₂ / ‖A‖₂")
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=min(3, len(runs)), fontsize=8,
               bbox_to_anchor=(0.5, -0.04 - 0.04 * ((len(runs) - 1) // 3)))
    fig.suptitle(f"Error amplification (Fig. 3), FGSM white-box — {rep['dataset']}")
    fig.tight_layout(rect=(0, 0.06 + 0.04 * ((len(runs) - 1) // 3), 1, 1))
    return _save(fig, out / "error_amplification.png")


def write_all(rep: dict, out: Path) -> list[str]:
    out = Path(out)
    return [p for p in (accuracy_vs_eps(rep, out), accuracy_vs_bits(rep, out), error_amplification(rep, out)) if p]
