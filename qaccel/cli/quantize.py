"""``qaccel quantize``: quantize a model with a recipe and report its accuracy.

    qaccel quantize --model minilm --recipe bitmod_fp4 [--out layers.csv] [--trace-dir DIR]
    qaccel quantize --model minilm --all [--markdown] [--out table.csv]

With ``--recipe``: one row per quantized layer (weight MSE and SQNR, output SQNR against
float32) and the end-to-end figure; for MiniLM the cosine similarity of the sentence
embeddings of the fixed sentences (:data:`qaccel.models.accuracy.ACCURACY_SENTENCES`) to
float32. ``--trace-dir`` also saves the quantized model's trace with the recipe's codes. With
``--all``: one row per recipe (the table of docs/accuracy.md).
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

import pandas as pd

from qaccel.errors import ConfigError
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table

__all__ = ["register", "run", "to_markdown", "command_line"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "quantize", help="quantize a model with a recipe and report its accuracy",
        description="Quantize every nn.Linear / nn.Conv2d of a model with a recipe (weight and "
                    "activation formats), run it on fixed inputs and compare with float32: "
                    "per-layer weight and output SQNR and an end-to-end figure (MiniLM: "
                    "cosine similarity of sentence embeddings).",
        epilog="example: qaccel quantize --model minilm --recipe bitmod_fp4")
    p.add_argument("--model", metavar="NAME|FILE.py:FUNCTION",
                   help="minilm: all-MiniLM-L6-v2 on the accuracy sentences; mlp-demo, "
                        "conv-demo, FILE.py:FUNCTION: as in qaccel capture")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--recipe", metavar="NAME", help="one recipe (see --list)")
    what.add_argument("--all", action="store_true", help="every recipe, one row each")
    what.add_argument("--list", action="store_true", help="list the recipes and exit")
    p.add_argument("--skip", action="append", default=[], metavar="PATTERN",
                   help="leave modules whose path matches this fnmatch pattern in float32 "
                        "(repeatable)")
    p.add_argument("--metadata-bits", type=int, metavar="N",
                   help="metadata bits per group for the bits/weight column of grouped "
                        "formats (default: what the encoding stores; the BitMoD authors "
                        "charge 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the demo models (default 0)")
    p.add_argument("--trace-dir", type=Path, metavar="DIR",
                   help="with --recipe: also save the quantized model's trace with its codes")
    p.add_argument("--markdown", action="store_true",
                   help="print the table as Markdown, with the command that made it")
    add_out_argument(p)
    p.set_defaults(func=run)


def _model(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(module, example inputs, run): ``run(module)`` gives the end-to-end output."""
    if args.model == "minilm":
        from qaccel.models.accuracy import ACCURACY_SENTENCES, minilm_run
        from qaccel.models.minilm import load_minilm, minilm_inputs

        model, tokenizer = load_minilm()
        inputs = minilm_inputs(tokenizer, ACCURACY_SENTENCES)
        return model, inputs, minilm_run(inputs)
    from qaccel.cli.capture import model_builder

    args.sentences = None
    module, inputs = model_builder(args.model)(args)

    def forward(m: Any) -> Any:
        import torch

        with torch.no_grad():
            if isinstance(inputs, dict):
                return m(**inputs)
            return m(inputs) if isinstance(inputs, torch.Tensor) else m(*inputs)

    return module, inputs, forward


def _recipe(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from qaccel.models.quantize import get_recipe

    recipe = get_recipe(args.recipe)
    return replace(recipe, skip=recipe.skip + tuple(args.skip)) if args.skip else recipe


#: columns printed with a fixed number of decimals (cosines near 1 need them)
FIXED_DECIMALS = {"cos_mean": 6, "cos_min": 6}


def _cell(column: str, v: Any) -> str:
    if isinstance(v, float) and column in FIXED_DECIMALS:
        return f"{v:.{FIXED_DECIMALS[column]}f}"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table of ``df`` (floats to 4 significant digits, cosines to 6
    decimals)."""
    lines = ["| " + " | ".join(map(str, df.columns)) + " |",
             "|" + "|".join("---" for _ in df.columns) + "|"]
    lines += ["| " + " | ".join(_cell(c, v) for c, v in zip(df.columns, row, strict=True))
              + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def command_line(args: argparse.Namespace) -> str:
    """The ``qaccel quantize`` command that reproduces ``args``."""
    parts = ["qaccel", "quantize", "--model", args.model]
    parts += ["--all"] if args.all else ["--recipe", args.recipe]
    for pattern in args.skip:
        parts += ["--skip", pattern]
    if args.metadata_bits is not None:
        parts += ["--metadata-bits", str(args.metadata_bits)]
    if args.seed:
        parts += ["--seed", str(args.seed)]
    return shlex.join(parts + ["--markdown"])


def _print(df: pd.DataFrame, args: argparse.Namespace) -> None:
    if args.markdown:
        print(f"command: `{command_line(args)}`\n")
        print(to_markdown(df))
    else:
        shown = df.copy()
        for col in shown.columns:
            if col in FIXED_DECIMALS:
                shown[col] = [_cell(col, v) for v in shown[col]]
        print(format_table(shown, "{:.4g}"))


def run(args: argparse.Namespace) -> int:
    from qaccel.models.quantize import RECIPES

    if args.list:
        print(format_table(pd.DataFrame([r.to_dict() for r in RECIPES.values()])
                           .drop(columns=["version"])))
        return 0
    if args.model is None:
        raise ConfigError.single("--model", "must name a model (minilm, mlp-demo, conv-demo or "
                                 "FILE.py:FUNCTION), not be left out")
    check_out_path(args.out)
    if args.metadata_bits is not None and args.metadata_bits < 0:
        raise ConfigError.single("--metadata-bits", f"must be a non-negative int, not "
                                 f"{args.metadata_bits!r}")
    if args.trace_dir is not None and args.all:
        raise ConfigError.single("--trace-dir", "must be used with --recipe, not --all")
    from qaccel.models.accuracy import accuracy_table, evaluate

    recipes = list(RECIPES.values()) if args.all else [_recipe(args)]
    model, inputs, forward = _model(args)
    if args.all:
        table = accuracy_table(model, forward, recipes, args.metadata_bits)
        shown = table.drop(columns=["seconds"])
        _print(shown, args)
        print(f"{len(table)} recipes in {table['seconds'].sum():.1f} s")
    else:
        layers, summary = evaluate(model, forward, recipes[0], metadata_bits=args.metadata_bits)
        table = layers
        _print(layers, args)
        _print_summary(summary, args)
        if args.trace_dir is not None:
            _save_trace(model, inputs, recipes[0], args.trace_dir)
    if args.out is not None:
        write_table(table, args.out)
    return 0


def _print_summary(s: dict[str, Any], args: argparse.Namespace) -> None:
    from qaccel.models.bitmod import AUTHORS_METADATA_BITS, BitMoD
    from qaccel.models.formats import get_format

    print(f"recipe {s['recipe']}: weights {s['weight']} ({s['bits_per_weight']:.4g} bits/weight),"
          f" activations {s['act']}")
    fmt = get_format(s["weight"])
    if isinstance(fmt, BitMoD):
        print(f"  bits/weight with {AUTHORS_METADATA_BITS} metadata bits per group (the authors'"
              f" charge): {fmt.bits_per_weight(AUTHORS_METADATA_BITS):.4f}; with a 2-bit type "
              f"id + 8-bit scale: {fmt.bits_per_weight(10):.4f}; as stored (FP16 scale + id): "
              f"{fmt.bits_per_weight():.4f}")
    print(f"  weights: MSE {s['weight_mse']:.4g}, SQNR {s['weight_sqnr_db']:.2f} dB")
    what = "sentence embeddings" if args.model == "minilm" else "outputs"
    print(f"  end to end ({what} vs float32): cosine similarity mean {s['cos_mean']:.5f}, "
          f"min {s['cos_min']:.5f}; SQNR {s['out_sqnr_db']:.2f} dB")


def _save_trace(model: Any, inputs: Any, recipe: Any, folder: Path) -> None:
    from qaccel.models.quantize import capture_quantized, quantize_model

    if folder.exists() and not folder.is_dir():
        raise ConfigError.single("--trace-dir", f"must be a folder, not the file "
                                 f"{str(folder)!r}")
    trace = capture_quantized(quantize_model(model, recipe), inputs, name=recipe.name)
    trace.save(folder)
    print(f"trace: {len(trace)} layers with {recipe.weight} weights and {recipe.act} inputs "
          f"-> {folder}")
