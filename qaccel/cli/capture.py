"""``qaccel capture``: run a model once and save its GEMM trace (DESIGN.md "Trace contract").

    qaccel capture --model minilm --sentences 4 --out-dir traces/minilm --out layers.csv

writes ``DIR/manifest.json`` + ``DIR/tensors.safetensors`` and prints one row per layer.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qaccel.errors import ConfigError
from qaccel.fileio import check_new_dir
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table

__all__ = ["register", "run", "MODELS"]


def _minilm(args: argparse.Namespace) -> tuple[Any, Any]:
    from qaccel.models.minilm import DEMO_SENTENCES, load_minilm, minilm_inputs

    count = len(DEMO_SENTENCES) if args.sentences is None else args.sentences
    if not 1 <= count <= len(DEMO_SENTENCES):
        raise ConfigError.single("--sentences", f"must be an int in 1..{len(DEMO_SENTENCES)}, "
                                 f"not {count!r}")
    model, tokenizer = load_minilm()
    return model, minilm_inputs(tokenizer, DEMO_SENTENCES[:count])


def _demo(builder_name: str) -> Callable[[argparse.Namespace], tuple[Any, Any]]:
    def build(args: argparse.Namespace) -> tuple[Any, Any]:
        from qaccel.models import demo

        if args.sentences is not None:
            raise ConfigError.single("--sentences", f"must be left out for --model "
                                     f"{args.model}, not {args.sentences!r}")
        return getattr(demo, builder_name)(seed=args.seed)
    return build


def _user_file(spec: str) -> Callable[[argparse.Namespace], tuple[Any, Any]]:
    """``path/to/file.py:function``: the function returns (module, example inputs)."""

    def build(args: argparse.Namespace) -> tuple[Any, Any]:
        import importlib.util

        file, _, func = spec.rpartition(":")
        path = Path(file)
        if not path.is_file():
            raise ConfigError.single("--model", f"must name an existing Python file in "
                                     f"FILE.py:FUNCTION, not {spec!r}")
        module_spec = importlib.util.spec_from_file_location(f"qaccel_user_{path.stem}", path)
        user = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(user)
        builder = getattr(user, func, None)
        if not callable(builder):
            raise ConfigError.single("--model", f"must name a function defined in {file}, "
                                     f"not {func!r}")
        built = builder()
        if not (isinstance(built, tuple) and len(built) == 2):
            raise ConfigError.single("--model", f"{func}() must return (module, example "
                                     f"inputs), not {type(built).__name__}")
        return built

    return build


#: --model name -> builder(args) -> (module, example inputs)
MODELS: dict[str, Callable[[argparse.Namespace], tuple[Any, Any]]] = {
    "minilm": _minilm,
    "mlp-demo": _demo("mlp_demo"),
    "conv-demo": _demo("conv_demo"),
}


def model_builder(name: str) -> Callable[[argparse.Namespace], tuple[Any, Any]]:
    """The builder for ``--model``: a name of :data:`MODELS` or ``FILE.py:FUNCTION``."""
    if name in MODELS:
        return MODELS[name]
    if ".py:" in name:
        return _user_file(name)
    raise ConfigError.single("--model", f"must be one of {', '.join(sorted(MODELS))} or "
                             f"FILE.py:FUNCTION, not {name!r}")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "capture", help="run a model once and save its GEMM trace",
        description="Run a model once on fixed inputs and save every GEMM it performs "
                    "(INT8 weights per channel, activations per tensor) as a trace folder.")
    parser.add_argument("--model", required=True, metavar="NAME|FILE.py:FUNCTION",
                        help="minilm: all-MiniLM-L6-v2 on the demo sentences; mlp-demo, "
                             "conv-demo: small seeded models; FILE.py:FUNCTION: your own "
                             "function returning (nn.Module, example inputs)")
    parser.add_argument("--sentences", type=int, metavar="N",
                        help="minilm only: use the first N demo sentences (default: all)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the demo models' weights and inputs (default 0)")
    parser.add_argument("--out-dir", required=True, type=Path, metavar="DIR",
                        help="trace folder to write (created; an existing one only with "
                             "--force)")
    parser.add_argument("--force", action="store_true",
                        help="replace the trace in an existing --out-dir")
    parser.add_argument("--vector-ops", action="store_true",
                        help="also record the non-GEMM operators (softmax, norms, "
                             "activations, residual adds...) as vector layers (docs/llm.md)")
    add_out_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qaccel.models.capture import capture

    check_out_path(args.out)
    check_new_dir(args.out_dir, "--out-dir", args.force)
    module, inputs = model_builder(args.model)(args)
    trace = capture(module, inputs, seed=args.seed, name=args.model,
                    vector_ops=args.vector_ops)
    trace.save(args.out_dir)
    table = trace.to_frame()
    table["macs"] = [layer.macs for layer in trace]
    print(format_table(table))
    print(f"{len(trace)} layers, {int(table['macs'].sum()):,} MACs -> {args.out_dir}")
    if args.out is not None:
        write_table(table, args.out)
    return 0
