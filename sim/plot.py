"""Per-layer picture of a simulation: cycles (compute + stall) and utilization."""

from __future__ import annotations

from pathlib import Path

from qaccel.sim.result import SimResult

__all__ = ["plot_layers"]


def plot_layers(result: SimResult, path: str | Path, title: str | None = None) -> Path:
    """Write a PNG: stacked compute/stall cycles per layer (bars) and utilization (line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = result.frame
    n = len(df)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.22 * n + 3), 5.0), dpi=110)
    x = range(n)
    ax.bar(x, df["compute_cycles"], color="#4c72b0", label="compute cycles")
    ax.bar(x, df["stall_cycles"], bottom=df["compute_cycles"], color="#dd8452",
           label="memory stall cycles")
    ax.set_ylabel("cycles")
    ax.set_ylim(0, max(1, int(df["total_cycles"].max())) * 1.3)  # room for the legend
    ax.set_xticks(list(x))
    ax.set_xticklabels(df["layer"], rotation=90, fontsize=6 if n > 30 else 8)
    ax2 = ax.twinx()
    ax2.plot(list(x), df["utilization"] * 100, color="#2ca02c", marker=".", label="utilization")
    ax2.set_ylabel("PE utilization (%)")
    ax2.set_ylim(0, 130)
    ax2.set_yticks(range(0, 101, 20))
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper right", fontsize=8, ncol=3)
    tot = result.totals()
    ax.set_title(title or f"{result.accel_name}: {tot['total_cycles']:,} cycles, "
                 f"{tot['utilization']:.1%} utilization ({result.engine} engine)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
