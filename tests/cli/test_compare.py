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


@pytest.mark.parametrize("argv,message", [
    (["--arch", "ant,bitmod", "--workload", "opt-1.3b", "--phase", "prefill,train"],
     "--phase: must be a comma-separated list of prefill, decode, generative, not "
     "'prefill,train'"),
    (["--arch", "ant,bitmod", "--workload", "opt-1.3b,opt-1.3b"],
     "--workload: must list different workload ids, not 'opt-1.3b,opt-1.3b'"),
])
def test_compare_case_errors(capsys, argv, message):
    assert main(["compare", *argv]) == 2
    assert message in capsys.readouterr().err


def test_generative_is_prefill_plus_decode_on_the_phase_presets(capsys, tmp_path):
    """The BitMoD paper's generative task: the prefill on <family>-prefill plus the decode steps
    on <family>-decode, summed -- checked against separate sim.run calls; and the mean over
    the cases, checked by hand from the per-case latencies."""
    from qaccel.models.workloads import build_workload

    out = tmp_path / "c.csv"
    argv = ["compare", "--arch", "ant,bitmod", "--workload", "opt-1.3b,phi-2", "--phase",
            "prefill,generative", "--tokens", "16", "--steps", "2", "--out", str(out),
            "--plot", str(tmp_path / "c.png")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    df = pd.read_csv(out)
    assert len(df) == 2 * 2 * 2
    for model in ("opt-1.3b", "phi-2"):
        pre = build_workload(model, phase="prefill", tokens=16).layers
        dec = build_workload(model, phase="decode", tokens=16, steps=2).layers
        for fam in ("ant", "bitmod"):
            cyc = {ph: sim.run(layers, arch.load_accelerator(f"{fam}-{ph}")).totals()
                   for ph, layers in (("prefill", pre), ("decode", dec))}
            got = df[(df.workload == model) & (df.arch == fam)].set_index("phase")
            assert got.loc["prefill", "total_cycles"] == cyc["prefill"]["total_cycles"]
            assert got.loc["generative", "total_cycles"] == (cyc["prefill"]["total_cycles"]
                                                            + cyc["decode"]["total_cycles"])
            assert got.loc["generative", "energy_uj"] == pytest.approx(
                (cyc["prefill"]["energy_pj_total"] + cyc["decode"]["energy_pj_total"]) / 1e6)
    lat = df.pivot_table(index=["workload", "phase"], columns="arch", values="latency_us")
    by_hand = sum(lat.loc[i, "ant"] / lat.loc[i, "bitmod"] for i in lat.index) / 4
    assert "mean speedup over 4 cases" in printed
    line = next(ln for ln in printed.splitlines() if ln.split()[:2] == ["bitmod", "ant"])
    assert float(line.split()[3]) == pytest.approx(by_hand, abs=0.005)  # printed to 0.01


def test_no_plot_in_the_working_folder_unasked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["compare", "--arch", "systolic-int8-32x32,systolic-int8-8x8", "--gemm", "32x32x32"]
    assert main(argv) == 0
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "res").mkdir()
    assert main([*argv, "--out", str(tmp_path / "res" / "cmp.csv")]) == 0
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["cmp.csv", "cmp.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["res"]
