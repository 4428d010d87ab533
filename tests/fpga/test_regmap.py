"""The register map and the stream word format (rtl/fpga/regmap.py)."""

from __future__ import annotations

import pytest

from qaccel.rtl.fpga import regmap


def test_vitis_ap_ctrl_hs_layout() -> None:
    """CTRL and the interrupt registers where Vitis' ap_ctrl_hs puts them."""
    ctrl = regmap.registers("axis")[0]
    assert (ctrl.name, ctrl.offset) == ("CTRL", 0x00)
    assert [(b.name, b.lsb) for b in ctrl.bits] == [("AP_START", 0), ("AP_DONE", 1),
                                                    ("AP_IDLE", 2), ("AP_READY", 3)]
    assert [(r.name, r.offset) for r in regmap.registers("axis")[1:4]] == [
        ("GIE", 0x04), ("IER", 0x08), ("ISR", 0x0C)]


@pytest.mark.parametrize("kind", regmap.SHELL_KINDS)
def test_offsets_are_distinct_aligned_and_decoded(kind: str) -> None:
    regs = regmap.registers(kind)
    offsets = [r.offset for r in regs]
    assert len(set(offsets)) == len(offsets) and all(o % 4 == 0 for o in offsets)
    assert max(offsets) < regmap.span_bytes(kind) == 1 << regmap.address_bits(kind)


def test_maxi_has_64_bit_pointers() -> None:
    names = {r.name: r.offset for r in regmap.registers("maxi")}
    assert names["IN_PTR_HI"] == names["IN_PTR_LO"] + 4
    assert names["OUT_PTR_HI"] == names["OUT_PTR_LO"] + 4


@pytest.mark.parametrize(("width", "words"), [(1, 1), (31, 1), (32, 2), (63, 2), (64, 3),
                                               (256, 9)])
def test_beat_words_hold_data_and_last_flag(width: int, words: int) -> None:
    assert regmap.beat_words(width) == words
    data = (1 << width) - 1
    packed = regmap.pack_beat(data, True, width)
    assert len(packed) == words and all(0 <= w < 1 << 32 for w in packed)
    assert regmap.unpack_beat(packed, width) == (data, True)
    assert regmap.unpack_beat(regmap.pack_beat(0x1 & data, False, width), width) == (1, False)


def test_pack_rejects_data_wider_than_the_port() -> None:
    with pytest.raises(ValueError, match=r"^beat data must fit 8 bits unsigned, not 0x100$"):
        regmap.pack_beat(0x100, False, 8)


def test_markdown_table_lists_every_register() -> None:
    table = regmap.markdown_table()
    for reg in regmap.REGISTERS:
        assert f"| 0x{reg.offset:02X} | {reg.name} |" in table
