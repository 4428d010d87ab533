"""Strict YAML loading: every problem of one input reported together, with path and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qaccel import ConfigError
from qaccel.arch import Dataflow, load_accelerator, preset_names
from tests.conftest import accel_dict

GOOD = """\
version: 1
name: mine
clock_mhz: 800
pe_array:
  family: systolic_int8
  rows: 16
  cols: 8
  dataflow: os
buffers:
  weight: {size_kib: 32, word_bits: 128, banks: 2}
  input: {size_kib: 32, word_bits: 128, banks: 2}
  output: {size_kib: 16, word_bits: 512, banks: 2}
dram: {bits_per_cycle: 64, pj_per_bit: 18.75}
tech: {node_nm: 45}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hw.yaml"
    path.write_text(text)
    return path


def test_good_file_loads(tmp_path):
    a = load_accelerator(write(tmp_path, GOOD))
    assert (a.pe_array.rows, a.pe_array.cols, a.pe_array.dataflow) == (16, 8, Dataflow.OS)
    assert a.output_buffer.size_bytes == 16 * 1024
    assert a.dram.pj_per_bit == 18.75 and a.clock_mhz == 800.0


@pytest.mark.parametrize("name", preset_names())
def test_presets_round_trip(name):
    a = load_accelerator(name)
    assert load_accelerator(a.to_dict()) == a


def test_presets_named_in_design_exist():
    assert {"systolic-int8-8x8", "systolic-int8-32x32", "systolic-int8-128x128"} <= set(
        preset_names())


def test_bad_value_names_path_line_value_and_rule(tmp_path):
    path = write(tmp_path, GOOD.replace("rows: 16", "rows: 0"))
    with pytest.raises(ConfigError, match=r"^in .*hw\.yaml: pe_array\.rows \(line 6\): "
                                          r"must be an int in 1\.\.4096, not 0$"):
        load_accelerator(path)


def test_all_problems_reported_together(tmp_path):
    text = (GOOD.replace("rows: 16", "rows: sixteen").replace("dataflow: os", "dataflow: rs")
            .replace("{node_nm: 45}", "{node_nm: 45, vdd: 0.9}"))
    with pytest.raises(ConfigError) as info:
        load_accelerator(write(tmp_path, text))
    paths = [p.path for p in info.value.problems]
    assert paths == ["pe_array.rows", "pe_array.dataflow", "tech.vdd"]
    msg = str(info.value)
    assert "3 problems" in msg
    assert "pe_array.dataflow (line 8): must be one of 'ws', 'os', 'is', not 'rs'" in msg
    assert "tech.vdd (line 14): is not a known key" in msg


def test_unknown_key_suggests_the_near_one():
    data = accel_dict()
    data["pe_array"]["colls"] = 4
    with pytest.raises(ConfigError, match=re.escape("pe_array.colls: is not a known key "
                                                    "(did you mean 'cols'?)")):
        load_accelerator(data)


def test_missing_physical_field_has_no_default():
    data = accel_dict()
    del data["dram"]["pj_per_bit"]
    with pytest.raises(ConfigError, match=r"dram\.pj_per_bit: is missing; expected a number"):
        load_accelerator(data)


def test_unknown_family():
    data = accel_dict(family="tpu9000")
    with pytest.raises(ConfigError, match=r"pe_array\.family: must be one of .*systolic_int8.*"
                                          r"not 'tpu9000'"):
        load_accelerator(data)


def test_booleans_are_not_ints():
    data = accel_dict()
    data["pe_array"]["rows"] = True
    with pytest.raises(ConfigError, match=r"pe_array\.rows: must be an int in 1\.\.4096, "
                                          r"not True"):
        load_accelerator(data)


def test_cross_field_rule_weight_buffer_holds_tiles():
    data = accel_dict(rows=64, cols=64, kib=4)
    with pytest.raises(ConfigError, match=r"buffers\.weight\.size_kib: must hold two 64x64 "
                                          r"weight tiles \(8 KiB, double-buffered\), not 4"):
        load_accelerator(data)


def test_word_bits_must_be_bytes():
    data = accel_dict()
    data["buffers"]["input"]["word_bits"] = 12
    with pytest.raises(ConfigError, match=r"buffers\.input\.word_bits: must be a multiple of 8"):
        load_accelerator(data)


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, GOOD.replace("  rows: 16", "  rows: [16"))
    with pytest.raises(ConfigError,
                       match=r"hw\.yaml: line 7: is not valid YAML: expected ',' or ']'"):
        load_accelerator(path)


def test_duplicate_keys_are_errors(tmp_path):
    path = write(tmp_path, GOOD.replace("  cols: 8", "  cols: 8\n  cols: 9"))
    with pytest.raises(ConfigError, match=r"pe_array\.cols \(line 8\): is given twice"):
        load_accelerator(path)


def test_top_level_must_be_mapping(tmp_path):
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_accelerator(write(tmp_path, "- 1\n- 2\n"))


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"^--arch: must be a preset name \(.*systolic-int8-"
                                          r"32x32.*\) or a YAML file, not 'nope'$"):
        load_accelerator("nope")


def test_replace_array_revalidates():
    a = load_accelerator("systolic-int8-32x32")
    assert a.replace_array(dataflow="is").pe_array.dataflow is Dataflow.IS
    with pytest.raises(ConfigError, match=r"pe_array\.rows: must be an int"):
        a.replace_array(rows=-1)
