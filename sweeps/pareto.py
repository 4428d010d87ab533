"""Pareto fronts over two or three (or more) objectives, each minimised or maximised.

A point *dominates* another when it is at least as good in every objective and strictly
better in one. The front is every point no other point dominates; points equal in every
objective are all kept. Rows with a missing (NaN) objective value are never on the front.

Method: negate maximised objectives, sort lexicographically, and keep a point when no point
already kept dominates it. A dominator always sorts earlier, and dominance is transitive, so
comparing against the kept points only is enough: O(n * front size) vectorised comparisons.
``tests/sweeps/test_pareto.py`` checks it against the O(n^2) definition with Hypothesis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from qaccel.errors import ConfigError
from qaccel.sweeps.spec import Goal, Objective

__all__ = ["pareto_mask", "pareto_front", "as_objectives"]


def as_objectives(objectives: Sequence[Objective | tuple[str, str] | str]) -> list[Objective]:
    """Objectives given as Objective, ``(column, "min"|"max")`` or a column name (min)."""
    out = []
    for obj in objectives:
        if isinstance(obj, Objective):
            out.append(obj)
        elif isinstance(obj, str):
            out.append(Objective(obj, Goal.MIN))
        else:
            column, goal = obj
            try:
                out.append(Objective(column, Goal(goal)))
            except ValueError:
                raise ConfigError.single("goal", f"must be 'min' or 'max', not {goal!r}") \
                    from None
    if not out:
        raise ConfigError.single("objectives", "must name at least one column, not none")
    return out


def pareto_mask(values: np.ndarray, goals: Sequence[Goal | str]) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``values`` [n, k] under ``goals`` (k)."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(goals):
        raise ValueError(f"Cannot find a Pareto front because values have shape {x.shape} "
                         f"and there are {len(goals)} goals")
    sign = np.array([-1.0 if Goal(g) is Goal.MAX else 1.0 for g in goals])
    x = x * sign
    valid = ~np.isnan(x).any(axis=1)
    idx = np.flatnonzero(valid)
    order = idx[np.lexsort(x[idx].T[::-1])]  # first objective is the primary key
    kept: list[int] = []
    front = np.empty((len(order), x.shape[1]))  # the kept rows, front[:len(kept)]
    for i in order:
        row = x[i]
        done = front[:len(kept)]
        if ((done <= row).all(axis=1) & (done < row).any(axis=1)).any():
            continue
        front[len(kept)] = row
        kept.append(int(i))
    mask = np.zeros(len(x), dtype=bool)
    mask[kept] = True
    return mask


def pareto_front(df: pd.DataFrame, objectives: Sequence[Any]) -> pd.DataFrame:
    """The rows of ``df`` on the Pareto front of ``objectives``, sorted by the first one."""
    objs = as_objectives(objectives)
    missing = [o.column for o in objs if o.column not in df.columns]
    if missing:
        raise ConfigError.single("objectives", f"must name columns of the results "
                                 f"({', '.join(map(str, df.columns))}), not {missing[0]!r}")
    mask = pareto_mask(df[[o.column for o in objs]].to_numpy(dtype=np.float64),
                       [o.goal for o in objs])
    front = df[mask]
    ascending = objs[0].goal is Goal.MIN
    return front.sort_values(objs[0].column, ascending=ascending, kind="stable")
