"""Collab exceptions and the one table that maps each of them to a WebSocket close code.

Exception tree::

    CollabError
    ├── ProtocolViolation        1002  malformed Yjs message
    ├── UnsupportedData          1003  text frame where binary is expected
    ├── MessageTooBig            1009  frame over ``max_message_size``
    ├── InternalError            1011  a bug, an extension crash (generic reason, no details)
    │   └── DocumentPoisoned     1011  pycrdt panicked while applying this client's update
    ├── ServerGoingAway          1001  shutdown
    ├── SlowConsumer             1013  send buffer full / send timed out
    ├── RateLimited              1013  too many messages per second
    ├── Unauthorized             4401  missing, invalid or expired token (client refreshes)
    ├── Forbidden                4403  authenticated but not allowed (permanent)
    ├── NotFound                 4404  unknown kind or document (permanent)
    ├── Timeout                  4408  no auth or no message within the deadline
    ├── DocumentDeleted          4410  the document was deleted (permanent)
    ├── DocumentTooLarge         4413  the update would grow the document over the limit
    ├── MissingDependencies      4424  updates whose dependencies never arrived (bounded)
    ├── TooManyConnections       4429  per-document or per-user connection limit
    └── Reject                   any   raised by an extension hook with an explicit code

Close codes follow RFC 6455 section 7.4.1 (1000-1015) and the private 4000-4999 range, where
4xxx mirrors the HTTP status of the same meaning (hocuspocus uses 4401/4403 the same way).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "CLOSE_TABLE",
    "CloseCode",
    "CollabError",
    "ConnectionClosed",
    "DocumentDeleted",
    "DocumentPoisoned",
    "DocumentTooLarge",
    "Forbidden",
    "InternalError",
    "MessageTooBig",
    "MissingDependencies",
    "NotFound",
    "ProtocolViolation",
    "RateLimited",
    "Reject",
    "ServerGoingAway",
    "SlowConsumer",
    "Timeout",
    "TooManyConnections",
    "Unauthorized",
    "UnsupportedData",
    "close_for",
    "default_reason",
    "is_panic",
]


class CloseCode(IntEnum):
    """WebSocket close codes sent by the collab server (see docs/protocol.md)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    TIMEOUT = 4408
    DOCUMENT_DELETED = 4410
    DOCUMENT_TOO_LARGE = 4413
    MISSING_DEPENDENCIES = 4424
    TOO_MANY_CONNECTIONS = 4429


class CollabError(Exception):
    """Base of every error the collab package raises on purpose."""


class ProtocolViolation(CollabError):
    """The peer sent bytes that are not a valid y-protocols message."""


class UnsupportedData(CollabError):
    """The peer sent a text frame; the y-websocket protocol is binary only."""


class MessageTooBig(CollabError):
    """A frame is larger than ``CollabConfig.max_message_size``."""


class InternalError(CollabError):
    """An unexpected failure; the client only ever sees a generic reason."""


class DocumentPoisoned(InternalError):
    """pycrdt panicked while applying an update: the in-memory Doc must be rebuilt.

    Args:
        name: the document.
        parked_by: the senders of the updates yrs held back when it panicked (they are the
            cause: yrs retries them inside every later update); empty when there were none.
    """

    def __init__(self, name: str, parked_by: frozenset[str] = frozenset()) -> None:
        super().__init__(name)
        self.parked_by = parked_by


class ServerGoingAway(CollabError):
    """The server is shutting down or no longer admits connections."""


class SlowConsumer(CollabError):
    """The connection's bounded send buffer overflowed or a send timed out."""


class RateLimited(CollabError):
    """The connection sent more messages per second than allowed."""


class Unauthorized(CollabError):
    """No valid credentials: transient, the client should refresh its token and retry."""


class Forbidden(CollabError):
    """Valid credentials, but no access to this document: permanent."""


class NotFound(CollabError):
    """Unknown document kind or document: permanent."""


class Timeout(CollabError):
    """Authentication or the next message did not arrive within its deadline."""


class DocumentDeleted(CollabError):
    """The document was deleted while connected or before: permanent."""


class DocumentTooLarge(CollabError):
    """Applying the update would grow the document over ``max_document_size``."""


class MissingDependencies(CollabError):
    """Updates of this connection wait for content that did not arrive: for longer than
    ``parked_timeout``, or more of them than the parked-update limits allow."""


class TooManyConnections(CollabError):
    """The per-document or per-user connection limit is reached."""


class Reject(CollabError):
    """Raised by an extension hook to refuse, with an explicit close code and reason.

    Args:
        code: the close code the connection is closed with.
        reason: a short, client-safe reason (at most 123 UTF-8 bytes are sent).
    """

    def __init__(self, code: CloseCode, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


# The one table: exception type -> (close code, client-visible reason). Looked up along the MRO,
# so a subclass inherits its parent's row unless it has its own.
CLOSE_TABLE: dict[type[CollabError], tuple[CloseCode, str]] = {
    ProtocolViolation: (CloseCode.PROTOCOL_ERROR, "protocol error"),
    UnsupportedData: (CloseCode.UNSUPPORTED_DATA, "unsupported data"),
    MessageTooBig: (CloseCode.MESSAGE_TOO_BIG, "message too big"),
    InternalError: (CloseCode.INTERNAL_ERROR, "internal error"),
    ServerGoingAway: (CloseCode.GOING_AWAY, "going away"),
    SlowConsumer: (CloseCode.TRY_AGAIN_LATER, "try again later"),
    RateLimited: (CloseCode.TRY_AGAIN_LATER, "rate limited"),
    Unauthorized: (CloseCode.UNAUTHORIZED, "unauthorized"),
    Forbidden: (CloseCode.FORBIDDEN, "forbidden"),
    NotFound: (CloseCode.NOT_FOUND, "not found"),
    Timeout: (CloseCode.TIMEOUT, "timeout"),
    DocumentDeleted: (CloseCode.DOCUMENT_DELETED, "document deleted"),
    DocumentTooLarge: (CloseCode.DOCUMENT_TOO_LARGE, "document too large"),
    MissingDependencies: (CloseCode.MISSING_DEPENDENCIES, "missing dependencies"),
    TooManyConnections: (CloseCode.TOO_MANY_CONNECTIONS, "too many connections"),
}

_DEFAULT_REASONS: dict[int, str] = {code: reason for code, reason in CLOSE_TABLE.values()}
_DEFAULT_REASONS[CloseCode.NORMAL] = ""
_DEFAULT_REASONS[CloseCode.SERVICE_RESTART] = "service restart"
_DEFAULT_REASONS[CloseCode.GOING_AWAY] = "going away"


def close_for(exc: BaseException) -> tuple[CloseCode, str]:
    """Map an exception to the close code and reason sent to the client.

    Args:
        exc: any exception that ended a connection.

    Returns:
        ``(code, reason)``. Unknown exceptions map to 1011 with a generic reason: their text
        may be security-sensitive and is only logged.
    """
    if isinstance(exc, Reject):
        return exc.code, _clip(exc.reason or default_reason(exc.code))
    for klass in type(exc).__mro__:
        row = CLOSE_TABLE.get(klass)
        if row is not None:
            return row
    return CloseCode.INTERNAL_ERROR, "internal error"


def default_reason(code: int) -> str:
    """The reason sent with ``code`` when nothing more specific is known ("" for a code
    outside ``CloseCode``)."""
    return _DEFAULT_REASONS.get(code, "")


def _clip(reason: str) -> str:
    # RFC 6455 5.5: control frame payload <= 125 bytes, 2 of them the code.
    data = reason.encode()[:123]
    return data.decode(errors="ignore")


class ConnectionClosed(Exception):
    """The transport is closed (the peer left or the socket died). Not mapped to a close code:
    there is nobody left to send one to."""

    def __init__(self, code: int | None = None) -> None:
        super().__init__(code)
        self.code = code


def is_panic(exc: BaseException) -> bool:
    """True for ``pyo3_runtime.PanicException``: a Rust panic inside pycrdt.

    It derives from ``BaseException`` (like ``SystemExit``) and lives in a module that is not
    importable by name, so it is recognised by type name and module.
    """
    klass = type(exc)
    return klass.__name__ == "PanicException" and klass.__module__ == "pyo3_runtime"
