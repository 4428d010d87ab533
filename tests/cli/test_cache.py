"""The workload trace cache (qaccel.cache): a second build is a read, stale code is a miss,
entries are whole or absent, ``--no-cache`` neither reads nor writes."""

from __future__ import annotations

import pytest

from qaccel import cache
from qaccel.cli import main
from qaccel.models import workloads

REQUEST = {"id": "opt-1.3b", "phase": "prefill", "tokens": 8, "blocks": 1}


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("QACCEL_CACHE", str(root))
    return root


def _shapes(trace):
    return [(ly.name, ly.op, ly.M, ly.K, ly.N, ly.meta.get("seed")) for ly in trace]


def _no_build(**kwargs):
    raise AssertionError(f"build_workload called with {kwargs}")


def test_second_call_reads_the_cache(cache_root, monkeypatch):
    first = cache.cached_workload(**REQUEST)
    entry = cache.entry_dir(REQUEST)
    assert entry.is_relative_to(cache_root)
    assert (entry / "manifest.json").is_file() and (entry / "tensors.safetensors").is_file()
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporary left
    monkeypatch.setattr(workloads, "build_workload", _no_build)
    again = cache.cached_workload(**REQUEST)
    assert _shapes(again) == _shapes(first)
    assert again.meta == first.meta


def test_other_request_or_code_is_a_miss(cache_root, monkeypatch):
    entry = cache.entry_dir(REQUEST)
    assert cache.entry_dir(dict(REQUEST, tokens=9)) != entry
    assert cache.entry_dir(dict(REQUEST, seed=1)) != entry
    key = cache.code_key()
    assert entry.parent.name == key
    for attr, value in (("CACHE_FORMAT", cache.CACHE_FORMAT + 1),
                        ("TRACE_SOURCES", cache.TRACE_SOURCES[1:])):
        with monkeypatch.context() as patch:
            patch.setattr(cache, attr, value)
            cache.code_key.cache_clear()
            assert cache.code_key() != key, attr
        cache.code_key.cache_clear()
    assert cache.entry_dir(REQUEST) == entry


def test_a_truncated_entry_is_rebuilt(cache_root):
    first = cache.cached_workload(**REQUEST)
    tensors = cache.entry_dir(REQUEST) / "tensors.safetensors"
    tensors.write_bytes(tensors.read_bytes()[:5])
    again = cache.cached_workload(**REQUEST)
    assert _shapes(again) == _shapes(first)
    assert len(tensors.read_bytes()) > 5  # rewritten whole


def test_no_cache_neither_reads_nor_writes(cache_root, monkeypatch, capsys):
    code = main(["workloads", "show", "opt-1.3b", "--tokens", "8", "--blocks", "1",
                 "--no-cache"])
    assert code == 0
    assert not cache_root.exists()
    assert main(["workloads", "show", "opt-1.3b", "--tokens", "8", "--blocks", "1"]) == 0
    assert cache.entry_dir(dict(REQUEST, batch=1, kv_len=None, steps=1, image_size=None,
                                seed=0)).is_dir()
    monkeypatch.setattr(workloads, "build_workload", _no_build)
    with pytest.raises(AssertionError, match="build_workload called"):
        main(["workloads", "show", "opt-1.3b", "--tokens", "8", "--blocks", "1",
              "--no-cache"])
    capsys.readouterr()
    assert main(["workloads", "show", "opt-1.3b", "--tokens", "8", "--blocks", "1"]) == 0
    assert "opt-1.3b" in capsys.readouterr().out
