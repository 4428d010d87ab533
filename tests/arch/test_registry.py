"""The PE family registry: every family links all its levels, found by file stem."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from qaccel.arch import PE_FAMILIES, Tile, family_class
from qaccel.arch.pe.registry import LEVELS, register_pe
from qaccel.arch.spec import Dataflow, PEArray

FIXED_KEYS = {"systolic_int8", "bitmod", "olive", "mixpe", "fp16", "ant", "bitfusion"}


def test_registered_keys_are_the_fixed_names():
    assert set(PE_FAMILIES) <= FIXED_KEYS
    assert "systolic_int8" in PE_FAMILIES


LEVEL_ENTRY = {"reference": "simulate_gemm", "fast": "simulate_gemm", "rtl": "create"}


@pytest.mark.parametrize("family", sorted(PE_FAMILIES))
@pytest.mark.parametrize("level", sorted(LEVELS))
def test_every_family_has_each_level_or_says_why_not(family, level):
    absent = PE_FAMILIES[family].absent_levels
    if level in absent:
        assert absent[level].strip(), f"{family} marks {level} absent without a reason"
        return
    module = importlib.import_module(f"{LEVELS[level]}.{family}")
    assert callable(getattr(module, LEVEL_ENTRY[level]))


@pytest.mark.parametrize("family", sorted(PE_FAMILIES))
def test_every_family_links_four_levels(family):
    cls = PE_FAMILIES[family]
    for method in ("golden", "timing", "events", "create", "event_costs", "pe_cost"):
        assert callable(getattr(cls, method)), f"{family} lacks {method}()"
    # a property each family overrides (the base raises NotImplementedError)
    assert cls.weight_format_name is not PEArray.weight_format_name, f"{family} lacks it"


def test_double_registration_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register_pe("systolic_int8")(PE_FAMILIES["systolic_int8"])


def test_unknown_family_message():
    with pytest.raises(KeyError, match="PE family must be one of .*not 'nope'"):
        family_class("nope")


def test_golden_wraps_like_int32_accumulators():
    # 2^31 overflows: K = 133,152 products of 127*127 = 16129 sum to 2,147,608,608
    # = 2^31 + 124,960, which a 32-bit accumulator holds as -2^31 + 124,960.
    pe = family_class("systolic_int8")(rows=1, cols=1, dataflow=Dataflow.OS)
    k = 133_152
    tile = Tile(np.full((1, k), 127, np.int8), np.full((k, 1), 127, np.int8))
    assert int(pe.golden(tile)[0, 0]) == -(2**31) + 124_960


def test_golden_rejects_tiles_that_do_not_fit():
    pe = family_class("systolic_int8")(rows=2, cols=2, dataflow=Dataflow.WS)
    tile = Tile(np.zeros((9, 3), np.int8), np.zeros((3, 2), np.int8))
    with pytest.raises(ValueError, match=r"K must be <= 2 and N <= 2"):
        pe.golden(tile)


def test_pe_array_base_is_abstract_of_family():
    assert PEArray.family == ""


def test_dataflow_strings_are_coerced():
    pe = family_class("systolic_int8")(rows=2, cols=3, dataflow="os")
    assert pe.dataflow is Dataflow.OS
    assert pe.fold_cycles(4) == 2 + 3 + 4 - 2  # os: R + C + K - 2
    with pytest.raises(ValueError, match=r"^dataflow must be one of 'ws', 'os', 'is', not 'x'$"):
        family_class("systolic_int8")(rows=2, cols=3, dataflow="x")
