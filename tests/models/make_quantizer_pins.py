"""Write tests/models/data/quantizer_pins.npz: the codes, scales, extra arrays and meta of every
format of the searched families (ANT, OliVe, BitMoD, INTk) on fixed tensors, as the quantizers
of commit 018e362 (before their searches were vectorized) encode them.

tests/models/test_quantizer_pins.py asserts that today's encoders give exactly the same bytes.
The script loads the quantizer modules of 018e362 from git into a private package (so it
gives the same file at any later commit) and builds each registered format from its dict.
Run from the repository root::

    python tests/models/make_quantizer_pins.py

Small tensors store their arrays; the two larger ones (more than one kernel chunk) store a
SHA-256 of each array's dtype, shape and bytes. The inputs are regenerated from their seed by
:func:`cases` and checked against a stored SHA-256. A format that refuses a tensor stores the
error's type and message instead.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from qaccel.models.formats import FORMATS, format_to_dict

OUT = Path(__file__).parent / "data" / "quantizer_pins.npz"
#: the searched families whose pins are stored (every registered format of them)
FAMILIES = ("ant", "olive", "bitmod", "intk")
#: cases stored as digests rather than arrays (the last one is large enough for the
#: kernels' parallel variants)
DIGEST_CASES = ("tail_300x2200", "normal_1x70001", "tail_1024x2200")
BASE_COMMIT = "018e362"
#: the modules of BASE_COMMIT the four families import from qaccel.models
BASE_MODULES = ("int8", "encoded", "numerics", "search", "intk", "ant", "bitmod", "olive")


def pin_formats() -> dict[str, object]:
    """Every registered format of the searched families, by registry name."""
    return {name: fmt for name, fmt in FORMATS.items()
            if getattr(fmt, "family", None) in FAMILIES}


def cases() -> dict[str, np.ndarray]:
    """The fixed tensors, by case name (seeded; float32 unless the name says otherwise)."""
    rng = np.random.default_rng(20261207)
    f32 = np.float32
    out: dict[str, np.ndarray] = {}
    out["normal_7x300"] = rng.standard_normal((7, 300)).astype(f32)
    out["odd_5x129"] = (0.03 * rng.standard_normal((5, 129))).astype(f32)
    out["tail_32x512"] = (0.02 * rng.standard_t(2.0, (32, 512))).astype(f32)
    x = (0.05 * rng.standard_normal((16, 256))).astype(f32)
    x[0, 10], x[0, 11] = 4.0, -4.0          # both of a pair outliers, equal magnitude
    x[1, 20], x[1, 21] = 3.0, -5.0          # both outliers, the second larger
    x[2, 7] = 6.0                           # one outlier, its partner the victim
    x[3, 255] = -7.5                        # an outlier in the last pair
    x[4, ::37] = 2.5
    out["outliers_16x256"] = x
    out["zeros_4x128"] = np.zeros((4, 128), f32)
    x = (0.1 * rng.standard_normal((6, 200))).astype(f32)
    x[1] = 0.0
    x[3, :128] = 0.0                        # one all-zero group
    out["zero_rows_6x200"] = x
    out["ints_8x96"] = rng.integers(-8, 9, (8, 96)).astype(f32)   # exact midpoints
    out["halves_4x64"] = (rng.integers(-16, 17, (4, 64)) / 4).astype(f32)
    x = np.full((3, 64), 0.5, f32)
    x[1] = -0.25
    x[2, ::2] = 1.0
    out["const_3x64"] = x
    out["f64_2x3x70"] = rng.standard_normal((2, 3, 70)) * 1e-3
    out["tiny_4x64"] = (rng.standard_normal((4, 64)) * 1e-38).astype(f32)
    out["big_4x64"] = (rng.standard_normal((4, 64)) * 1e30).astype(f32)
    out["f16_4x130"] = rng.standard_normal((4, 130)).astype(np.float16)
    out["i8_6x64"] = rng.integers(-128, 128, (6, 64)).astype(np.int8)
    out["vector_257"] = rng.standard_normal(257).astype(f32)
    out["single_1x1"] = np.array([[0.7]], f32)
    out["pair_1x2"] = np.array([[-3.0, 0.01]], f32)
    out["tail_300x2200"] = (0.02 * rng.standard_t(3.0, (300, 2200))).astype(f32)
    x = rng.standard_normal((1, 70001)).astype(f32)
    x[0, rng.integers(0, 70001, 40)] *= 12.0
    out["normal_1x70001"] = x
    out["tail_1024x2200"] = (0.02 * rng.standard_t(4.0, (1024, 2200))).astype(f32)
    return out


def load_base_modules(tmp: Path, package: str) -> dict[str, object]:
    """The modules :data:`BASE_MODULES` as they are at :data:`BASE_COMMIT`, loaded from git as
    the package ``package`` under ``tmp`` (their imports of each other rewritten to it).
    ``benchmarks/bench_quantizers.py`` times its baseline with the same loader."""
    pkg = tmp / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    root = Path(__file__).resolve().parents[2]
    for mod in BASE_MODULES:
        src = subprocess.run(["git", "show", f"{BASE_COMMIT}:models/{mod}.py"], cwd=root,
                             capture_output=True, text=True, check=True).stdout
        src = re.sub(r"qaccel\.models\.(" + "|".join(BASE_MODULES) + r")\b",
                     rf"{package}.\1", src)
        (pkg / f"{mod}.py").write_text(src)
    sys.path.insert(0, str(tmp))
    return {mod: importlib.import_module(f"{package}.{mod}") for mod in BASE_MODULES}


def baseline_formats(tmp: Path) -> dict[str, object]:
    """:func:`pin_formats` as the code of :data:`BASE_COMMIT` builds them (its modules loaded
    from git as the package ``_qaccel_pins_base`` under ``tmp``)."""
    modules = load_base_modules(tmp, "_qaccel_pins_base")
    out = {}
    for name, fmt in pin_formats().items():
        d = format_to_dict(fmt)
        module = modules[d["family"]]
        out[name] = getattr(module, type(fmt).__name__).from_dict(d)
    return out


def digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{list(a.shape)}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def encoded_arrays(enc) -> dict[str, np.ndarray]:
    """The arrays of an Encoded, by pin key suffix."""
    arrays = {"codes": enc.codes, "scales": enc.scales}
    arrays.update({f"extra.{k}": v for k, v in sorted(enc.extra.items())})
    return arrays


def main() -> None:
    store: dict[str, np.ndarray] = {}
    index: dict[str, dict] = {}
    tensors = cases()
    inputs = {case: digest(x) for case, x in tensors.items()}
    with tempfile.TemporaryDirectory() as tmp:
        formats = baseline_formats(Path(tmp))
    for name, fmt in formats.items():
        for case, x in tensors.items():
            key = f"{name}/{case}"
            try:
                enc = fmt.encode(x, name="x")
            except Exception as exc:  # noqa: BLE001 - the refusal itself is pinned
                index[key] = {"error": type(exc).__name__, "message": str(exc)}
                continue
            entry: dict = {"meta": enc.meta, "arrays": {}}
            for part, arr in encoded_arrays(enc).items():
                if case in DIGEST_CASES:
                    entry["arrays"][part] = digest(arr)
                else:
                    entry["arrays"][part] = "stored"
                    store[f"{key}/{part}"] = arr
            index[key] = entry
    index_doc = {"commit": BASE_COMMIT, "inputs": inputs, "pins": index}
    store["index"] = np.array(json.dumps(index_doc, sort_keys=True))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **store)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(index)} pins, "
          f"commit {BASE_COMMIT})", file=sys.stderr)


if __name__ == "__main__":
    main()
