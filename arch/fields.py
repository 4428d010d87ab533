"""Declarative field checks for frozen spec dataclasses (stage one of validation).

A spec dataclass declares each field with :func:`spec_field`, giving its check and unit.
:func:`build` validates a plain dict against the class: unknown keys, missing keys and
bad values are all collected as :class:`~qaccel.errors.Problem` s with their dotted paths, and
the object is built only when there are none. Messages follow one template::

    pe_array.rows (line 4): must be an int in 1..4096, not 0
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from qaccel.errors import ConfigError, Problem

__all__ = ["IntIn", "FloatIn", "OneOf", "Check", "spec_field", "build", "check_value",
           "Context"]

T = TypeVar("T")


class Check:
    """Converts and checks one value; returns it or raises ``ValueError`` with the rule."""

    def __call__(self, value: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class IntIn(Check):
    lo: int
    hi: int

    def describe(self) -> str:
        return f"an int in {self.lo}..{self.hi}"

    def __call__(self, value: Any) -> int:
        # numbers.Integral: int and NumPy's integer scalars (np.int64(16)); not bool
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                or not self.lo <= value <= self.hi:
            raise ValueError(self.describe())
        return int(value)


@dataclasses.dataclass(frozen=True)
class FloatIn(Check):
    lo: float
    hi: float

    def describe(self) -> str:
        return f"a number in {self.lo:g}..{self.hi:g}"

    def __call__(self, value: Any) -> float:
        # numbers.Real: int, float and NumPy's integer and float scalars; not bool
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(self.describe())
        value = float(value)
        if not math.isfinite(value) or not self.lo <= value <= self.hi:
            raise ValueError(self.describe())
        return value


@dataclasses.dataclass(frozen=True)
class OneOf(Check):
    enum: type[Enum]

    def describe(self) -> str:
        return "one of " + ", ".join(repr(m.value) for m in self.enum)

    def __call__(self, value: Any) -> Enum:
        if isinstance(value, self.enum):
            return value
        try:
            return self.enum(value)
        except ValueError:
            raise ValueError(self.describe()) from None


def spec_field(check: Check, unit: str = "", doc: str = "", default: Any = dataclasses.MISSING,
               kw_only: bool = False):
    """A dataclass field with a check and a unit (physical fields get no default).

    ``kw_only``: a mode field with a default declared on a base class, so that subclasses may
    still add required fields."""
    return dataclasses.field(default=default, kw_only=kw_only,
                             metadata={"check": check, "unit": unit, "doc": doc})


def check_value(check: Check, value: Any, path: str) -> Any:
    """Check one value outside YAML (CLI flags, API calls); raise a one-problem ConfigError."""
    try:
        return check(value)
    except ValueError as exc:
        raise ConfigError.single(path, f"must be {exc}, not {value!r}") from None


@dataclasses.dataclass
class Context:
    """Where problems are collected while one input is validated."""

    lines: Mapping[str, int] = dataclasses.field(default_factory=dict)
    problems: list[Problem] = dataclasses.field(default_factory=list)
    source: str | None = None

    def add(self, path: str, message: str) -> None:
        line = self.lines.get(path)
        if line is None and "." in path:  # a missing key: point at its parent
            line = self.lines.get(path.rsplit(".", 1)[0])
        self.problems.append(Problem(path, message, line))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems, source=self.source)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def build(cls: type[T], data: Any, path: str, ctx: Context,
          skip: tuple[str, ...] = ()) -> T | None:
    """Validate ``data`` against ``cls``'s spec fields; return the object or None on problems.

    Keys named in ``skip`` are allowed in ``data`` and ignored (the caller handles them).
    """
    if not isinstance(data, Mapping):
        ctx.add(path, f"must be a mapping, not {data!r}")
        return None
    fields = {f.name: f for f in dataclasses.fields(cls) if "check" in f.metadata}
    before = len(ctx.problems)
    for key in data:
        if key not in fields and key not in skip:
            hint = difflib.get_close_matches(str(key), list(fields), n=1)
            allowed = ", ".join(sorted(fields))
            ctx.add(_join(path, str(key)), "is not a known key"
                    + (f" (did you mean {hint[0]!r}?)" if hint else f"; allowed: {allowed}"))
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        sub = _join(path, name)
        if name not in data:
            if f.default is dataclasses.MISSING:
                unit = f" ({f.metadata['unit']})" if f.metadata["unit"] else ""
                ctx.add(sub, f"is missing; expected {f.metadata['check'].describe()}{unit}")
            continue
        try:
            kwargs[name] = f.metadata["check"](data[name])
        except ValueError as exc:
            ctx.add(sub, f"must be {exc}, not {data[name]!r}")
    if len(ctx.problems) > before:
        return None
    try:
        return cls(**kwargs)
    except ValueError as exc:  # cross-field rules raised by __post_init__
        field_name, _, rest = str(exc).partition(" must be ")
        if rest and field_name in fields:   # "dataflow must be ...": name the field's path
            ctx.add(_join(path, field_name), f"must be {rest}")
        else:
            ctx.add(path, str(exc))
        return None
