"""Errors shared by several repositories."""

from __future__ import annotations


class UnknownReference(LookupError):
    """A referenced row (user, module, note ...) does not exist."""
