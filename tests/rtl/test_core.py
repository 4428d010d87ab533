"""The plug-in boundary: CoreSpec checks, core and PE signatures, ArrayTop arguments."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import pytest
from amaranth.hdl import Shape
from amaranth.lib import wiring

from qaccel.arch.pe.systolic_int8 import SystolicInt8
from qaccel.arch.spec import Dataflow
from qaccel.rtl.controller import ArrayTop
from qaccel.rtl.core import CoreSpec, core_signature
from qaccel.rtl.pe.systolic_int8 import MacPE, create
from qaccel.rtl.systolic import SystolicCore, pe_signature


@pytest.fixture(autouse=True)
def _components_built_only_to_be_rejected() -> Iterator[None]:
    """These tests build components that are never elaborated, on purpose; collect them
    here so Amaranth's "created but never used" warnings do not land on later tests."""
    yield
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".* created but never used")
        gc.collect()


def test_core_signature_widths() -> None:
    spec = CoreSpec(rows=3, cols=5, w_word_bits=8, a_word_bits=4, acc_bits=20)
    members = core_signature(spec).members
    assert {name: Shape.cast(members[name].shape).width for name in members} == {
        "w_row": 40, "w_load": 1, "a_row": 12, "a_valid": 1, "o_data": 100, "o_valid": 5}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("rows", 0, r"^CoreSpec\.rows must be a positive integer, not 0$"),
    ("meta_bits", 4, r"^CoreSpec\.meta_bits must be 0 until a family with metadata adds the "
                     r"m_\* buffer to ArrayTop, not 4$"),
])
def test_core_spec_rejects(field: str, value: int, message: str) -> None:
    kwargs = {"rows": 2, "cols": 2, "w_word_bits": 8, "a_word_bits": 8, "acc_bits": 32}
    kwargs[field] = value
    with pytest.raises(ValueError, match=message):
        CoreSpec(**kwargs)


def test_mac_pe_has_the_grid_signature() -> None:
    assert MacPE().signature == pe_signature(8, 8, 32)


def test_systolic_core_rejects_a_pe_with_other_ports() -> None:
    spec = CoreSpec(rows=1, cols=1, w_word_bits=8, a_word_bits=8, acc_bits=32)
    core = SystolicCore(spec, lambda: MacPE(acc_bits=16))
    with pytest.raises(TypeError, match=r"^PE must have signature "):
        core.elaborate(None)


def test_array_top_rejects_bad_buffer_sizes() -> None:
    params = SystolicInt8(rows=2, cols=2, dataflow=Dataflow.WS)
    with pytest.raises(ValueError, match=r"^buffer_rows must be an int in 1\.\.65536, not 0$"):
        create(params, buffer_rows=0)


def test_array_top_rejects_a_core_of_another_shape() -> None:
    spec = CoreSpec(rows=2, cols=2, w_word_bits=8, a_word_bits=8, acc_bits=32)
    other = SystolicCore(CoreSpec(rows=2, cols=3, w_word_bits=8, a_word_bits=8, acc_bits=32),
                         MacPE)
    with pytest.raises(TypeError, match=r"^core must have signature "):
        ArrayTop(spec, other, params={}, name="x")
    assert isinstance(other, wiring.Component)
