"""Strict YAML reading that remembers where every key was written.

:func:`load_yaml` returns plain Python data plus a map from dotted path
(``pe_array.rows``, ``buffers.weight.size_kib``) to its 1-based line, so validators can point
at the line of a bad value. Duplicate keys and non-string keys are errors; malformed YAML
becomes a :class:`qaccel.ConfigError` naming the line and column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from qaccel.errors import ConfigError, Problem

__all__ = ["load_yaml", "LineMap"]

LineMap = dict[str, int]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _construct(node: yaml.Node, path: str, lines: LineMap, problems: list[Problem]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if not isinstance(key_node, yaml.ScalarNode) or not isinstance(key, str):
                problems.append(Problem(path, f"keys must be strings, not {key!r}",
                                        key_node.start_mark.line + 1))
                continue
            child = _join(path, key)
            if key in out:
                problems.append(Problem(child, "is given twice", key_node.start_mark.line + 1))
                continue
            lines[child] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, child, lines, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, f"{path}[{i}]", lines, problems) for i, v in enumerate(node.value)]
    return yaml.SafeLoader("").construct_object(node, deep=True)


def load_yaml(source: str | Path, text: str | None = None) -> tuple[Any, LineMap]:
    """Parse YAML from a file path (or ``text`` with ``source`` as its name for messages).

    Returns ``(data, lines)``. Raises :class:`ConfigError` for unreadable files, malformed
    YAML, duplicate keys and non-string keys.
    """
    name = str(source)
    if text is None:
        path = Path(source)
        if not path.is_file():
            raise ConfigError.single("", f"file {name!r} does not exist or is not a file")
        text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem("", f"is not valid YAML: {what}"
                                   + (f" (column {mark.column + 1})" if mark else ""), line)],
                          source=name) from None
    if node is None:
        raise ConfigError.single("", "is empty; expected a YAML mapping", source=name)
    lines: LineMap = {}
    problems: list[Problem] = []
    data = _construct(node, "", lines, problems)
    if problems:
        raise ConfigError(problems, source=name)
    return data, lines
