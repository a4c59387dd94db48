"""The simulators' fix for httpcore's repeated failed ``import sniffio``."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from stocksync_sim.fast_imports import skip_missing_sniffio


def test_a_missing_sniffio_is_marked_absent_and_its_import_fails_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda _name: None)
    assert skip_missing_sniffio() is True
    assert sys.modules["sniffio"] is None
    with pytest.raises(ImportError):
        import sniffio  # noqa: F401
    assert skip_missing_sniffio() is False  # once is enough
    monkeypatch.delitem(sys.modules, "sniffio")


def test_an_installed_sniffio_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda _name: object())
    assert skip_missing_sniffio() is False
    assert "sniffio" not in sys.modules
