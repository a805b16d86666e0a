"""`bench/run.py --param SCENARIO.NAME=INT`: overrides by name, refuses what it cannot apply."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def run_module(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_run_under_test", BENCH / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # a fresh copy: the overrides below change its table
    return module


def test_param_overrides_the_named_full_or_smoke_parameter(run_module: ModuleType) -> None:
    by_key = {s.key: s for s in run_module.SCENARIOS}
    run_module.apply_params(["memory.short_lived=2000", "fanout.rooms=3"], smoke=False)
    assert by_key["memory"].full["short_lived"] == 2000
    assert by_key["fanout"].full["rooms"] == 3
    assert by_key["memory"].smoke["short_lived"] == 12  # the other table is untouched
    run_module.apply_params(["memory.short_lived=5"], smoke=True)
    assert by_key["memory"].smoke["short_lived"] == 5


@pytest.mark.parametrize(
    "bad",
    ["memory.short_lived", "memory=3", "nosuch.rooms=1", "memory.nosuch=1", "memory.short_lived=x"],
)
def test_param_refuses_what_it_cannot_apply(run_module: ModuleType, bad: str) -> None:
    before = {s.key: dict(s.full) for s in run_module.SCENARIOS}
    with pytest.raises(ValueError, match="--param"):
        run_module.apply_params([bad], smoke=False)
    assert {s.key: s.full for s in run_module.SCENARIOS} == before
