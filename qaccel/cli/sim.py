"""``qaccel sim``: simulate a trace folder or one GEMM on an accelerator."""

from __future__ import annotations

import argparse
from pathlib import Path

from qaccel.cli.common import (
    accelerator_from_args,
    add_arch_arguments,
    print_result,
    run_options,
)
from qaccel.cli.values import check_values_dir, value_stats, write_values
from qaccel.cli.workloads import add_cache_argument
from qaccel.errors import ConfigError
from qaccel.sim import ENGINES, run
from qaccel.sim.gemm import parse_gemm
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="simulate a trace or a GEMM on an accelerator",
                       description="Simulate a captured trace (--trace DIR), a workload preset "
                       "(--workload ID) or one GEMM (--gemm MxKxN) and print per-layer cycles, "
                       "stalls, traffic and energy.",
                       epilog="examples:\n  qaccel sim --arch systolic-int8-32x32 --gemm "
                       "512x512x512 --dataflow os\n  qaccel sim --arch ant --phase decode "
                       "--workload llama-2-7b --objective edp\n  qaccel sim --arch "
                       "systolic-int8-32x32 --gemm 256x4096x4096 --mapping fixed --preload "
                       "overlapped\n  qaccel sim --arch bitmod-decode --workload llama-2-7b "
                       "--phase decode --kv-len 2048 --steps 20 --kv-format int8",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arch_arguments(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--trace", type=Path, metavar="DIR", help="trace folder (qaccel capture)")
    src.add_argument("--gemm", metavar="MxKxN", help="one GEMM out[MxN] = A[MxK] . B[KxN]")
    src.add_argument("--workload", metavar="ID", help="a workload preset (qaccel workloads)")
    w = p.add_argument_group("workload options (with --workload)")
    w.add_argument("--phase", default="prefill", help="prefill or decode (LLMs)")
    w.add_argument("--tokens", type=int, default=256, help="prompt tokens (default 256)")
    w.add_argument("--kv-len", type=int, help="decode: keys attended (default: --tokens)")
    w.add_argument("--steps", type=int, default=1, help="decode steps (default 1)")
    w.add_argument("--batch", type=int, default=1, help="sequences or images (default 1)")
    w.add_argument("--chunk", type=int, metavar="N",
                   help="prefill: process the prompt in chunks of N tokens, each attending to "
                   "the KV cache of the chunks before (default: one chunk)")
    w.add_argument("--mixed", type=int, metavar="B",
                   help="with --chunk: each chunk also carries one token of each of B "
                   "sequences in decode at --kv-len keys (continuous batching)")
    w.add_argument("--vector-ops", action=argparse.BooleanOptionalAction, default=None,
                   help="also simulate the non-GEMM operators (softmax, norms, activations, "
                   "rotary, residual adds) on the vector unit (default: on for LLMs)")
    add_cache_argument(w)
    p.add_argument("--engine", default="fast", help=f"one of {', '.join(ENGINES)} "
                   "(default: fast)")
    p.add_argument("--values", action=argparse.BooleanOptionalAction, default=None,
                   help="simulate bit-exact outputs too and print a checksum and statistics "
                   "of each layer's (default: when the trace holds captured values; off for "
                   "--gemm, --workload and meta-device traces)")
    p.add_argument("--out-values", type=Path, metavar="DIR",
                   help="write every layer's bit-exact output to DIR/outputs.safetensors "
                   "(implies --values)")
    p.add_argument("--plot", type=Path, metavar="PNG", help="write a per-layer cycles plot")
    p.add_argument("--roofline", type=Path, metavar="PNG",
                   help="print each layer's compute bound, memory bound and which binds, and "
                   "write a roofline chart")
    add_out_argument(p)
    p.set_defaults(func=main)


def load_trace(folder: Path):
    from qaccel.models import Trace

    return Trace.load(folder)


def main(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise ConfigError.single("--plot", f"must end in .png, not {str(args.plot)!r}")
    if args.roofline is not None and args.roofline.suffix.lower() != ".png":
        raise ConfigError.single("--roofline", f"must end in .png, not "
                                 f"{str(args.roofline)!r}")
    accel = accelerator_from_args(args)
    if args.gemm is not None:
        layers = [parse_gemm(args.gemm)]
    elif args.workload is not None:
        from qaccel.cli.workloads import build_from_flags
        from qaccel.models.workload_presets import WORKLOADS

        info = WORKLOADS.get(args.workload)
        vector_ops = args.vector_ops if args.vector_ops is not None else (
            info is not None and info.kind == "llm")
        layers = build_from_flags("--workload", id=args.workload, phase=args.phase,
                                  tokens=args.tokens, kv_len=args.kv_len, steps=args.steps,
                                  batch=args.batch, vector_ops=vector_ops,
                                  chunk=args.chunk, mixed=args.mixed,
                                  use_cache=args.cache)
    else:
        layers = load_trace(args.trace)
    values = args.values
    if args.out_values is not None:
        check_values_dir(args.out_values)
        if values is False:
            raise ConfigError.single("--out-values", "needs the outputs, so it cannot go "
                                     "with --no-values")
        values = True
    result = run(layers, accel, engine=args.engine, values=values, progress=True,
                 **run_options(args))
    llm = _is_llm(layers)
    print_result(_first_step(result) if llm else result, accel)
    if llm:
        from qaccel.cli.llm_summary import print_llm_summary

        print_llm_summary(result, list(layers), accel)
    if result.outputs:
        print(f"\noutputs ({result.engine} engine, bit-exact; sha256_16: SHA-256 of the "
              f"little-endian bytes):")
        print(format_table(value_stats(result.outputs), float_format="{:,.6g}"))
    if args.out_values is not None:
        print(f"wrote {write_values(result.outputs, args.out_values)}")
    if args.roofline is not None:
        _print_roofline(result, accel, args.roofline)
    if args.out is not None:
        write_table(result.frame, args.out)
        print(f"wrote {args.out}")
    if args.plot is not None:
        from qaccel.sim.plot import plot_layers

        plot_layers(result, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _is_llm(layers) -> bool:
    """Whether the trace has attention over a KV cache (an LLM or other transformer)."""
    return any(getattr(ly, "meta", {}).get("kv_cache") == "B" for ly in layers)


def _first_step(result):
    """The result of decode step 0 alone when there are several steps (the terminal table;
    ``--out`` writes every layer)."""
    import dataclasses

    names = result.frame["layer"]
    for unit in ("step", "chunk"):
        if names.str.endswith(f"@{unit}1").any():
            print(f"per-layer table and total: {unit} 0 (--out writes every {unit})")
            return dataclasses.replace(result,
                                       frame=result.frame[names.str.endswith(f"@{unit}0")])
    return result


def _print_roofline(result, accel, path: Path) -> None:
    """The roofline table (step or chunk 0 of a multi-step run) and chart."""
    from qaccel.sim.roofline import plot_roofline, roofline
    from qaccel.tables import format_table

    shown = _first_step(result).frame
    table = roofline(shown, accel)
    print(format_table(table, float_format="{:,.2f}"))
    counts = table["bound"].value_counts()
    print(f"roofline: {counts.get('compute', 0)} compute-bound and {counts.get('memory', 0)} "
          f"memory-bound layers")
    plot_roofline(shown, accel, path)
    print(f"wrote {path}")
