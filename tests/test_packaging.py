"""qaccel installs as ONE import package; its folders are not top-level modules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("package", ["arch", "models", "sim", "rtl", "sweeps"])
def test_subpackages_live_under_qaccel_only(tmp_path, package):
    proc = run_python(
        f"import importlib.util, qaccel.{package} as m; "
        f"print(importlib.util.find_spec({package!r}) is None); print(m.__file__)", tmp_path)
    assert proc.returncode == 0, proc.stderr
    top_level_missing, path = proc.stdout.split()
    assert top_level_missing == "True", f"a top-level module {package!r} is importable"
    assert Path(path).resolve().parent == ROOT / package


def test_console_script_on_path():
    exe = shutil.which("qaccel")
    assert exe, "qaccel is not on PATH: run scripts/setup.sh"
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "sim" in proc.stdout and "demo" in proc.stdout


def test_ruff_clean():
    ruff = shutil.which("ruff")
    assert ruff, "ruff is not installed: run scripts/setup.sh"
    proc = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
