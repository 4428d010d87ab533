"""The ``qaccel codesign`` scatter: cosine against the cost objective, by area."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["plot_codesign"]


def plot_codesign(df: pd.DataFrame, path: Path, column: str, budget_cosine: float) -> Path:
    """Every point (mean cosine vs ``column``, colour = area in mm²); uniform-format points
    as labelled squares, the budget as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    mixed = df[df["uniform"] == ""]
    sc = ax.scatter(mixed[column], mixed["cos_mean"], c=mixed["area_mm2"], s=12,
                    cmap="viridis", alpha=0.7, label="mixed (search)")
    uni = df[df["uniform"] != ""]
    for i, (fmt, grp) in enumerate(uni.groupby("uniform")):
        ax.scatter(grp[column], grp["cos_mean"], marker="s", s=30, edgecolor="black",
                   facecolor=f"C{i + 1}", label=f"uniform {fmt}")
    ax.axhline(budget_cosine, color="grey", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(f"{column} (lower is better)")
    ax.set_ylabel("mean cosine to float32")
    fig.colorbar(sc, ax=ax, label="array area (mm^2)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
