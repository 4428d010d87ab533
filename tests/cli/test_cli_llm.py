"""LLM inference through ``qaccel sim``: the KV cache flags, and their bad input (one
ConfigError line each, exit status 2)."""

from __future__ import annotations

import re

import pytest
import yaml

from qaccel.arch.loader import PRESET_DIR
from qaccel.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_error(capsys, argv: list[str]) -> str:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, out + err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0].split(": error: ", 1)[1]


def test_kv_format_the_family_cannot_compute_on(capsys):
    msg = one_error(capsys, ["sim", "--arch", "bitmod", "--phase", "decode", "--workload",
                             "llama-2-7b", "--kv-len", "64", "--kv-format", "fp16"])
    assert msg == ("--kv-format: must be a format the bitmod PEs compute on, not 'fp16' "
                   "(Cannot compute on a 16-bit KV cache on the bitmod array because its "
                   "bit-serial PEs take 2..8-bit integer B)")


def test_context_longer_than_the_model(capsys):
    msg = one_error(capsys, ["sim", "--arch", "bitmod", "--phase", "decode", "--workload",
                             "llama-2-7b", "--kv-len", "5000", "--kv-format", "int8"])
    assert re.fullmatch(r"--kv-len: must be an int in 1\.\.4096 \(the context of "
                        r"llama-2-7b\), not 5000", msg), msg


def test_batch_not_fitting_dram(capsys, tmp_path):
    # bitmod-decode with 16 GiB of DRAM: Llama-2-7B's GEMM weights at 3 bits + 18 bits of
    # metadata per 128 are about 2.4 GiB, and each sequence's int8 KV cache at 4,096 keys is
    # 2 x 32 blocks x 32 heads x 4096 x 128 B = 1 GiB, so batch 64 cannot fit.
    data = yaml.safe_load((PRESET_DIR / "bitmod-decode.yaml").read_text())
    data["dram"]["capacity_gib"] = 16
    path = tmp_path / "small-dram.yaml"
    path.write_text(yaml.safe_dump(data))
    msg = one_error(capsys, ["sim", "--arch", str(path), "--workload", "llama-2-7b",
                             "--phase", "decode", "--kv-len", "4096", "--batch", "64",
                             "--kv-format", "int8"])
    assert re.fullmatch(r"dram\.capacity_gib: must hold the weights \(2\.\d\d GiB\) plus the KV "
                        r"cache \(64\.00 GiB at batch 64, int8\) = 6\d\.\d\d GiB, not 16 GiB "
                        r"\(the largest batch that fits is 13\)", msg), msg


@pytest.mark.parametrize("flag", ["--kv-format"])
def test_help_names_the_kv_flags(capsys, flag):
    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    assert flag in capsys.readouterr().out


def test_acceptance_decode_command(capsys, tmp_path):
    """The issue's command: per-step totals and the shares of attention, KV traffic and
    non-GEMM ops; the shares agree with the rows ``--out`` writes."""
    import pandas as pd

    out = tmp_path / "decode.csv"
    code, text, err = run_cli(capsys, "sim", "--arch", "bitmod-decode", "--workload",
                              "llama-2-7b", "--phase", "decode", "--kv-len", "2048",
                              "--steps", "20", "--kv-format", "int8", "--out", str(out))
    assert code == 0, err
    lines = text.splitlines()
    start = lines.index("per decode step (20 steps):")
    steps = lines[start + 2:start + 22]
    assert [int(ln.split()[0]) for ln in steps] == list(range(20))
    frame = pd.read_csv(out)
    assert len(frame) == 20 * (32 * 20 + 2)   # per block 9 GEMMs + 11 vector ops; norm, head
    kv = (frame.kv_rd_bytes.sum() + frame.kv_wr_bytes.sum()) / frame.dram_bytes.sum()
    vec = frame[frame.op == "vector"].total_cycles.sum() / frame.total_cycles.sum()
    # every step reads 32 blocks x 32 heads x (2048 + s) keys x 128 x 1 B for K and for V
    for s, line in enumerate(steps):
        assert int(line.split()[4].replace(",", "")) == 2 * 32 * 32 * (2048 + s) * 128
    m = re.search(r"KV cache traffic: ([\d.]+)% of DRAM bytes; non-GEMM \(vector\) ops: "
                  r"([\d.]+)% of cycles", text)
    assert m, text[-500:]
    assert float(m.group(1)) == pytest.approx(100 * kv, abs=0.05)
    assert float(m.group(2)) == pytest.approx(100 * vec, abs=0.05)


def test_roofline_flag(capsys, tmp_path):
    png = tmp_path / "roof.png"
    code, text, err = run_cli(capsys, "sim", "--arch", "systolic-int8-32x32", "--gemm",
                              "64x64x64", "--roofline", str(png))
    assert code == 0, err
    assert "compute_bound_cycles" in text and "memory_bound_cycles" in text
    assert re.search(r"roofline: \d+ compute-bound and \d+ memory-bound layers", text)
    assert png.read_bytes()[:4] == b"\x89PNG"
    msg = one_error(capsys, ["sim", "--arch", "systolic-int8-32x32", "--gemm", "64x64x64",
                             "--roofline", str(tmp_path / "roof.svg")])
    assert msg == f"--roofline: must end in .png, not {str(tmp_path / 'roof.svg')!r}"


def test_capture_minilm_with_vector_ops(capsys, tmp_path):
    """A real model (all-MiniLM-L6-v2, BERT): the embeddings' two adds and layer norm, then per
    block: scores scale and softmax, the two residual adds with their layer norms, GELU."""
    from qaccel.models.trace import Trace

    code, _, err = run_cli(capsys, "capture", "--model", "minilm", "--sentences", "2",
                           "--out-dir", str(tmp_path / "t"), "--vector-ops")
    assert code == 0, err
    trace = Trace.load(tmp_path / "t")
    ops = [(ly.name.rsplit(".", 1)[0], ly.meta["vop"]) for ly in trace if ly.op == "vector"]
    assert ops[:3] == [("embeddings", "add"), ("embeddings", "add"),
                       ("embeddings.LayerNorm", "layernorm")]
    block = [vop for name, vop in ops if name.startswith("encoder.layer.5.")]
    assert block == ["scale", "softmax", "add", "layernorm", "gelu", "add", "layernorm"]
    assert len(ops) == 3 + 6 * 7
