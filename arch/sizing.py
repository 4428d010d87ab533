"""Iso-area and iso-power sizing: the largest R x C array of a family that fits a budget.

The rule (the same for every family, stated before any answer is known):

1. **One side fixed** (``rows=`` or ``cols=`` given): the other side is the largest integer
   in 1..:data:`MAX_SIDE` whose array still fits the budget.
2. **Aspect ratio** ``a = rows / cols`` (default 1): every candidate is
   ``(R, max(1, round(R / a)))`` for R = 1..:data:`MAX_SIDE`; the largest R whose candidate
   fits is chosen. Cost grows with R along the candidates, so a bisection finds it.

"Fits" means ``cost(R, C) <= budget``. The cost is a callable, so the same rule sizes by
area (:func:`array_area_fn`: the calibrated array area of :func:`qaccel.arch.cost.
array_area_um2`, or a paper's PE area times R x C in the tests) or by power at a workload's
activity (``qaccel size --power-mw``). A budget below the cost of a 1 x 1 array (or of the
fixed side with one PE on the other) is a :class:`qaccel.ConfigError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from qaccel.arch.spec import Accelerator, PEArray
from qaccel.errors import ConfigError, Problem

__all__ = ["Sized", "size_array", "array_area_fn", "size_accelerator", "MAX_SIDE"]

#: the largest array side the sizer considers (``pe_array.rows`` / ``cols`` allow 4096)
MAX_SIDE = 4096
#: how many steps past an invalid candidate the sizer looks for a valid one
VALID_WINDOW = 16


@dataclass(frozen=True)
class Sized:
    """A chosen array: ``rows`` x ``cols`` PEs whose ``cost`` (the budget's unit: µm² for
    area, mW for power) is at most ``budget``."""

    rows: int
    cols: int
    cost: float
    budget: float

    @property
    def pes(self) -> int:
        return self.rows * self.cols


def _largest(fits: Callable[[int], bool]) -> int:
    """The largest n in 1..MAX_SIDE with ``fits(n)`` (``fits`` monotone: true, then false);
    0 when even n = 1 does not fit."""
    if not fits(1):
        return 0
    lo, hi = 1, MAX_SIDE
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def size_array(cost: Callable[[int, int], float], budget: float, *, rows: int | None = None,
               cols: int | None = None, aspect: float | None = None,
               field: str = "--area-mm2", unit_scale: float = 1.0,
               unit: str = "mm^2", what: str = "array") -> Sized:
    """The array the module's rule picks for ``budget`` (``cost``'s unit).

    ``field``, ``unit_scale`` and ``unit``: how a too-small budget is named in the
    :class:`ConfigError` (``budget * unit_scale`` printed in ``unit``).
    """
    problems = []
    if rows is not None and cols is not None:
        problems.append(("--rows, --cols", f"must not both be given when sizing (one side is "
                         f"chosen), not {rows} and {cols}"))
    if aspect is not None and (rows is not None or cols is not None):
        problems.append(("--aspect", f"must not be given with --rows or --cols, not {aspect}"))
    if aspect is not None and not (isinstance(aspect, (int, float)) and 1 / MAX_SIDE <= aspect
                                   <= MAX_SIDE):
        problems.append(("--aspect", f"must be a number in {1 / MAX_SIDE:g}..{MAX_SIDE} "
                         f"(rows / cols), not {aspect!r}"))
    for name, side in (("--rows", rows), ("--cols", cols)):
        if side is not None and not (isinstance(side, int) and 1 <= side <= MAX_SIDE):
            problems.append((name, f"must be an int in 1..{MAX_SIDE}, not {side!r}"))
    if not (isinstance(budget, (int, float)) and budget > 0):
        problems.append((field, f"must be a number > 0, not {budget!r}"))
    if problems:
        raise ConfigError([Problem(path, msg) for path, msg in problems])
    if rows is not None:
        shape = lambda n: (rows, n)  # noqa: E731
    elif cols is not None:
        shape = lambda n: (n, cols)  # noqa: E731
    else:
        a = 1.0 if aspect is None else float(aspect)
        shape = lambda n: (n, max(1, round(n / a)))  # noqa: E731
    memo: dict[int, tuple[int, float]] = {}

    def valid(k: int) -> tuple[int, float]:
        """The first valid candidate at or after ``k`` and its cost (inf: none)."""
        if k not in memo:
            memo[k] = (k, float("inf"))
            for m in range(k, min(k + VALID_WINDOW, MAX_SIDE + 1)):
                try:
                    memo[k] = (m, float(cost(*shape(m))))
                    break
                except ValueError:
                    continue
        return memo[k]

    n = _largest(lambda k: valid(k)[1] <= budget)
    if n == 0:
        m, smallest = valid(1)
        r1, c1 = shape(m)
        raise ConfigError.single(field, f"must be at least {smallest * unit_scale:.6g} {unit} "
                                 f"(the cost of a {r1}x{c1} {what}), not "
                                 f"{budget * unit_scale:g}")
    m, fitted = valid(n)
    r, c = shape(m)
    return Sized(r, c, fitted, budget)


def array_area_fn(pe: PEArray, node_nm: int) -> Callable[[int, int], float]:
    """(rows, cols) -> array area at ``node_nm`` (unit: µm²) of ``pe``'s family and
    parameters, from :func:`qaccel.arch.cost.array_area_um2` (the calibrated model)."""
    from qaccel.arch.cost import array_area_um2

    def area(rows: int, cols: int) -> float:
        return array_area_um2(dataclasses.replace(pe, rows=rows, cols=cols), node_nm)

    return area


def size_accelerator(accel: Accelerator, area_mm2: float, *, rows: int | None = None,
                     cols: int | None = None, aspect: float | None = None,
                     field: str = "--area-mm2") -> tuple[Accelerator, Sized]:
    """``accel`` with its array resized to the largest that fits ``area_mm2`` (unit: mm²) by
    the module's rule; with no side or aspect given, the aspect ratio of ``accel``'s own
    array is kept. The result is re-validated (buffers, family limits)."""
    pe = accel.pe_array
    if rows is None and cols is None and aspect is None:
        aspect = pe.rows / pe.cols
    if not (isinstance(area_mm2, (int, float)) and area_mm2 > 0):
        raise ConfigError.single(field, f"must be a number > 0, not {area_mm2!r}")
    sized = size_array(array_area_fn(pe, accel.tech.node_nm), area_mm2 * 1e6, rows=rows,
                       cols=cols, aspect=aspect, field=field, unit_scale=1e-6,
                       what=f"{pe.family} array")
    if (sized.rows, sized.cols) == (pe.rows, pe.cols):
        return accel, sized
    return accel.replace_array(rows=sized.rows, cols=sized.cols), sized
