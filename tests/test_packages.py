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


def test_the_image_copies_every_package() -> None:
    """docker/Dockerfile copies the packages one by one (a layer each): a package added to
    pyproject.toml but not there builds an image whose `collab` cannot import it."""
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "root_packages"
    ]
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text().splitlines()
    missing = [p for p in packages if f"COPY {p} ./{p}" not in dockerfile]
    assert not missing, f"docker/Dockerfile does not copy {missing}"
