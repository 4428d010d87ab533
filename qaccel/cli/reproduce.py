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
                       description=__doc__.split("\n\n")[2].replace("\n", " "),
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
        claim = ("no claim" if math.isnan(h["claim"])
                 else f"paper {h['claim']:.2f} ({h['rel_err'] * 100:+.1f} %){verdict}")
        print(f"  {h['headline']} ({h['mean']} mean of {h['points']}): ours {h['value']:.3f}, "
              f"{claim}; mean of the paper's own points {h['paper_points_mean']:.3f}; our own "
              f"presets {h['qaccel']:.3f}")
        if h["note"]:
            print(f"    note: {h['note']}")
    print("\npoints within the paper's band:")
    for s in point_summary(rep):
        band = "" if math.isnan(s["band"]) else f" ±{s['band'] * 100:.0f} %"
        print(f"  {s['metric']}: {s['within']}/{s['points']}{band}, worst "
              f"{s['worst_rel_err'] * 100:+.1f} %")


def plot_reproduction(rep, path: Path) -> None:
    """Grouped bars per model (one panel per metric and task), the paper's values as black
    markers, like the papers' bar charts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    frame = rep.metrics
    panels = [(m, t) for m in frame.metric.unique() for t in frame.task.unique()
              if len(frame[(frame.metric == m) & (frame.task == t)])]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.4 * len(panels)), squeeze=False)
    models = list(dict.fromkeys(frame.model))
    for ax, (metric, task) in zip(axes[:, 0], panels, strict=True):
        sel = frame[(frame.metric == metric) & (frame.task == task)]
        accs = list(dict.fromkeys(sel.accelerator))
        width = 0.8 / max(1, len(accs))
        x = np.arange(len(models))
        for i, acc in enumerate(accs):
            pts = sel[sel.accelerator == acc].set_index("model").reindex(models)
            xs = x + (i - (len(accs) - 1) / 2) * width
            ax.bar(xs, pts.value, width, label=f"{acc} (qaccel)")
            ax.scatter(xs, pts.paper_value, color="black", marker="_", s=200, zorder=3,
                       label="paper" if i == 0 else None)
        ax.set_xticks(x, models, fontsize=8)
        ax.set_ylabel(f"{metric}\n({task})", fontsize=8)
        ax.axhline(1.0, color="grey", linewidth=0.5)
        ax.legend(fontsize=7, ncol=len(accs) + 1, loc="upper right")
    fig.suptitle(f"{rep.paper.title}: qaccel (bars) vs the paper (markers)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
