"""``qaccel sweep run | status | plot`` end to end, and its errors (exit status 2)."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from qaccel import cli
from tests.sweeps.conftest import spec_dict


@pytest.fixture
def qaccel(monkeypatch, capsys):
    """``qaccel ...`` in-process, with the sweep subcommand registered."""
    if "sweep" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + ("sweep",))

    def call(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        cap = capsys.readouterr()
        return code, cap.out, cap.err

    return call


def test_run_status_plot(qaccel, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(spec_dict(
        plots=[{"kind": "pareto", "x": "pe_count", "y": "total_cycles"}]), sort_keys=False))
    out = tmp_path / "out"
    code, text, _ = qaccel("sweep", "run", str(spec), "--out", str(out), "--workers", "2",
                           "--batch", "4", "--no-progress")
    assert code == 0
    assert text.startswith("16 points planned, 0 already done, 16 run in ")
    assert "on 2 workers), 4 part files ->" in text
    assert f"wrote {out / 'pareto-pe_count-total_cycles.png'}" in text
    code, text, _ = qaccel("sweep", "run", str(spec), "--out", str(out), "--no-progress",
                           "--no-plots")
    assert code == 0 and "16 already done, 0 run" in text

    code, text, _ = qaccel("sweep", "status", str(out), "--out", str(tmp_path / "front.csv"))
    lines = text.splitlines()
    assert code == 0
    assert lines[0] == "sweep small: 16/16 points done (100%), 0 remaining, 4 part files"
    assert lines[1] == ("objectives: min total_cycles, min pe_count; constraints: none; "
                        "16 of 16 rows feasible")
    front = pd.read_csv(tmp_path / "front.csv")
    assert lines[2] == f"Pareto front per workload (feasible rows): {len(front)} rows"
    assert lines[3].split() == ["workload", "pe_array.rows", "pe_array.cols",
                                "pe_array.dataflow", "total_cycles", "pe_count"]
    assert set(front["workload"]) == {"g64", "two"} and "latency_us" in front.columns

    png = tmp_path / "p.png"
    code, text, _ = qaccel("sweep", "plot", str(out), "--x", "pe_count", "--y", "latency_us",
                           "--color", "pe_array.dataflow", "--png", str(png))
    assert (code, text) == (0, f"wrote {png}\n") and png.stat().st_size > 10_000
    code, text, _ = qaccel("sweep", "plot", str(out), "--kind", "heatmap", "--x",
                           "pe_array.rows", "--y", "pe_array.cols", "--value", "utilization",
                           "--goal", "max")
    heat = out / "heatmap-utilization-pe_array.rows-pe_array.cols.png"
    assert (code, text) == (0, f"wrote {heat}\n") and heat.stat().st_size > 10_000


ERRORS = [
    (["plot", "{out}", "--x", "area_mm2"],
     r"--x: must name a numeric column of the sweep \(.*area_um2, .*energy_pj_total, .*"
     r"latency_us, edp_pj_us\), not 'area_mm2'"),
    (["plot", "{out}", "--kind", "heatmap", "--x", "pe_array.rows", "--y", "clock_mhz",
      "--value", "macs"],
     r"--y: must name a column of the sweep \(pe_array.rows, pe_array.cols, "
     r"pe_array.dataflow\), not 'clock_mhz'"),
    (["plot", "{out}", "--png", "x.jpg"], r"--png: must end in .png, not 'x.jpg'"),
    (["status", "{tmp}"], r"DIR: must be a sweep output folder \(holding sweep.json\), "
     r"not '.*'"),
    (["run", "{bad}", "--out", "{tmp}/o"],
     r"in .*bad.yaml: axes.pe_array.rows \(line \d+\): must be an int in 1..4096, not 0"),
]


@pytest.mark.parametrize("argv,message", ERRORS,
                         ids=["missing-column", "heatmap-axis", "png-suffix", "not-a-sweep",
                              "bad-spec"])
def test_errors_exit_2(qaccel, tmp_path, argv, message):
    import re

    out = tmp_path / "swept"
    spec = tmp_path / "ok.yaml"
    spec.write_text(yaml.safe_dump(spec_dict(), sort_keys=False))
    qaccel("sweep", "run", str(spec), "--out", str(out), "--workers", "1", "--no-progress")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(spec_dict(axes={"pe_array.rows": [4, 0]}), sort_keys=False))
    args = [a.format(out=out, tmp=tmp_path, bad=bad) for a in argv]
    code, _, err = qaccel("sweep", *args)
    assert code == 2
    assert err.startswith("qaccel sweep: error: ")
    assert re.fullmatch(message, err.strip().split(": error: ", 1)[1]), err
    assert "Traceback" not in err


def test_status_and_plot_before_any_point_ran(qaccel, tmp_path):
    from qaccel.sweeps import load_spec, plan_sweep
    from qaccel.sweeps.store import SweepStore

    spec = load_spec(spec_dict())
    SweepStore(tmp_path).write_meta(spec.to_dict(), plan_sweep(spec).frame())
    code, text, _ = qaccel("sweep", "status", str(tmp_path))
    assert code == 0
    assert text.splitlines() == [
        "sweep small: 0/16 points done (0%), 16 remaining, 0 part files",
        "objectives: min total_cycles, min pe_count; constraints: none; 0 of 0 rows feasible",
        "Pareto front per workload (feasible rows): 0 rows"]
    code, _, err = qaccel("sweep", "plot", str(tmp_path))
    assert code == 2
    assert err.strip() == (f"qaccel sweep: error: DIR: must hold finished points to plot, not "
                           f"none in '{tmp_path}' (run `qaccel sweep run` first)")
