"""Type aliases shared by the collab modules."""

from __future__ import annotations

from typing import Any, TypeAlias

from pycrdt import Doc

__all__ = ["YDoc"]

# pycrdt's Doc is generic in the type of its root values; collab documents hold any mix.
YDoc: TypeAlias = Doc[Any]
