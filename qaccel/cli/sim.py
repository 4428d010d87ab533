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
                       "overlapped",
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
    add_out_argument(p)
    p.set_defaults(func=main)


def load_trace(folder: Path):
    from qaccel.models import Trace

    return Trace.load(folder)


def main(args: argparse.Namespace) -> int:
    check_out_path(args.out)
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise ConfigError.single("--plot", f"must end in .png, not {str(args.plot)!r}")
    accel = accelerator_from_args(args)
    if args.gemm is not None:
        layers = [parse_gemm(args.gemm)]
    elif args.workload is not None:
        from qaccel.cli.workloads import build_from_flags

        layers = build_from_flags("--workload", id=args.workload, phase=args.phase,
                                  tokens=args.tokens, kv_len=args.kv_len, steps=args.steps,
                                  batch=args.batch, use_cache=args.cache)
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
    print_result(result, accel)
    if result.outputs:
        print(f"\noutputs ({result.engine} engine, bit-exact; sha256_16: SHA-256 of the "
              f"little-endian bytes):")
        print(format_table(value_stats(result.outputs), float_format="{:,.6g}"))
    if args.out_values is not None:
        print(f"wrote {write_values(result.outputs, args.out_values)}")
    if args.out is not None:
        write_table(result.frame, args.out)
        print(f"wrote {args.out}")
    if args.plot is not None:
        from qaccel.sim.plot import plot_layers

        plot_layers(result, args.plot)
        print(f"wrote {args.plot}")
    return 0
