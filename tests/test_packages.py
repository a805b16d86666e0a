"""Each top-level package the tests import is this repository's, not a same-named one."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "name", ["api", "rooms", "notes", "jobs", "collab", "media", "speech", "storage"]
)
def test_package_comes_from_this_repository(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == ROOT / name
    assert module.__doc__, f"{name} has no package docstring"
