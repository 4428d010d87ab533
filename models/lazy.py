"""Names imported on first use: the quantizers' numba kernels cost ~0.3 s to import, which
commands that never quantize (``qaccel --version``, ``qaccel sim --gemm``) should not pay.

>>> flat, = lazy_names("qaccel.models.kernels", "flat")   # nothing imported yet
>>> callable(flat)
True
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["lazy_names"]


class _LazyName:
    """Stands for ``module.name``: imports the module at the first call or attribute read,
    then forwards (``Buckets.of(...)``, ``Lut(...)``, ``flat(...)``)."""

    __slots__ = ("_module", "_name", "_target")

    def __init__(self, module: str, name: str) -> None:
        self._module, self._name, self._target = module, name, None

    def _resolve(self) -> Any:
        if self._target is None:
            self._target = getattr(importlib.import_module(self._module), self._name)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._resolve()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._resolve(), attr)

    def __repr__(self) -> str:
        return f"<lazy {self._module}.{self._name}>"


def lazy_names(module: str, *names: str) -> tuple[Any, ...]:
    """One stand-in per name of ``module``, the module imported when one is first used."""
    return tuple(_LazyName(module, n) for n in names)
