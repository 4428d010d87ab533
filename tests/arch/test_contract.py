"""The family contract (DESIGN.md "Names that are fixed"), checked hook by hook for every
registered family, and the rule that a family key appears only in that family's own files."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from qaccel.arch import PE_FAMILIES, Tile, load_accelerator, preset_names
from qaccel.arch.published import PublishedArea, PublishedEnergy
from qaccel.arch.spec import Dataflow, PEArray, Preload
from qaccel.sim.counts import CYCLE_EVENTS

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = sorted(PE_FAMILIES)


def family_params(family: str) -> PEArray:
    """The family's first preset's array, or the class defaults on a 4x4 array."""
    for name in preset_names():
        accel = load_accelerator(name)
        if accel.family == family:
            return accel.pe_array
    cls = PE_FAMILIES[family]
    return cls(rows=4, cols=4, dataflow=cls.dataflows[0])


def zero_tile(pe: PEArray, m: int, k: int, n: int) -> Tile:
    return Tile(np.broadcast_to(np.int8(0), (m, k)), np.broadcast_to(np.int8(0), (k, n)))


@pytest.mark.parametrize("family", FAMILIES)
def test_mappings_the_hardware_supports(family):
    cls = PE_FAMILIES[family]
    assert cls.dataflows and all(isinstance(d, Dataflow) for d in cls.dataflows)
    assert set(cls.rtl_dataflows) <= set(cls.dataflows)
    assert bool(cls.rtl_dataflows) == ("rtl" not in cls.absent_levels)
    assert Preload.SERIAL in cls.preload_modes
    assert isinstance(cls.k_split, bool)
    pe = family_params(family)
    for flow in cls.dataflows:
        other = pe.with_dataflow(flow)
        assert other.dataflow is flow and sorted(other.mapping) == ["K", "M", "N"]


@pytest.mark.parametrize("family", FAMILIES)
def test_operand_widths_on_the_base_class(family):
    pe = family_params(family)
    for name in ("a_bits", "b_bits", "acc_bits"):
        assert name in PEArray.__dict__, f"PEArray must declare {name}"
        assert isinstance(getattr(pe, name), int) and getattr(pe, name) > 0, (family, name)
    assert pe.meta_bits_per_group >= 0
    if pe.meta_bits_per_group:
        assert pe.group_size > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_fold_timing_of_mapping_and_tile(family):
    pe = family_params(family)
    for flow in pe.dataflows:
        arr = pe.with_dataflow(flow)
        dims = dict(zip(arr.mapping, (min(arr.rows, 3), min(arr.cols, 2), 5), strict=True))
        m, k, n = dims["M"], dims["K"], dims["N"]
        tile = zero_tile(arr, m, k, n)
        cycles = arr.fold_cycles_of(m, k, n)
        assert isinstance(cycles, int) and cycles > 0
        assert arr.timing(tile) == cycles
        # back to back: the second fold overlaps the first only with overlapped preload (ws,
        # is) or drain (os)
        second = arr.fold_cycles_of(m, k, n, overlapped=True) if arr.hides_preload else cycles
        assert arr.batch_timing([tile, tile]) == [cycles, second]


@pytest.mark.parametrize("family", FAMILIES)
def test_overlapped_preload_only_where_the_hardware_has_it(family):
    cls = PE_FAMILIES[family]
    pe = family_params(family)
    if Preload.OVERLAPPED not in cls.preload_modes:
        with pytest.raises(ValueError, match=r"^preload must be one of 'serial' for the "):
            cls(**_fields(pe, preload="overlapped"))
        return
    arr = cls(**_fields(pe, preload="overlapped", dataflow=Dataflow.WS))
    tile = zero_tile(arr, 2, min(arr.rows, 2), min(arr.cols, 2))
    first, second = arr.batch_timing([tile, tile])
    assert first == arr.timing(tile) and second < first


def _fields(pe: PEArray, **changes):
    data = {k: v for k, v in pe.to_dict().items() if k != "family"}
    return {**data, **changes}


@pytest.mark.parametrize("family", FAMILIES)
def test_events_are_priced_by_name(family):
    pe = family_params(family)
    arr = pe.with_dataflow(pe.dataflows[0])
    dims = dict(zip(arr.mapping, (1, 1, 4), strict=True))
    events = arr.events(zero_tile(arr, dims["M"], dims["K"], dims["N"]))
    assert isinstance(events, Mapping) and events
    assert all(isinstance(v, int) and v >= 0 for v in events.values())
    priced = arr.event_costs()
    assert set(events) <= set(priced), f"{family} counts events it does not price"
    assert not set(events) & set(CYCLE_EVENTS), "cycle events are the engines' own"


@pytest.mark.parametrize("family", FAMILIES)
def test_published_figures_and_phase_presets(family):
    cls = PE_FAMILIES[family]
    assert all(isinstance(a, PublishedArea) and a.um2 > 0 and a.source for a in
               cls.published_area)
    assert cls.published_energy is None or isinstance(cls.published_energy, PublishedEnergy)
    for phase, preset in cls.phase_presets.items():
        assert phase in ("prefill", "decode")
        assert load_accelerator(preset).family == family, (phase, preset)
    assert sum(c.area_reference for c in PE_FAMILIES.values()) == 1


# ---- a family key appears only in its own files -------------------------------------------

PACKAGE_DIRS = ("arch", "sim", "models", "rtl", "sweeps", "qaccel")
#: layer packages whose modules are per-family levels (``<layer>/<family>.py``)
LEVEL_DIRS = ("arch/pe", "sim/reference", "sim/fast", "rtl/pe")


def owner(path: Path) -> str | None:
    """The family a package file belongs to: ``<level>/<family>.py`` or ``_<family>_*.py``."""
    rel = path.relative_to(ROOT).as_posix()
    folder, stem = rel.rsplit("/", 1)[0], path.stem
    if folder not in LEVEL_DIRS:
        return None
    for family in FAMILIES:
        if stem == family or stem.startswith(f"_{family}"):
            return family
    return None


def leaks(path: Path) -> list[str]:
    """Family keys (string literals equal to a key) and imports of another family's level
    modules in ``path``; docstrings and comments are prose. In models/ only imports count: its
    *format* names (``fp16``, ``ant``, ``olive``, ``bitmod``: the number formats the papers
    define) are another namespace that shares some spellings with family keys."""
    tree = ast.parse(path.read_text())
    mine = owner(path)
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr)
                  and isinstance(n.body[0].value, ast.Constant)}
    found = []
    formats = path.relative_to(ROOT).parts[0] == "models"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and not formats
                and id(node) not in docstrings):
            hit = node.value if node.value in FAMILIES else None
            if hit and hit != mine:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if (len(parts) >= 4 and ".".join(parts[1:3]) in ("arch.pe", "rtl.pe", "sim.fast",
                                                              "sim.reference")
                    and parts[3] in FAMILIES and parts[3] != mine):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} import {node.module}")
    return found


def test_family_keys_stay_in_their_own_files():
    found = []
    for folder in PACKAGE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            found += leaks(path)
    assert not found, "family keys outside their own files:\n" + "\n".join(found)


def test_readme_lists_the_files_a_new_family_touches():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Adding a PE family", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z_/]+/(?:test_)?<family>[a-z_/]*\.py)`", section))
    assert listed == {"arch/pe/<family>.py", "sim/reference/<family>.py",
                      "sim/fast/<family>.py", "rtl/pe/<family>.py", "tests/pe/test_<family>.py"}
    assert "arch/presets/<family>-" in section
