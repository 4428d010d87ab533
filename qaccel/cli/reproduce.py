"""``qaccel reproduce``: a paper's headline figures regenerated beside the paper's own.

    qaccel reproduce bitmod                       # six LLMs, prefill / decode / generative
    qaccel reproduce bitmod --models opt-1.3b,llama-2-7b --out results/
    qaccel reproduce mixpe                        # ViT-B/H, OPT-6.7B, Llama-2-13B at batch 64
    qaccel reproduce ant --models vgg-16,resnet-50  # ANT over BitFusion

For every (model, task, accelerator) it prints the paper-configured accelerators' cycles,
energy and metrics (speedups, energy reductions) beside the paper's value with the relative
error, and a ``qaccel`` column: the same metric on our own presets, mapper on. Then the
paper's headline means (computed the way the paper computes them) and how many points lie in
the paper's band. ``--out DIR`` writes ``DIR/<paper>.csv`` (one row per model, task,
accelerator and metric) and ``DIR/<paper>.png`` (grouped bars, the paper's values as markers).
The papers are data files, ``sweeps/papers/<paper>.yaml``; docs/reproduction.md (BitMoD) and
docs/reproduction-papers.md (MixPE, ANT) explain every residual.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

from qaccel.errors import ConfigError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    from qaccel.sweeps.reproduce import paper_names

    p = sub.add_parser("reproduce", help="regenerate a paper's headline figures",
                       description=__doc__.split("\n\n")[2],
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  qaccel reproduce bitmod\n  qaccel reproduce bitmod "
                       "--models opt-1.3b --out results/\n  qaccel reproduce mixpe\n  "
                       "qaccel reproduce ant --models vgg-16,resnet-50")
    p.add_argument("paper", metavar="PAPER", help=f"one of {', '.join(paper_names())}")
    p.add_argument("--models", metavar="ID,...", help="a subset of the paper's models "
                   "(default: all)")
    p.add_argument("--out", metavar="DIR", type=Path, help="write DIR/<paper>.csv and .png")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_reproduce)


def run_reproduce(args: argparse.Namespace) -> int:
    from qaccel.sweeps.reproduce import load_paper, reproduce

    paper = load_paper(args.paper)
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ConfigError.single("--out", f"must be a folder, not the file {str(args.out)!r}")
    rep = reproduce(paper, models, progress=not args.no_progress and sys.stderr.isatty())
    _print(rep)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        csv = args.out / f"{paper.name}.csv"
        _atomic_write(csv, lambda p: rep.metrics.to_csv(p, index=False))
        png = args.out / f"{paper.name}.png"
        _atomic_write(png, lambda p: plot_reproduction(rep, p))
        print(f"wrote {csv} and {png}")
    return 0


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename (no half-written file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _print(rep) -> None:
    from qaccel.sweeps.reproduce import headlines, point_summary
    from qaccel.tables import format_table

    paper = rep.paper
    print(f"{paper.title}\npaper values: {paper.source}\n")
    frame = rep.metrics.copy()
    frame["energy_mj"] = frame.pop("energy_pj") / 1e9
    frame["rel_err_%"] = frame.pop("rel_err") * 100
    cols = ["model", "task", "accelerator", "metric", "value", "paper_value", "rel_err_%",
            "qaccel", "cycles", "energy_mj"]
    print(format_table(frame[cols], "{:,.3f}"))
    print("\nheadlines (the paper's claim; our mean over the same points):")
    for h in headlines(rep):
        verdict = "" if h["within"] is None else ("  within band" if h["within"]
                                                  else "  OUTSIDE band")
        own = ("no own presets" if math.isnan(h["qaccel"])
               else f"our own presets {h['qaccel']:.3f}")
        points = f"mean of the paper's own points {h['paper_points_mean']:.3f}"
        if math.isnan(h["claim"]):
            points += f" ({h['points_rel_err'] * 100:+.1f} %){verdict}"
            claim = "no claim"
        else:
            claim = f"paper {h['claim']:.2f} ({h['rel_err'] * 100:+.1f} %){verdict}"
        print(f"  {h['headline']} ({h['mean']} mean of {h['points']}): ours {h['value']:.3f}, "
              f"{claim}; {points}; {own}")
        if h["note"]:
            print(f"    note: {h['note']}")
    print("\npoints within the paper's band:")
    for s in point_summary(rep):
        count = (f"{s['points']} points, no band" if math.isnan(s["band"])
                 else f"{s['within']}/{s['points']} within ±{s['band'] * 100:.0f} %")
        print(f"  {s['metric']}: {count}, worst {s['worst_rel_err'] * 100:+.1f} %")


def plot_reproduction(rep, path: Path) -> None:
    """A grid of grouped bar charts, one row per metric and one column per task: our value per
    model and accelerator as bars, the paper's as black markers (like the papers' figures)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    frame = rep.metrics
    metrics, tasks = list(frame.metric.unique()), list(frame.task.unique())
    models = list(dict.fromkeys(frame.model))
    accs = list(dict.fromkeys(frame.accelerator))
    colors = {a: f"C{i}" for i, a in enumerate(accs)}
    fig, axes = plt.subplots(len(metrics), len(tasks), squeeze=False, sharex=True,
                             figsize=(3.2 * len(tasks) + 1, 1.9 * len(metrics) + 0.8))
    for (i, metric), (j, task) in ((mi, tj) for mi in enumerate(metrics)
                                   for tj in enumerate(tasks)):
        ax = axes[i, j]
        sel = frame[(frame.metric == metric) & (frame.task == task)]
        here = [a for a in accs if a in set(sel.accelerator)]
        width = 0.8 / max(1, len(here))
        x = np.arange(len(models))
        for k, acc in enumerate(here):
            pts = sel[sel.accelerator == acc].set_index("model").reindex(models)
            xs = x + (k - (len(here) - 1) / 2) * width
            ax.bar(xs, pts.value, width, color=colors[acc])
            ax.scatter(xs, pts.paper_value, color="black", marker="_", s=120, zorder=3)
        ax.axhline(1.0, color="grey", linewidth=0.5)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.set_title(task, fontsize=9)
        if j == 0:
            ax.set_ylabel(metric.replace("_vs_", "\nvs "), fontsize=8)
        if i == len(metrics) - 1:
            ax.set_xticks(x, models, rotation=30, ha="right", fontsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[a]) for a in accs]
    handles.append(plt.Line2D([], [], color="black", marker="_", linestyle="", markersize=12))
    fig.legend(handles, [f"{a} (qaccel)" for a in accs] + ["paper"], loc="upper center",
               bbox_to_anchor=(0.5, 0.975), ncol=len(accs) + 1, fontsize=8, frameon=False)
    fig.suptitle(f"{rep.paper.title}", fontsize=9, y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
