"""The ``qaccel`` command line. Each subcommand lives in its own module of this package and
exposes ``register(subparsers)``; :data:`COMMANDS` lists them in ``--help`` order.

Bad input raises :class:`qaccel.ConfigError`; :func:`main` prints it without a traceback and
exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from qaccel import __version__
from qaccel.errors import ConfigError

#: subcommand modules (qaccel.cli.<name>), each with register(subparsers)
COMMANDS = ("demo", "capture", "workloads", "sim", "compare", "presets", "quantize", "rtl", "fpga",
            "sweep", "reproduce")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qaccel",
        description="Hardware-software co-design simulator for quantized NN accelerators.")
    parser.add_argument("--version", action="version", version=f"qaccel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"qaccel.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"qaccel.cli.{name}":
                continue  # subcommand not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"qaccel {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
