"""Per-clip curves: one PNG per metric, one line per method (the mean over that method's videos)."""

from __future__ import annotations

from pathlib import Path


def plot_curves(report: dict, folder: Path) -> dict[str, str]:
    """Write `folder`/<metric>.png for every metric with a per-clip score; returns {metric: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, info in report["metrics"].items():
        lines = {
            m: e["clips"][name]
            for m, e in report["per_method"].items()
            if any(v is not None for v in e["clips"].get(name) or [])
        }  # a metric no clip is long enough for (a drift error over short clips) gets no empty plot
        if not lines:
            continue
        fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
        for method, curve in lines.items():
            xs = [i + 1 for i, v in enumerate(curve) if v is not None]
            ax.plot(xs, [v for v in curve if v is not None], marker="o", markersize=3, label=method)
        arrow = "higher is better" if info["higher_is_better"] else "lower is better"
        ax.set(xlabel="clip", ylabel=name, title=f"{name} per clip ({arrow})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax.text(0.99, 0.01, info["source"], transform=ax.transAxes, ha="right", va="bottom", fontsize=6, alpha=0.6)
        fig.tight_layout()
        path = folder / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        written[name] = str(path)
    return written
