"""``qaccel fpga``: FPGA build plans, resource estimates and bitstreams (docs/fpga.md).

::

    qaccel fpga plan     --board pynq-z2   --arch systolic_int8 --array 8x8 --out plans/pynq
    qaccel fpga estimate --board pynq-z2   --arch fp16 --array 4x4
    qaccel fpga estimate --board pynq-z2   --arch olive --max-array
    qaccel fpga build    --board ulx3s-85f --arch systolic_int8 --array 4x4 --out build/ulx3s
    qaccel fpga plan     --board u280      --arch systolic_int8 --array 8x8 --out plans/u280

``--arch`` is a PE family with RTL (its paper preset's PE), a preset name or a YAML file;
``--array RxC`` overrides the array size (default: 4x4 for a family name, the preset's
otherwise). Bad input, a design that does not fit and a missing vendor tool raise
:class:`qaccel.ConfigError` (one line, exit status 2); ``plan`` and ``build`` still write the
plan first.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from pathlib import Path

from qaccel.errors import ConfigError

__all__ = ["register", "fpga_params", "DEFAULT_SIDE", "VENDOR_TOOLS", "MIN_VENDOR_VERSION"]

#: array side used when --arch names a family and --array is not given
DEFAULT_SIDE = 4
#: the vendor tool each vendor flow needs on PATH
VENDOR_TOOLS = {"vivado": "vivado", "vitis": "v++"}
#: oldest tool release the generated scripts are written for (year, release)
MIN_VENDOR_VERSION = (2020, 2)

_EPILOG = """examples:
  qaccel fpga plan --board pynq-z2 --arch systolic_int8 --array 8x8 --out plans/pynq
  qaccel fpga estimate --board pynq-z2 --arch fp16 --array 4x4
  qaccel fpga estimate --board pynq-z2 --arch olive --max-array
  qaccel fpga build --board ulx3s-85f --arch systolic_int8 --out build/ulx3s
  qaccel fpga plan --board u280 --arch systolic_int8 --array 8x8 --out plans/u280
  qaccel fpga estimate --board u280 --arch fp16 --array 8x8
"""


def register(sub: argparse._SubParsersAction) -> None:
    from qaccel.rtl.fpga.boards import BOARDS

    p = sub.add_parser("fpga", help="FPGA build plans, resource estimates and bitstreams",
                       description="Write FPGA build plans (Vivado / open flow), estimate "
                       "resources against a board, build bitstreams (see docs/fpga.md).",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    fpga = p.add_subparsers(dest="fpga_command", metavar="SUBCOMMAND", required=True)
    boards = "|".join(BOARDS)

    pl = fpga.add_parser("plan", help="write a complete build project for a board",
                         epilog="example: qaccel fpga plan --board pynq-z2 --arch "
                         "systolic_int8 --array 8x8 --out plans/pynq")
    _common(pl, boards)
    pl.add_argument("--out", type=Path, required=True, metavar="DIR", help="plan folder")
    pl.add_argument("--tiles", type=int, default=64,
                    help="real-layer tiles in the driver's data file (default: 64)")
    pl.add_argument("--no-estimate", action="store_true",
                    help="skip the yosys estimate (estimate.json says so)")
    pl.set_defaults(func=_plan)

    es = fpga.add_parser("estimate", help="yosys resources beside the board's capacity",
                         epilog="examples: qaccel fpga estimate --board pynq-z2 --arch fp16 "
                         "--array 4x4;  qaccel fpga estimate --board pynq-z2 --arch olive "
                         "--max-array")
    _common(es, boards)
    es.add_argument("--max-array", action="store_true",
                    help="find the largest square array of the family that fits the board")
    es.add_argument("--json", type=Path, metavar="FILE", help="also write the estimate(s)")
    es.set_defaults(func=_estimate)

    bu = fpga.add_parser("build", help="write the plan and build the bitstream",
                         epilog="example: qaccel fpga build --board ulx3s-85f --arch "
                         "systolic_int8 --out build/ulx3s")
    _common(bu, boards)
    bu.add_argument("--out", type=Path, required=True, metavar="DIR", help="plan/build folder")
    bu.set_defaults(func=_build)


def _common(p: argparse.ArgumentParser, boards: str) -> None:
    p.add_argument("--board", required=True, metavar=boards, help="target board")
    p.add_argument("--arch", required=True, metavar="FAMILY|PRESET|FILE",
                   help="PE family with RTL, accelerator preset or YAML file")
    p.add_argument("--array", metavar="RxC", help="array size (default: 4x4 for a family, "
                   "the preset's otherwise)")


def _array(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    found = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not found:
        raise ConfigError.single("--array", f"must look like RxC (e.g. 8x8), not {text!r}")
    return int(found[1]), int(found[2])


def fpga_params(arch: str, array: tuple[int, int] | None):  # noqa: ANN201 - a PEArray
    """The validated array ``--arch`` / ``--array`` describe (see the module docstring)."""
    from qaccel.arch import PE_FAMILIES, load_accelerator
    from qaccel.cli.rtl import rtl_params

    if arch in PE_FAMILIES:
        rows, cols = array or (DEFAULT_SIDE, DEFAULT_SIDE)
        return rtl_params(arch, rows, cols, None, rows_path="--array rows",
                          cols_path="--array cols")
    pe = load_accelerator(arch).pe_array
    fields = pe.to_dict()
    family = fields.pop("family")
    rows, cols = array or (fields.pop("rows"), fields.pop("cols"))
    fields.pop("rows", None)
    fields.pop("cols", None)
    dataflow = fields.pop("dataflow", None)
    return rtl_params(family, rows, cols, str(dataflow) if dataflow else None, fields,
                      rows_path="--array rows", cols_path="--array cols")


def _board(args: argparse.Namespace):  # noqa: ANN202
    from qaccel.rtl.fpga.boards import board

    return board(args.board)


def _print_estimate(est) -> None:  # noqa: ANN001
    from qaccel.rtl.fpga.boards import CLOSURE_LIMITS, RESOURCES

    print(f"{est.design} ({est.family} {est.rows}x{est.cols}) on {est.board}:")
    print(f"  {'resource':<9}{'used':>10}{'capacity':>11}{'util':>8}{'limit':>8}")
    for r in RESOURCES:
        print(f"  {r:<9}{est.used[r]:>10,.0f}{est.capacity[r]:>11,}"
              f"{est.utilisation[r]:>8.1%}{CLOSURE_LIMITS[r]:>8.0%}")
    print(f"  verdict: {est.verdict()} (yosys, {est.seconds:.1f} s)")


def _check_fit(est, where: str) -> None:  # noqa: ANN001
    if not est.fits:
        raise ConfigError.single(where, f"{est.family} {est.rows}x{est.cols} on {est.board} "
                                 f"{est.verdict()}")


def _plan(args: argparse.Namespace) -> int:
    from qaccel.rtl.fpga.plan import write_plan

    b = _board(args)
    params = fpga_params(args.arch, _array(args.array))
    plan = write_plan(b, params, args.out, tiles=args.tiles, estimate=not args.no_estimate)
    print(f"wrote {len(plan.files)} files to {args.out}: {', '.join(plan.files)}")
    if plan.estimate and "verdict" in plan.estimate:
        print(f"estimate: {plan.estimate['verdict']}")
        if not plan.estimate["fits"]:
            raise ConfigError.single("--array", f"{params.family} {params.rows}x{params.cols} "
                                     f"on {b.name} {plan.estimate['verdict']} (plan written "
                                     f"to {args.out})")
    return 0


def _estimate(args: argparse.Namespace) -> int:
    from qaccel.cli.rtl import rtl_params
    from qaccel.rtl.fpga.estimate import estimate, max_array

    b = _board(args)
    params = fpga_params(args.arch, _array(args.array))
    if args.max_array:
        fields = params.to_dict()
        family = fields.pop("family")
        for key in ("rows", "cols"):
            fields.pop(key)
        dataflow = str(fields.pop("dataflow"))
        steps = []

        def step(est) -> None:  # noqa: ANN001
            steps.append(est.to_dict())
            print(f"  {est.rows}x{est.cols}: {est.verdict()}")

        best = max_array(b, lambda side: rtl_params(family, side, side, dataflow, fields),
                         on_step=step)
        if args.json:
            args.json.write_text(json.dumps({"best": best.to_dict() if best else None,
                                             "steps": steps}, indent=1) + "\n")
        if best is None:
            raise ConfigError.single("--arch", f"not even a 1x1 {family} array fits {b.name}")
        print(f"largest {family} array that fits {b.name}: {best.rows}x{best.cols}")
        _print_estimate(best)
        return 0
    est = estimate(b, params)
    _print_estimate(est)
    if args.json:
        args.json.write_text(json.dumps(est.to_dict(), indent=1) + "\n")
    _check_fit(est, "--array")
    return 0


def vendor_version(tool: str) -> tuple[int, int] | None:
    """(year, release) that ``tool --version`` / ``-version`` prints, or None."""
    for flag in ("-version", "--version"):
        proc = subprocess.run([tool, flag], capture_output=True, text=True, check=False)
        found = re.search(r"v?(20\d\d)\.(\d)", proc.stdout + proc.stderr)
        if found:
            return int(found[1]), int(found[2])
    return None


def _build(args: argparse.Namespace) -> int:
    from qaccel.rtl.fpga.plan import PYNQ_TCL, write_plan

    b = _board(args)
    params = fpga_params(args.arch, _array(args.array))
    if b.flow == "ecp5":
        from qaccel.rtl.fpga.ecp5 import build_ulx3s
        from qaccel.rtl.fpga.sim import create_shell

        plan = write_plan(b, params, args.out, estimate=False)
        try:
            result = build_ulx3s(create_shell(params), args.out)
        except RuntimeError as exc:
            raise ConfigError.single("--board", str(exc)) from None
        (args.out / "build.json").write_text(json.dumps(result.to_dict(), indent=1) + "\n")
        print(f"wrote {result.bitstream} ({result.bitstream_bytes:,} bytes) in "
              f"{result.seconds:.0f} s; Fmax {result.fmax_mhz:.1f} MHz (requested "
              f"{result.requested_mhz:g} MHz); plan files: {len(plan.files)}")
        if not result.meets_timing:
            raise ConfigError.single("--board", f"Fmax {result.fmax_mhz:.1f} MHz is below the "
                                     f"requested {result.requested_mhz:g} MHz")
        return 0
    plan = write_plan(b, params, args.out, estimate=False)
    tool = VENDOR_TOOLS[b.flow]
    if shutil.which(tool) is None:
        product = "xclbin" if b.flow == "vitis" else "bitstream"
        raise ConfigError.single("--board", f"`{tool}` is not on PATH, so no {product} was "
                                 f"built; the plan is in {args.out} (README.txt says what to "
                                 f"run where {tool} is installed)")
    version = vendor_version(tool)
    if version is None or version < MIN_VENDOR_VERSION:
        found = "a version it prints" if version is None else f"{version[0]}.{version[1]}"
        raise ConfigError.single("--board", f"`{tool}` must be {MIN_VENDOR_VERSION[0]}."
                                 f"{MIN_VENDOR_VERSION[1]} or newer, not {found}")
    if b.flow == "vitis":
        return _build_vitis(args.out, tool)
    proc = subprocess.run([tool, "-mode", "batch", "-source", PYNQ_TCL], cwd=args.out,
                          check=False)
    bit = args.out / "out" / "qaccel.bit"
    if proc.returncode != 0 or not bit.is_file():
        raise ConfigError.single("--board", f"{tool} ended with status {proc.returncode} and "
                                 f"no {bit} (its log names the failed step)")
    print(f"wrote {bit} and {bit.with_suffix('.hwh')}")
    return 0


def _build_vitis(folder: Path, tool: str) -> int:
    """Run the plan's build.sh (it checks ``v++ --version`` again and each step's output)."""
    from qaccel.rtl.fpga.vitis import XCLBIN_FILE

    proc = subprocess.run(["sh", "build.sh"], cwd=folder, check=False)
    xclbin = folder / XCLBIN_FILE
    if proc.returncode != 0 or not xclbin.is_file():
        raise ConfigError.single("--board", f"build.sh ended with status {proc.returncode} "
                                 f"and no {xclbin} (its output names the failed step)")
    print(f"wrote {xclbin}")
    return 0
