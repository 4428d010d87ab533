"""Start-up stays light: each command imports only what it uses (run in a fresh interpreter,
the modules it loaded read from ``sys.modules``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "matplotlib", "amaranth", "cocotb", "dask", "distributed")

PROBE = """
import json, sys
from qaccel.cli import main
try:
    code = main({argv!r})
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print("\\nMODULES" + json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))
"""


def loaded(argv: list[str], env: dict | None = None) -> set[str]:
    """Top-level packages a fresh interpreter holds after ``qaccel ARGV``."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True,
                         text=True, check=True, env=env, timeout=300).stdout
    return set(json.loads(out.rsplit("MODULES", 1)[1]))


def test_version_imports_no_numpy_or_pandas():
    mods = loaded(["--version"])
    assert "qaccel" in mods
    assert not mods & {"numpy", "pandas", *HEAVY}, mods & {"numpy", "pandas", *HEAVY}


@pytest.mark.parametrize("argv", [["sim", "--arch", "systolic-int8-32x32", "--gemm",
                                   "64x64x64"], ["presets"]], ids=["sim-gemm", "presets"])
def test_simulating_a_gemm_imports_no_heavy_package(argv):
    mods = loaded(argv)
    assert "pandas" in mods  # it did run
    assert not mods & set(HEAVY), mods & set(HEAVY)


def test_workloads_with_a_warm_cache_imports_no_torch(tmp_path):
    import os

    env = dict(os.environ, QACCEL_CACHE=str(tmp_path))
    first = loaded(["workloads"], env)  # counts parameters: builds the models once
    assert "torch" in first
    mods = loaded(["workloads"], env)
    assert not mods & {"numba", *HEAVY}, mods & {"numba", *HEAVY}
