"""Sweep pictures (PNG, matplotlib Agg): a Pareto scatter and a heatmap over two axes.

Both draw one panel per workload (designs are compared within a workload), label every axis
with its unit (:func:`qaccel.sweeps.columns.label`), switch to log scale when positive values
span more than :data:`LOG_SPAN`, and leave out rows that violate a constraint (the scatter
shows them as grey crosses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qaccel.sweeps.columns import DEFAULT_COLOR, HIGHER_IS_BETTER, display_scale, label
from qaccel.sweeps.pareto import pareto_front
from qaccel.sweeps.spec import Goal, SweepSpec

__all__ = ["plot_pareto", "plot_heatmap", "write_spec_plots", "LOG_SPAN"]

#: max/min ratio above which an axis is drawn in log scale
LOG_SPAN = 20.0
#: the same for heatmap colour scales (cell numbers carry the detail)
HEAT_LOG_SPAN = 100.0
#: the most categories coloured separately (more: a colour scale)
MAX_CATEGORIES = 10
#: front points are annotated with their axis values when the front is this small
MAX_ANNOTATED = 10
#: one marker per colour category, so that categories drawn on one spot stay visible
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
#: at most this many labelled ticks on a linear axis (long numbers must not collide)
MAX_TICKS = 6


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(plt: Any, n: int, width: float, height: float,
            extra: float = 0.0) -> tuple[Any, list[Any]]:
    """``n`` panels, at most 3 a row; ``extra``: inches on the right (a legend)."""
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axs = plt.subplots(rows, cols, figsize=(width * cols + extra, height * rows), dpi=120,
                            layout="constrained", squeeze=False)
    flat = list(axs.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _log_if_wide(ax: Any, which: str, values: pd.Series) -> None:
    """Log scale for positive values spanning > LOG_SPAN; else plain tick numbers (no
    "1e11" offset text that is easy to miss)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    v = values[values > 0]
    axis = ax.xaxis if which == "x" else ax.yaxis
    if len(v) and len(v) == len(values) and v.max() / v.min() > LOG_SPAN:
        (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    else:
        axis.set_major_locator(MaxNLocator(nbins=MAX_TICKS, steps=[1, 2, 2.5, 5, 10]))
        axis.set_major_formatter(FuncFormatter(lambda t, _: _number(t)))


def _better(goal: Goal) -> str:
    return "lower is better" if goal is Goal.MIN else "higher is better"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _number(value: float) -> str:
    """3 significant digits; thousands separated, no exponent below 10^7 ("4.6e+11" above)."""
    if abs(value) >= 1000 and abs(value) < 1e7:
        digits = 3 - len(str(int(abs(value))))
        return f"{round(value, digits):,.0f}"
    return f"{value:.3g}"


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers before names, each in their natural order."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0, value
    return 1, str(value)


def _annotation(row: pd.Series, columns: Sequence[str]) -> str:
    return ", ".join(f"{c.split('.')[-1]}={_short(row[c])}" for c in columns)


def _tells_color(df: pd.DataFrame, column: str, color: str) -> bool:
    """Whether ``column``'s values and ``color``'s match one to one (``base_arch`` and
    ``pe_array.family`` with one base per family): the colour already labels them."""
    if column not in df.columns or color not in df.columns:
        return False
    pairs = df[[column, color]].drop_duplicates()
    return bool(pairs[column].is_unique and pairs[color].is_unique)


def plot_pareto(df: pd.DataFrame, x: str, y: str, path: str | Path, *,
                goals: Sequence[Goal | str] = ("min", "min"), color: str = DEFAULT_COLOR,
                annotate: Sequence[str] = (), title: str | None = None,
                infeasible: str = "violates a constraint") -> Path:
    """Scatter of ``y`` against ``x`` per workload, coloured by ``color``; the Pareto front of
    (x, y) under ``goals`` drawn as a staircase. ``annotate``: columns (e.g. the axes) whose
    values label the front points; those equal along the whole front go in the panel title.
    ``df`` needs ``workload`` and optionally ``feasible`` (False rows: grey crosses labelled
    ``infeasible``)."""
    plt = _pyplot()
    gx, gy = (Goal(g) for g in goals)
    (fx, x_label), (fy, y_label) = display_scale(x, df[x]), display_scale(y, df[y])
    df = df.assign(**{x: df[x] / fx} if fx != 1 else {}).assign(
        **{y: df[y] / fy} if fy != 1 else {})  # energies in mJ / µJ, times in ms (not pJ, µs)
    workloads = list(dict.fromkeys(df["workload"]))
    fig, axes = _panels(plt, max(1, len(workloads)), 6.4, 5.0, extra=1.0)
    ok = df["feasible"] if "feasible" in df.columns else pd.Series(True, index=df.index)
    categories = sorted(set(df[color]), key=_sort_key) if color in df.columns else []
    categorical = bool(categories) and (not pd.api.types.is_numeric_dtype(df[color])
                                        or len(categories) <= MAX_CATEGORIES)
    cmap = plt.get_cmap("tab10")
    scatter = None
    for ax, workload in zip(axes, workloads, strict=False):
        sub = df[df["workload"] == workload]
        good, bad = sub[ok[sub.index]], sub[~ok[sub.index]]
        if len(bad):
            ax.scatter(bad[x], bad[y], marker="x", s=14, color="0.7", linewidths=0.8,
                       label=infeasible)
        if categorical:
            for k, cat in enumerate(categories):
                part = good[good[color] == cat]
                ax.scatter(part[x], part[y], s=20, alpha=0.75, color=cmap(k % 10),
                           marker=MARKERS[k % len(MARKERS)], label=f"{_short(cat)}",
                           edgecolors="none")
        else:
            scatter = ax.scatter(good[x], good[y], s=18, alpha=0.8, c=good[color] if categories
                                 else "#4c72b0", cmap="viridis", edgecolors="none")
        front = pareto_front(good, [(x, gx), (y, gy)]).sort_values(x)
        ax.step(front[x], front[y], where="post" if gy is Goal.MIN else "pre", color="black",
                linewidth=1.0, zorder=3)
        ax.scatter(front[x], front[y], s=44, facecolors="none", edgecolors="black",
                   linewidths=1.3, zorder=4, label="Pareto front")
        shown = [c for c in annotate if c != color and not _tells_color(df, c, color)]
        varying = [c for c in shown if c in front.columns and front[c].nunique() > 1]
        same = [c for c in annotate if c in front.columns and front[c].nunique() == 1]
        if varying and len(front) <= MAX_ANNOTATED:
            for _, same_spot in front.groupby([x, y], sort=False):
                row = same_spot.iloc[0]
                more = f" (+{len(same_spot) - 1} equal)" if len(same_spot) > 1 else ""
                ax.annotate(_annotation(row, varying) + more, (row[x], row[y]), fontsize=7,
                            textcoords="offset points", xytext=(6, 3), color="0.15",
                            annotation_clip=True)
        _log_if_wide(ax, "x", sub[x])
        _log_if_wide(ax, "y", sub[y])
        ax.margins(x=0.12, y=0.06)
        ax.set_xlabel(f"{x_label}, {_better(gx)}")
        ax.set_ylabel(f"{y_label}, {_better(gy)}")
        heading = f"{workload}: {len(sub)} designs, {len(front)} on the front"
        if same and len(front):
            heading += "\nwhole front: " + _annotation(front.iloc[0], same)
        ax.set_title(heading, fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=8,
                   title=label(color) if categorical else None, title_fontsize=8)
    if scatter is not None:
        fig.colorbar(scatter, ax=axes, label=label(color), shrink=0.8)
    fig.suptitle(title or f"Pareto front: {y_label} vs {x_label}", fontsize=11)
    return _save(fig, plt, path)


def plot_heatmap(df: pd.DataFrame, x: str, y: str, value: str, path: str | Path, *,
                 goal: Goal | str = "min", title: str | None = None) -> Path:
    """Per workload, a grid over the values of axes ``x`` and ``y`` whose cells hold the best
    ``value`` (min or max per ``goal``) over every other axis, feasible rows only."""
    plt = _pyplot()
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.ticker import FuncFormatter, NullFormatter

    goal = Goal(goal)
    factor, value_label = display_scale(value, df[value])
    if factor != 1:
        df = df.assign(**{value: df[value] / factor})
    rows = df[df["feasible"]] if "feasible" in df.columns else df
    workloads = list(dict.fromkeys(df["workload"]))
    fig, axes = _panels(plt, max(1, len(workloads)), 6.4, 4.8)
    for ax, workload in zip(axes, workloads, strict=False):
        sub = rows[rows["workload"] == workload]
        table = sub.pivot_table(index=y, columns=x, values=value,
                                aggfunc="min" if goal is Goal.MIN else "max")
        table = table.reindex(index=sorted(df[y].unique()), columns=sorted(df[x].unique()))
        grid = table.to_numpy(dtype=float)
        finite = grid[np.isfinite(grid)]
        wide = len(finite) and finite.min() > 0 and finite.max() / finite.min() > HEAT_LOG_SPAN
        norm = LogNorm(finite.min(), finite.max()) if wide else (
            Normalize(finite.min(), finite.max()) if len(finite) else None)
        cmap = plt.get_cmap("viridis_r" if goal is Goal.MIN else "viridis").with_extremes(
            bad="0.92")
        image = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto",
                          cmap=cmap, norm=norm)
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                shade = norm(v) if norm is not None else 0.5
                dark = shade > 0.6 if goal is Goal.MIN else shade < 0.4
                ax.text(j, i, _number(v), ha="center", va="center", fontsize=7.5,
                        color="white" if dark else "black")
            else:
                ax.text(j, i, "–", ha="center", va="center", fontsize=8, color="0.5")
        ax.set_xticks(range(len(table.columns)), [_short(c) for c in table.columns])
        ax.set_yticks(range(len(table.index)), [_short(c) for c in table.index])
        ax.set_xlabel(label(x))
        ax.set_ylabel(label(y))
        bar = fig.colorbar(image, ax=ax, label=f"{value_label}, {_better(goal)}", shrink=0.9)
        plain = FuncFormatter(lambda v, _: _number(v))
        bar.ax.yaxis.set_major_formatter(plain)
        bar.ax.yaxis.set_minor_formatter(plain if wide else NullFormatter())
        ax.set_title(f"{workload}: {'lowest' if goal is Goal.MIN else 'highest'} of the "
                     "designs in each cell (– = none feasible)", fontsize=9)
    fig.suptitle(title or f"best {value_label}", fontsize=11)
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def goal_for(spec: SweepSpec, column: str) -> Goal:
    """The objective's goal for ``column``, else its usual direction (:data:`HIGHER_IS_BETTER`)."""
    default = Goal.MAX if column in HIGHER_IS_BETTER else Goal.MIN
    return next((o.goal for o in spec.objectives if o.column == column), default)


def _violations(spec: SweepSpec) -> str:
    parts = []
    for c in spec.constraints:
        lo = f"{c.min:g} ≤ " if c.min is not None else ""
        hi = f" ≤ {c.max:g}" if c.max is not None else ""
        parts.append(f"{lo}{c.column}{hi}")
    return "violates " + ", ".join(parts) if parts else "violates a constraint"


def write_spec_plots(store: Any) -> list[Path]:
    """Write every plot listed in the stored spec's ``plots`` into the sweep folder."""
    from qaccel.sweeps.analysis import load_sweep

    spec, df = load_sweep(store.folder)
    written: list[Path] = []
    if df.empty:
        return written
    axes = [a.name for a in spec.arch_axes if len(a.values) > 1]  # one value: no news
    for plot in spec.plots:
        path = store.folder / plot.filename()
        if plot.kind == "pareto":
            written.append(plot_pareto(
                df, plot.x, plot.y, path, goals=(goal_for(spec, plot.x), goal_for(spec, plot.y)),
                color=plot.color or DEFAULT_COLOR, annotate=axes,
                title=f"{spec.name}: Pareto front", infeasible=_violations(spec)))
        else:
            written.append(plot_heatmap(df, plot.x, plot.y, plot.value, path,
                                        goal=plot.goal or goal_for(spec, plot.value),
                                        title=f"{spec.name}: "
                                        f"{display_scale(plot.value, df[plot.value])[1]}"))
    return written
