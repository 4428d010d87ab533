"""Fuzzing every loader with Hypothesis: arch specs (dict and YAML text), sweep specs, trace
folders (manifest.json and tensors.safetensors), CLI arguments and the Python API's dict
inputs. Whatever the input, the answer is a valid object or one :class:`qaccel.ConfigError`
(CLI: exit 0 or 2, no traceback, no output file after a refusal); any other exception is a
bug.

In CI each test runs a bounded number of examples (:data:`CI_EXAMPLES`). A longer run::

    python -m pytest tests/test_fuzz.py -m fuzz          # LONG_FACTOR x the examples
    QACCEL_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py -m fuzz
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qaccel import ConfigError, sim
from qaccel.arch import Accelerator, load_accelerator
from qaccel.arch.loader import PRESET_DIR
from qaccel.cli import main
from qaccel.models import Trace
from qaccel.sim.gemm import parse_gemm
from qaccel.sweeps import SweepSpec, load_spec
from tests.conftest import accel_dict
from tests.sweeps.conftest import spec_dict

pytestmark = pytest.mark.fuzz

#: examples per test in an ordinary run (the suite's CI budget: a few seconds per test)
CI_EXAMPLES = 40
#: ``-m fuzz`` runs this many times more
LONG_FACTOR = 50


def run(test, request: pytest.FixtureRequest, ci: int = CI_EXAMPLES) -> None:
    """Run the ``@given`` test ``test`` with the example budget of this session."""
    env = os.environ.get("QACCEL_FUZZ_EXAMPLES")
    long = "fuzz" in (request.config.getoption("markexpr") or "")
    n = int(env) if env else ci * LONG_FACTOR if long else ci
    settings(max_examples=n, deadline=None, derandomize=not long, database=None,
             suppress_health_check=list(HealthCheck))(test)()


# ---- strategies ------------------------------------------------------------------------------
JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.integers(-3, 5000),
    st.floats(allow_nan=False), st.text(max_size=6), st.sampled_from(["ws", "os", "auto", "",
                                                                      "1e3", "int8", "x"]),
    st.just([]), st.just({}), st.lists(st.integers(-3, 300), max_size=3))
KEYS = st.text(min_size=1, max_size=8)
PY_LEAVES = st.one_of(JSON_LEAVES, st.floats(), st.builds(np.int64, st.integers(-3, 5000)),
                      st.builds(np.float32, st.floats(-10, 1e4, width=32)),
                      st.just(b"bytes"), st.just(object()))


def _slots(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every (path to container, key) in nested dicts and lists."""
    out = []
    items = data.items() if isinstance(data, dict) else enumerate(data) \
        if isinstance(data, list) else ()
    for key, value in items:
        out.append(prefix + (key,))
        out += _slots(value, prefix + (key,))
    return out


@st.composite
def mutated(draw, base: Any, leaves=JSON_LEAVES, keys=KEYS):
    """``base`` with one to three random edits: a value replaced, a key dropped, a key
    added."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(data)
        if not slots:
            break
        path = draw(st.sampled_from(slots))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(leaves)
        elif action == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(keys)] = draw(leaves)
    return data


def _accepts_or_config_error(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        assert exc.problems and str(exc)
        return None


# ---- arch specs ------------------------------------------------------------------------------
def test_arch_dict(request):
    @given(mutated(accel_dict(rows=4, cols=4), PY_LEAVES))
    def check(data):
        got = _accepts_or_config_error(load_accelerator, data)
        assert got is None or isinstance(got, Accelerator)

    run(check, request)


def test_arch_yaml_text(request, tmp_path):
    text = (PRESET_DIR / "systolic-int8-32x32.yaml").read_text()

    @given(st.integers(0, len(text)), st.integers(0, 12),
           st.text(alphabet=" :-[]{}#\n\t0123456789abcxyz_.'\"&*!|>", max_size=12))
    def check(at, cut, insert):
        path = tmp_path / "spec.yaml"
        path.write_text(text[:at] + insert + text[at + cut:])
        got = _accepts_or_config_error(load_accelerator, path)
        assert got is None or isinstance(got, Accelerator)

    run(check, request)


# ---- sweep specs -----------------------------------------------------------------------------
def test_sweep_spec_dict(request):
    # no preset workloads (each would build a model): other keys and values only
    keys = st.text(min_size=1, max_size=8).filter(lambda k: k != "preset")

    @given(mutated(spec_dict(), PY_LEAVES, keys))
    def check(data):
        got = _accepts_or_config_error(load_spec, data)
        assert got is None or isinstance(got, SweepSpec)

    run(check, request, ci=CI_EXAMPLES // 2)


# ---- trace folders ---------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["mlp_demo", "conv_demo"])
def trace_dir(request, tmp_path_factory) -> Path:
    """A captured trace folder: linear layers, or convolutions (im2col geometry)."""
    from qaccel.models import demo
    from qaccel.models.capture import capture

    folder = tmp_path_factory.mktemp("fuzz") / request.param
    module, inputs = getattr(demo, request.param)(seed=0)
    capture(module, inputs, seed=0, name=request.param).save(folder)
    return folder


def _copy(src: Path, dst: Path, manifest: str | None = None, tensors: bytes | None = None):
    dst.mkdir(exist_ok=True)
    (dst / "manifest.json").write_text(manifest if manifest is not None
                                       else (src / "manifest.json").read_text())
    (dst / "tensors.safetensors").write_bytes(tensors if tensors is not None
                                              else (src / "tensors.safetensors").read_bytes())


def test_trace_manifest(request, trace_dir, tmp_path):
    base = json.loads((trace_dir / "manifest.json").read_text())

    @given(mutated(base))
    def check(manifest):
        _copy(trace_dir, tmp_path / "t", manifest=json.dumps(manifest))
        got = _accepts_or_config_error(Trace.load, tmp_path / "t")
        assert got is None or isinstance(got, Trace)

    run(check, request)


def test_sim_of_a_mutated_trace(request, trace_dir, tmp_path, capsys):
    """End to end: ``qaccel sim --trace`` of a damaged folder exits 0 or 2, never with a
    traceback."""
    base = json.loads((trace_dir / "manifest.json").read_text())

    @given(mutated(base))
    def check(manifest):
        _copy(trace_dir, tmp_path / "t", manifest=json.dumps(manifest))
        code = main(["sim", "--arch", "systolic-int8-8x8", "--trace", str(tmp_path / "t")])
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err, err

    run(check, request, ci=CI_EXAMPLES // 2)


def test_trace_tensors(request, trace_dir, tmp_path):
    import safetensors.numpy

    data = (trace_dir / "tensors.safetensors").read_bytes()
    arrays = safetensors.numpy.load_file(trace_dir / "tensors.safetensors")
    names = sorted(arrays)

    @given(st.sampled_from(["truncate", "flip", "dtype", "shape", "drop"]),
           st.integers(0, len(data) - 1), st.sampled_from(names),
           st.sampled_from([np.int8, np.float32, np.uint16, np.int64, np.float64]))
    def check(how, at, name, dtype):
        if how in ("truncate", "flip"):
            cut = bytearray(data[:at] if how == "truncate" else data)
            if how == "flip":
                cut[at] ^= 0xFF
            _copy(trace_dir, tmp_path / "t", tensors=bytes(cut))
        else:
            changed = dict(arrays)
            if how == "dtype":
                changed[name] = changed[name].astype(dtype)
            elif how == "shape":
                changed[name] = np.ascontiguousarray(changed[name].reshape(-1)[:max(
                    1, changed[name].size // 2)])
            else:
                del changed[name]
            _copy(trace_dir, tmp_path / "t")
            safetensors.numpy.save_file(changed, tmp_path / "t" / "tensors.safetensors")
        got = _accepts_or_config_error(Trace.load, tmp_path / "t")
        assert got is None or isinstance(got, Trace)

    run(check, request)


# ---- the command line ------------------------------------------------------------------------
WORDS = ["sim", "compare", "presets", "workloads", "sweep", "status", "--arch",
         "systolic-int8-32x32", "fp16", "ant,olive", "--gemm", "64x64x64", "0x1x2", "8x8",
         "--dataflow", "ws", "xs", "--mapping", "fixed", "auto", "--objective", "edp", "speed",
         "--preload", "overlapped", "--engine", "reference", "--phase", "decode", "--out",
         "OUT.csv", "OUT.txt", "--plot", "OUT.png", "--baseline", "-1", "--tokens", "7",
         "nonsense", "--help-me", ""]


def test_cli_arguments(request, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QACCEL_CACHE", str(tmp_path / "cache"))

    @given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8))
    def check(argv):
        argv = [w.replace("OUT", str(tmp_path / "out")) for w in argv]
        if "workloads" in argv[:1] and len(argv) > 1:
            argv = argv[:1]  # `workloads show` of a preset builds a model: not here
        if "--workload" in argv or "reference" in argv:
            return
        for f in tmp_path.glob("out.*"):
            f.unlink()
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage errors exit 2, --help 0
            code = exc.code
        err = capsys.readouterr().err
        assert code in (0, 2), (argv, code, err)
        assert "Traceback" not in err
        if code == 2:
            assert not list(tmp_path.glob("out.*")), argv

    run(check, request, ci=CI_EXAMPLES // 2)


# ---- Python API dict / keyword inputs --------------------------------------------------------
def test_sim_run_keywords(request):
    accel = load_accelerator(accel_dict(rows=4, cols=4))
    layers = [parse_gemm("16x8x12")]

    @given(st.one_of(st.sampled_from(["fast", "reference"]), JSON_LEAVES),
           st.one_of(st.none(), st.booleans(), JSON_LEAVES),
           st.one_of(st.sampled_from(["cycles", "energy", "edp"]), JSON_LEAVES))
    def check(engine, values, objective):
        got = _accepts_or_config_error(sim.run, layers, accel, engine=engine, values=values,
                                       objective=objective)
        assert got is None or len(got.frame) == 1

    run(check, request)


def test_sweep_spec_yaml_round_trip(request, tmp_path):
    """A spec that loads also loads back from its own YAML (to_dict is valid input)."""
    spec = load_spec(spec_dict())
    path = tmp_path / "back.yaml"
    path.write_text(yaml.safe_dump(json.loads(json.dumps(spec.to_dict()))))
    assert load_spec(path).to_dict() == spec.to_dict()
