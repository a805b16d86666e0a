"""The y-websocket wire protocol, sans-I/O: frames in, typed messages out, and encoders.

One WebSocket binary frame carries exactly one message (y-websocket ``messageHandler``)::

    frame     := varuint(message_type) body
    SYNC  (0) := varuint(sync_type) varbytes(payload)      y-protocols/sync.js
                   sync_type 0 = step 1 (payload: state vector)
                   sync_type 1 = step 2 (payload: update, the diff the peer lacks)
                   sync_type 2 = update (payload: update)
    AWARENESS (1)       := varbytes(awareness_update)      y-protocols/awareness.js
    QUERY_AWARENESS (3) := (empty)
    STATELESS (100)     := varuint(status) varstring(payload)      this server's extension
                   status 0 = a message (both directions)
                   status 1 = the server rejected the client's last stateless message
                              (server to client only; payload: the reason)

    awareness_update := varuint(n) { varuint(client_id) varuint(clock) varstring(json) }*n
    varbytes  := varuint(len) bytes[len]
    varstring := varuint(len of UTF-8) UTF-8 bytes      (lib0 writeVarString)
    varuint   := little-endian base-128, 7 bits per byte, high bit = continue (lib0)

lib0 refuses integers above 2**53 - 1 ("Integer out of Range"); so do we. Every function here
is pure and raises ``ProtocolViolation`` for truncated varints, unknown message types, and
trailing bytes after a complete message. Message type 2 (auth) is server-to-client only in
y-websocket and is refused when sent by a client. Type 100 (stateless) is opt-in: plain
y-websocket clients never send it and the server sends it only to connections that asked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from collab.errors import ProtocolViolation

__all__ = [
    "MAX_SAFE_INTEGER",
    "AwarenessEntry",
    "AwarenessUpdate",
    "Message",
    "QueryAwareness",
    "RawAwarenessEntry",
    "Stateless",
    "SyncStep1",
    "SyncStep2",
    "Update",
    "decode_awareness",
    "decode_message",
    "encode_awareness",
    "encode_awareness_entries",
    "encode_awareness_state",
    "encode_message",
    "encode_query_awareness",
    "encode_stateless",
    "encode_sync_step1",
    "encode_sync_step2",
    "encode_update",
    "parse_awareness_entry",
    "read_awareness",
    "read_var_uint",
    "write_var_uint",
]

MAX_SAFE_INTEGER = 2**53 - 1
MESSAGE_SYNC = 0
MESSAGE_AWARENESS = 1
MESSAGE_QUERY_AWARENESS = 3
MESSAGE_STATELESS = 100
STATELESS_MESSAGE = 0
STATELESS_REJECTED = 1
SYNC_STEP1 = 0
SYNC_STEP2 = 1
SYNC_UPDATE = 2


@dataclass(frozen=True, slots=True)
class SyncStep1:
    """Sync step 1: the sender's state vector; the receiver replies with step 2."""

    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    """Sync step 2: the update the receiver of step 1 was missing."""

    update: bytes


@dataclass(frozen=True, slots=True)
class Update:
    """An incremental document update."""

    update: bytes


@dataclass(frozen=True, slots=True)
class AwarenessUpdate:
    """An awareness update (see ``decode_awareness`` for its entries)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    """A request for every known awareness state."""


@dataclass(frozen=True, slots=True)
class Stateless:
    """An application message that is not part of the document (a room action, media
    signaling). ``rejected``: sent by the server only, ``payload`` is then the reason."""

    payload: str
    rejected: bool = False


Message = SyncStep1 | SyncStep2 | Update | AwarenessUpdate | QueryAwareness | Stateless


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    """One client's awareness state; ``state is None`` announces its removal.

    ``raw``, when set, is the state's UTF-8 JSON exactly as it goes on the wire (decoded
    entries keep what was received; ``encode_awareness_entries`` reuses it instead of
    re-encoding ``state``).
    """

    client_id: int
    clock: int
    state: dict[str, Any] | None
    raw: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RawAwarenessEntry:
    """An awareness entry whose JSON is not parsed yet (``parse_awareness_entry``)."""

    client_id: int
    clock: int
    raw: bytes


def write_var_uint(num: int) -> bytes:
    """Encode ``num`` (0 <= num <= 2**53 - 1) as a lib0 varuint."""
    if num < 0 or num > MAX_SAFE_INTEGER:
        raise ValueError(f"varuint out of range: {num}")
    out = bytearray()
    while num > 0x7F:
        out.append(0x80 | (num & 0x7F))
        num >>= 7
    out.append(num)
    return bytes(out)


def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode a lib0 varuint at ``pos``.

    Returns:
        ``(value, next_pos)``.

    Raises:
        ProtocolViolation: truncated, or larger than 2**53 - 1.
    """
    if pos < len(data) and data[pos] < 0x80:  # one byte: message types, small lengths
        return data[pos], pos + 1
    num = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ProtocolViolation("truncated varuint")
        byte = data[pos]
        pos += 1
        num |= (byte & 0x7F) << shift
        if num > MAX_SAFE_INTEGER:
            raise ProtocolViolation("varuint out of range")
        if byte < 0x80:
            return num, pos
        shift += 7


def _read_var_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = read_var_uint(data, pos)
    end = pos + length
    if end > len(data):
        raise ProtocolViolation("truncated payload")
    return data[pos:end], end


def _var_bytes(payload: bytes) -> bytes:
    return write_var_uint(len(payload)) + payload


def _expect_end(data: bytes, pos: int) -> None:
    if pos != len(data):
        raise ProtocolViolation("trailing bytes after message")


def decode_message(frame: bytes) -> Message:
    """Decode one binary frame into a typed message.

    Raises:
        ProtocolViolation: malformed, unknown type, or trailing bytes.
    """
    message_type, pos = read_var_uint(frame, 0)
    if message_type == MESSAGE_SYNC:
        sync_type, pos = read_var_uint(frame, pos)
        payload, pos = _read_var_bytes(frame, pos)
        _expect_end(frame, pos)
        if sync_type == SYNC_STEP1:
            return SyncStep1(payload)
        if sync_type == SYNC_STEP2:
            return SyncStep2(payload)
        if sync_type == SYNC_UPDATE:
            return Update(payload)
        raise ProtocolViolation(f"unknown sync message type {sync_type}")
    if message_type == MESSAGE_AWARENESS:
        payload, pos = _read_var_bytes(frame, pos)
        _expect_end(frame, pos)
        return AwarenessUpdate(payload)
    if message_type == MESSAGE_QUERY_AWARENESS:
        _expect_end(frame, pos)
        return QueryAwareness()
    if message_type == MESSAGE_STATELESS:
        status, pos = read_var_uint(frame, pos)
        payload, pos = _read_var_bytes(frame, pos)
        _expect_end(frame, pos)
        if status not in (STATELESS_MESSAGE, STATELESS_REJECTED):
            raise ProtocolViolation(f"unknown stateless status {status}")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolViolation("stateless payload is not UTF-8") from exc
        return Stateless(text, rejected=status == STATELESS_REJECTED)
    raise ProtocolViolation(f"unknown message type {message_type}")


def encode_sync_step1(state_vector: bytes) -> bytes:
    """Frame for sync step 1 carrying ``state_vector``."""
    return bytes((MESSAGE_SYNC, SYNC_STEP1)) + _var_bytes(state_vector)


def encode_sync_step2(update: bytes) -> bytes:
    """Frame for sync step 2 carrying ``update``."""
    return bytes((MESSAGE_SYNC, SYNC_STEP2)) + _var_bytes(update)


def encode_update(update: bytes) -> bytes:
    """Frame for an incremental update; encode once and send the same bytes to everyone."""
    return bytes((MESSAGE_SYNC, SYNC_UPDATE)) + _var_bytes(update)


def encode_awareness(payload: bytes) -> bytes:
    """Frame for an awareness update ``payload`` (see ``encode_awareness_entries``)."""
    return bytes((MESSAGE_AWARENESS,)) + _var_bytes(payload)


def encode_query_awareness() -> bytes:
    """Frame asking the peer for all its awareness states."""
    return bytes((MESSAGE_QUERY_AWARENESS,))


def encode_stateless(payload: str, *, rejected: bool = False) -> bytes:
    """Frame for a stateless message (``rejected``: a rejection whose reason is ``payload``)."""
    status = STATELESS_REJECTED if rejected else STATELESS_MESSAGE
    return bytes((MESSAGE_STATELESS, status)) + _var_bytes(payload.encode("utf-8"))


def encode_message(message: Message) -> bytes:
    """Encode any typed message back into its frame (inverse of ``decode_message``)."""
    if isinstance(message, SyncStep1):
        return encode_sync_step1(message.state_vector)
    if isinstance(message, SyncStep2):
        return encode_sync_step2(message.update)
    if isinstance(message, Update):
        return encode_update(message.update)
    if isinstance(message, AwarenessUpdate):
        return encode_awareness(message.payload)
    if isinstance(message, Stateless):
        return encode_stateless(message.payload, rejected=message.rejected)
    return encode_query_awareness()


def read_awareness(payload: bytes) -> list[RawAwarenessEntry]:
    """Split an awareness update into entries without parsing their JSON.

    Raises:
        ProtocolViolation: malformed bytes or trailing bytes.
    """
    count, pos = read_var_uint(payload, 0)
    entries: list[RawAwarenessEntry] = []
    for _ in range(count):
        client_id, pos = read_var_uint(payload, pos)
        clock, pos = read_var_uint(payload, pos)
        raw, pos = _read_var_bytes(payload, pos)
        entries.append(RawAwarenessEntry(client_id, clock, raw))
    _expect_end(payload, pos)
    return entries


def parse_awareness_entry(entry: RawAwarenessEntry) -> AwarenessEntry:
    """Parse an entry's JSON state.

    A state must be a JSON object or ``null`` (removal); y-websocket clients always send
    objects, and identity stamping needs one.

    Raises:
        ProtocolViolation: invalid UTF-8 or JSON, or a non-object state.
    """
    try:
        state = _JSON.decode(entry.raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ProtocolViolation("awareness state is not JSON") from exc
    if state is not None and not isinstance(state, dict):
        raise ProtocolViolation("awareness state is not an object")
    return AwarenessEntry(entry.client_id, entry.clock, state, entry.raw)


def decode_awareness(payload: bytes) -> list[AwarenessEntry]:
    """Decode an awareness update into entries (``read_awareness`` + parsing every state).

    Raises:
        ProtocolViolation: malformed bytes, invalid UTF-8 or JSON, a non-object state, or
            trailing bytes.
    """
    return [parse_awareness_entry(entry) for entry in read_awareness(payload)]


def _reject_constant(name: str) -> Any:
    # NaN/Infinity are not JSON; JSON.parse in the browser would throw on our re-encoding.
    raise ValueError(f"invalid JSON constant {name}")


_JSON = json.JSONDecoder(parse_constant=_reject_constant)  # json.loads(...) builds one per call


def encode_awareness_state(state: dict[str, Any] | None) -> bytes:
    """A state's compact UTF-8 JSON, as ``JSON.stringify`` writes it."""
    return json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_awareness_entry(entry: AwarenessEntry) -> bytes:
    """One entry as it goes on the wire inside an awareness update (``join_awareness_entries``
    puts several together; senders reuse the bytes instead of re-encoding per recipient)."""
    raw = entry.raw if entry.raw is not None else encode_awareness_state(entry.state)
    return b"".join(
        (write_var_uint(entry.client_id), write_var_uint(entry.clock), _var_bytes(raw))
    )


def join_awareness_entries(wires: list[bytes]) -> bytes:
    """An awareness update payload of already encoded entries (``encode_awareness_entry``)."""
    return write_var_uint(len(wires)) + b"".join(wires)


def encode_awareness_entries(entries: list[AwarenessEntry]) -> bytes:
    """Encode entries as an awareness update payload (inverse of ``decode_awareness``)."""
    return join_awareness_entries([encode_awareness_entry(entry) for entry in entries])
