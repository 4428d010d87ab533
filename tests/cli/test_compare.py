"""``qaccel compare``: several accelerators on one workload, normalized to a baseline."""

from __future__ import annotations

import pandas as pd
import pytest

from qaccel import arch, sim
from qaccel.cli import main
from qaccel.sim.gemm import gemm_layer


def test_compare_matches_individual_runs(capsys, tmp_path):
    out, png = tmp_path / "c.csv", tmp_path / "c.png"
    code = main(["compare", "--arch", "systolic-int8-32x32,systolic-int8-8x8", "--gemm",
                 "64x64x64", "--baseline", "systolic-int8-8x8", "--out", str(out),
                 "--plot", str(png)])
    assert code == 0
    df = pd.read_csv(out).set_index("arch")
    for name in ("systolic-int8-32x32", "systolic-int8-8x8"):
        accel = arch.load_accelerator(name)
        tot = sim.run([gemm_layer(64, 64, 64)], accel).totals()
        assert df.loc[name, "total_cycles"] == tot["total_cycles"]
        assert df.loc[name, "latency_us"] == pytest.approx(tot["total_cycles"] / accel.clock_mhz)
    assert df.loc["systolic-int8-8x8", "speedup"] == pytest.approx(1.0)
    assert df.loc["systolic-int8-32x32", "speedup"] == pytest.approx(
        df.loc["systolic-int8-8x8", "latency_us"] / df.loc["systolic-int8-32x32", "latency_us"])
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv,message", [
    (["--arch", "systolic-int8-32x32", "--gemm", "8x8x8"],
     "--arch: must list at least two different accelerators, not 'systolic-int8-32x32'"),
    (["--arch", "systolic-int8-32x32,systolic-int8-8x8", "--gemm", "8x8x8", "--baseline", "x"],
     "--baseline: must be one of systolic-int8-32x32, systolic-int8-8x8, not 'x'"),
    (["--arch", "systolic-int8-32x32,bitmod9", "--gemm", "8x8x8"],
     "--arch: must be a preset name"),
])
def test_compare_errors(capsys, argv, message):
    assert main(["compare", *argv]) == 2
    assert message in capsys.readouterr().err
