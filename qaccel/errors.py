"""The one error class for bad input: :class:`ConfigError`.

Every validator in qaccel collects *all* problems it finds in one input and raises them
together. Each problem names the dotted path of the field (``pe_array.rows``), the YAML line
when there is one, the bad value and what is allowed::

    pe_array.rows (line 4): must be an int in 1..4096, not 0

The CLI prints the message without a traceback and exits with status 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ConfigError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One bad field: where it is, what it holds, what is allowed."""

    path: str
    message: str
    line: int | None = None
    source: str | None = None

    def __str__(self) -> str:
        if not self.path:
            where = f"line {self.line}" if self.line is not None else "input"
        else:
            where = self.path if self.line is None else f"{self.path} (line {self.line})"
        return f"{where}: {self.message}"


class ConfigError(ValueError):
    """Bad user input: one or more :class:`Problem` s, all reported together.

    >>> raise ConfigError.single("pe_array.rows", "must be an int in 1..4096, not 0")
    Traceback (most recent call last):
    ...
    qaccel.errors.ConfigError: pe_array.rows: must be an int in 1..4096, not 0
    """

    def __init__(self, problems: Iterable[Problem], source: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        self.source = source
        super().__init__(self._render())

    @classmethod
    def single(cls, path: str, message: str, line: int | None = None,
               source: str | None = None) -> ConfigError:
        return cls([Problem(path, message, line)], source=source)

    def _render(self) -> str:
        head = f"in {self.source}: " if self.source else ""
        if len(self.problems) == 1:
            return head + str(self.problems[0])
        lines = [f"{head}{len(self.problems)} problems:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._render()
