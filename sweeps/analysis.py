"""Reading a sweep back: its spec, its result rows with a ``feasible`` flag, Pareto fronts per
workload, and a progress summary.

Designs are compared within one workload only (cycles of ResNet-50 and of one GEMM are not
comparable), so fronts are computed per ``workload``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from qaccel.sweeps.pareto import pareto_front
from qaccel.sweeps.spec import Constraint, SweepSpec, load_spec
from qaccel.sweeps.store import SweepStore

__all__ = ["load_sweep", "feasible", "fronts", "SweepStatus", "sweep_status"]


def load_sweep(out: str | Path) -> tuple[SweepSpec, pd.DataFrame]:
    """The spec stored in ``out`` and its result rows (points of the current plan only, in
    plan order), with a boolean ``feasible`` column (every constraint holds)."""
    store = SweepStore(out)
    spec = load_spec(store.read_spec_dict()["spec"])
    plan = store.read_plan()
    df = store.read_results()
    if df.empty:
        df = pd.DataFrame(columns=list(spec.columns))
    order = {pid: i for i, pid in enumerate(plan["point_id"])}
    df = df[df["point_id"].isin(order)]
    df = df.iloc[df["point_id"].map(order).argsort(kind="stable")].reset_index(drop=True)
    df["feasible"] = feasible(df, spec.constraints)
    return spec, df


def feasible(df: pd.DataFrame, constraints: Sequence[Constraint]) -> pd.Series:
    """True where every constraint holds (rows missing a constrained column are infeasible)."""
    ok = pd.Series(True, index=df.index)
    for con in constraints:
        if con.column not in df.columns:
            return pd.Series(False, index=df.index)
        col = df[con.column]
        if con.min is not None:
            ok &= col >= con.min
        if con.max is not None:
            ok &= col <= con.max
    return ok


def fronts(df: pd.DataFrame, objectives: Sequence[Any], feasible_only: bool = True
           ) -> pd.DataFrame:
    """Pareto front of ``objectives`` within each workload (feasible rows only by default)."""
    rows = df[df["feasible"]] if feasible_only and "feasible" in df.columns else df
    parts = [pareto_front(group, objectives) for _, group in rows.groupby("workload", sort=False)]
    return pd.concat(parts) if parts else rows.iloc[:0]


@dataclass(frozen=True)
class SweepStatus:
    """Progress of a sweep folder. ``other_rows``: stored rows of points not in the current
    plan (an earlier spec); ``duplicates``: rows whose point id is stored more than once
    (always 0 unless files were copied in by hand)."""

    name: str
    planned: int
    done: int
    other_rows: int
    duplicates: int
    parts: int

    @property
    def remaining(self) -> int:
        return self.planned - self.done

    def __str__(self) -> str:
        pct = self.done / self.planned if self.planned else 1.0
        extra = f", {self.other_rows} rows of points not in this plan" if self.other_rows else ""
        dup = f", {self.duplicates} DUPLICATE rows" if self.duplicates else ""
        return (f"sweep {self.name}: {self.done}/{self.planned} points done ({pct:.0%}), "
                f"{self.remaining} remaining, {self.parts} part files{extra}{dup}")


def sweep_status(out: str | Path) -> SweepStatus:
    """Count planned, finished and stray rows of the sweep in ``out``."""
    store = SweepStore(out)
    name = store.read_spec_dict()["spec"]["name"]
    planned = set(store.read_plan()["point_id"])
    ids = store.done_ids()
    unique = set(ids)
    return SweepStatus(name=name, planned=len(planned), done=len(planned & unique),
                       other_rows=len(unique - planned), duplicates=len(ids) - len(unique),
                       parts=len(store.part_paths()))
