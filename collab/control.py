"""Control commands: what an operator or the REST layer does to live connections, on every node.

A command names a document (or ``ALL_DOCUMENTS``, every document of the node) and,
optionally, one user of it::

    Control.close(name, code, reason, user_id=None)    close (everyone, or one user: a kick)
    Control.access(name, user_id, read_only=, role=)   change a user's access in place

``CollabServer.control`` applies a command to this node's connections and runs the
``on_control`` hook; the fan-out extension relays it to every other node, which applies it to
its own connections (``apply_remote_control``). A command is idempotent: applying it twice, or
on a node where nobody matches, changes nothing more.

The wire form (a field of the fan-out's change stream) is compact JSON, encoded and decoded
here without I/O: ``{"d": name, "a": "close"|"access", "u": user|null, "c": code, "r": reason,
"ro": bool|null, "role": str|null}``. Decoding refuses anything else with ``ValueError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

__all__ = ["ALL_DOCUMENTS", "Control", "ControlAction", "decode_control", "encode_control"]

ControlAction = Literal["close", "access"]

ALL_DOCUMENTS = "*"
"""The document of a command meant for every document (a user signed out everywhere). No
document is named ``*``: every kind's names are ``<kind>/<id>``."""


@dataclass(frozen=True, slots=True)
class Control:
    """One control command (build with ``Control.close`` or ``Control.access``).

    Attributes:
        document: the document name (``notes/<id>``), or ``ALL_DOCUMENTS``.
        action: ``close`` ends connections with ``code``; ``access`` changes them in place.
        user_id: the user whose connections are meant; None means every connection.
        code: the close code (``close`` only).
        reason: the close reason (``close`` only, client-safe).
        read_only: the new read-only flag, or None to keep it (``access`` only).
        role: the new role in the document, or None to keep it (``access`` only).
    """

    document: str
    action: ControlAction
    user_id: str | None = None
    code: int = 0
    reason: str = ""
    read_only: bool | None = None
    role: str | None = None

    @classmethod
    def close(
        cls, document: str, code: int, reason: str = "", *, user_id: str | None = None
    ) -> Control:
        """Close every connection of ``document`` (or only ``user_id``'s) with ``code``."""
        return cls(document, "close", user_id, int(code), reason)

    @classmethod
    def access(
        cls,
        document: str,
        user_id: str,
        *,
        read_only: bool | None = None,
        role: str | None = None,
    ) -> Control:
        """Change ``user_id``'s live connections of ``document`` (from their next message)."""
        return cls(document, "access", user_id, read_only=read_only, role=role)


def encode_control(command: Control) -> bytes:
    """The command's wire form (compact UTF-8 JSON)."""
    body = {
        "d": command.document,
        "a": command.action,
        "u": command.user_id,
        "c": command.code,
        "r": command.reason,
        "ro": command.read_only,
        "role": command.role,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode_control(data: bytes) -> Control:
    """Parse a command written by ``encode_control``.

    Raises:
        ValueError: not JSON, or a field of the wrong type.
    """
    body = json.loads(data)
    if not isinstance(body, dict):
        raise ValueError("control is not an object")
    document, action, user_id = body.get("d"), body.get("a"), body.get("u")
    code, reason = body.get("c", 0), body.get("r", "")
    read_only, role = body.get("ro"), body.get("role")
    if not isinstance(document, str) or not document:
        raise ValueError("control has no document")
    if action not in ("close", "access"):
        raise ValueError("unknown control action")
    if user_id is not None and not isinstance(user_id, str):
        raise ValueError("control user is not a string")
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(reason, str):
        raise ValueError("control code or reason of the wrong type")
    if read_only is not None and not isinstance(read_only, bool):
        raise ValueError("control read_only is not a boolean")
    if role is not None and not isinstance(role, str):
        raise ValueError("control role is not a string")
    return Control(document, action, user_id, code, reason, read_only, role)
