"""RTL test helpers: where Verilator builds go, and the skip-or-fail rule for tools."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: one Verilator build per design under here (gitignored; reused between runs)
BUILD_ROOT = Path(__file__).resolve().parents[2] / "build" / "rtl"


def require_tool(tool: str) -> None:
    """Skip when ``tool`` is missing, except in CI (``CI=true``), where that is a failure."""
    if shutil.which(tool) is not None:
        return
    message = f"`{tool}` is not on PATH (scripts/setup.sh installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run the RTL tests")
    pytest.skip(message)
