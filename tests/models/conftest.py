"""Shared fixtures: the real MiniLM model is loaded once per test session (about 2 s)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def minilm():
    from qaccel.models.minilm import load_minilm

    return load_minilm()
