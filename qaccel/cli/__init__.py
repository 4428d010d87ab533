"""The ``qaccel`` command line. Each subcommand lives in its own module of this package and
exposes ``register(subparsers)``; :data:`COMMANDS` lists them in ``--help`` order.

Start-up stays light: :func:`main` imports only the module of the subcommand named on the
command line (``qaccel --version`` imports none), and the modules import torch, transformers,
matplotlib, amaranth, cocotb and dask inside the functions that use them.

Bad input raises :class:`qaccel.ConfigError`; :func:`main` prints it without a traceback and
exits with status 2. A closed stdout (``qaccel sim ... | head -2``) ends the command quietly
with status 141 (128 + SIGPIPE), as a shell tool killed by SIGPIPE does.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from qaccel import __version__
from qaccel.errors import ConfigError

#: subcommand modules (qaccel.cli.<name>), each with register(subparsers)
COMMANDS = ("demo", "capture", "workloads", "sim", "compare", "presets", "quantize", "rtl", "fpga",
            "sweep", "reproduce")


#: exit status after a closed stdout (128 + SIGPIPE)
BROKEN_PIPE_STATUS = 141


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the subcommands ``commands`` (default: all of :data:`COMMANDS`)."""
    parser = argparse.ArgumentParser(
        prog="qaccel",
        description="Hardware-software co-design simulator for quantized NN accelerators.")
    parser.add_argument("--version", action="version", version=f"qaccel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if commands is None else commands:
        try:
            module = importlib.import_module(f"qaccel.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"qaccel.cli.{name}":
                continue  # subcommand not built yet
            raise
        module.register(sub)
    return parser


def _commands_needed(argv: Sequence[str]) -> Sequence[str] | None:
    """The subcommands the parser needs for ``argv``: the one it names, none for a bare
    ``--version``, else all (``--help``, a misspelt command)."""
    for arg in argv:
        if arg == "--version":
            return ()
        if not arg.startswith("-"):
            return (arg,) if arg in COMMANDS else None
        if arg in ("-h", "--help"):
            return None
    return None


def _quiet_stdout() -> int:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush
    raises nothing, and return :data:`BROKEN_PIPE_STATUS`."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return BROKEN_PIPE_STATUS


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_commands_needed(argv))
    args = parser.parse_args(argv)
    try:
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        status = int(args.func(args) or 0)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        return _quiet_stdout()
    except ConfigError as exc:
        print(f"qaccel {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
