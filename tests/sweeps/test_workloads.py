"""Workload entries: explicit layers, and named presets through qaccel.models.workloads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from qaccel import ConfigError
from qaccel.sweeps import load_spec
from qaccel.sweeps import workloads as sweep_workloads
from tests.sweeps.conftest import spec_dict

EXAMPLES = Path(__file__).resolve().parents[2] / "sweeps" / "examples"


def shapes(workload) -> Counter:
    return Counter(layer.gemm_shape() for layer in workload.layers)


def test_preset_without_the_module_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sweep_workloads, "PRESET_MODULE", "qaccel.models.no_presets_here")
    with pytest.raises(ConfigError) as info:
        load_spec(spec_dict(workloads=[{"name": "d", "preset": "llama-2-7b"}]))
    assert str(info.value) == (
        "in <dict>: workloads[0].preset: cannot be used because named workload presets "
        "(qaccel.models.no_presets_here) are not available yet, not 'llama-2-7b'; list the "
        "shapes with gemm or layers, or capture a trace folder")


def test_resnet_example_shapes_equal_the_preset():
    """The ResNet-50 example's hand-written im2col GEMMs are the preset's (as a multiset: the
    example groups repeated layers)."""
    written = load_spec(EXAMPLES / "resnet50-int8-systolic.yaml").workloads[0]
    built = load_spec(spec_dict(workloads=[{"name": "p", "preset": "resnet-50"}])).workloads[0]
    assert shapes(written) == shapes(built)
    assert len(written.layers) == len(built.layers) and written.macs == built.macs


@pytest.mark.parametrize("entry,message", [
    ({"preset": "llama-2-7b", "phase": "decode", "tokenz": 3},
     r"workloads\[0\].tokenz: is not a known key for a preset workload; allowed: name, "
     r"preset, phase, .*"),
    ({"preset": "llama-2-7b", "phase": "decod"},
     r"workloads\[0\].phase: must be one of 'prefill', 'decode', not 'decod'"),
    ({"preset": "llama-2-8b"}, r"workloads\[0\].preset: must be one of .*llama-2-7b.*, "
     r"not 'llama-2-8b'"),
], ids=["unknown-key", "bad-phase", "unknown-preset"])
def test_bad_preset_entries(entry, message):
    with pytest.raises(ConfigError, match=f"^in <dict>: {message}$"):
        load_spec(spec_dict(workloads=[{"name": "p", **entry}]))
