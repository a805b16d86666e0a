"""y-websocket protocol vectors: bytes produced by the npm yjs 13.6 / y-protocols encoders
(generated once with node, see the comments) decoded and re-encoded by collab.protocol."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Doc, Text

from collab.errors import ProtocolViolation
from collab.protocol import (
    MAX_SAFE_INTEGER,
    AwarenessEntry,
    AwarenessUpdate,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    Update,
    decode_awareness,
    decode_message,
    encode_awareness,
    encode_awareness_entries,
    encode_message,
    encode_query_awareness,
    read_var_uint,
    write_var_uint,
)

# node: doc.clientID = 42; doc.getText('t').insert(0, 'hé😀'); writeSyncStep1 / writeSyncStep2 /
# writeUpdate after writeVarUint(messageSync = 0).
RAW_UPDATE = bytes.fromhex("01012a00040101740768c3a9f09f988000")
STEP1 = bytes.fromhex("000003012a04")
STEP2 = bytes.fromhex("00011101012a00040101740768c3a9f09f988000")
UPDATE = bytes.fromhex("00021101012a00040101740768c3a9f09f988000")
# node: awareness.setLocalState({cursor: 5, ...}) then ({cursor: 6, user: {name: 'Zoë'}})
AWARENESS = bytes.fromhex(
    "0127012a02237b22637572736f72223a362c2275736572223a7b226e616d65223a225a6fc3ab227d7d"
)
AWARENESS_REMOVE = bytes.fromhex("012a03046e756c6c")  # setLocalState(null): clock 3, "null"


def test_sync_step1_vector() -> None:
    message = decode_message(STEP1)
    assert message == SyncStep1(bytes.fromhex("012a04"))
    assert encode_message(message) == STEP1


def test_sync_step2_and_update_vectors() -> None:
    assert decode_message(STEP2) == SyncStep2(RAW_UPDATE)
    assert decode_message(UPDATE) == Update(RAW_UPDATE)
    assert encode_message(Update(RAW_UPDATE)) == UPDATE
    assert encode_message(SyncStep2(RAW_UPDATE)) == STEP2


def test_yjs_update_applies_in_pycrdt() -> None:
    doc: Doc = Doc()
    text = doc.get("t", type=Text)
    doc.apply_update(RAW_UPDATE)
    assert str(text) == "hé😀"


def test_awareness_vector() -> None:
    message = decode_message(AWARENESS)
    assert isinstance(message, AwarenessUpdate)
    [entry] = decode_awareness(message.payload)
    assert entry == AwarenessEntry(42, 2, {"cursor": 6, "user": {"name": "Zoë"}})
    assert encode_awareness_entries([entry]) == message.payload
    assert encode_awareness(message.payload) == AWARENESS


def test_awareness_removal_vector() -> None:
    assert decode_awareness(AWARENESS_REMOVE) == [AwarenessEntry(42, 3, None)]
    assert encode_awareness_entries([AwarenessEntry(42, 3, None)]) == AWARENESS_REMOVE


def test_query_awareness() -> None:
    assert decode_message(b"\x03") == QueryAwareness()
    assert encode_query_awareness() == b"\x03"


def test_varuint_vectors() -> None:
    assert write_var_uint(300000) == bytes.fromhex("e0a712")
    assert write_var_uint(MAX_SAFE_INTEGER) == bytes.fromhex("ffffffffffffff0f")
    assert read_var_uint(bytes.fromhex("e0a712"), 0) == (300000, 3)


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b"", "empty frame: truncated varuint"),
        (b"\x80", "truncated varuint"),
        (b"\xff\xff\xff\xff\xff\xff\xff\xff\x7f", "varuint above 2**53-1"),
        (b"\x02\x00", "auth message from a client"),
        (b"\x04", "unknown message type"),
        (b"\x00", "sync without sync type"),
        (b"\x00\x03\x00", "unknown sync type"),
        (b"\x00\x00\x05\x01", "payload shorter than its length"),
        (STEP1 + b"\x00", "trailing bytes"),
        (b"\x03\x00", "trailing bytes after query awareness"),
        (b"\x01\x05\x01\x2a", "awareness payload truncated"),
    ],
)
def test_malformed_frames_are_protocol_violations(frame: bytes, why: str) -> None:
    with pytest.raises(ProtocolViolation):
        decode_message(frame)


@pytest.mark.parametrize(
    "payload",
    [
        bytes.fromhex("012a0103") + b"[1]",  # not an object
        bytes.fromhex("012a0103") + b"NaN",  # not JSON for JSON.parse
        bytes.fromhex("012a0102") + b"\xff\xfe",  # not UTF-8
        bytes.fromhex("012a0104") + b"null" + b"\x00",  # trailing
        bytes.fromhex("022a0104") + b"null",  # 2 entries announced, 1 present
    ],
)
def test_malformed_awareness_is_a_protocol_violation(payload: bytes) -> None:
    with pytest.raises(ProtocolViolation):
        decode_awareness(payload)


def test_deeply_nested_awareness_json_is_a_protocol_violation() -> None:
    state = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ProtocolViolation):
        decode_awareness(b"\x01\x2a\x01" + write_var_uint(len(state)) + state)


@given(st.integers(min_value=0, max_value=MAX_SAFE_INTEGER))
def test_varuint_round_trip(num: int) -> None:
    data = write_var_uint(num)
    assert read_var_uint(data, 0) == (num, len(data))


messages = st.one_of(
    st.binary(max_size=64).map(SyncStep1),
    st.binary(max_size=64).map(SyncStep2),
    st.binary(max_size=300).map(Update),
    st.binary(max_size=64).map(AwarenessUpdate),
    st.just(QueryAwareness()),
)


@given(messages)
def test_message_round_trip(message: SyncStep1 | SyncStep2 | Update | AwarenessUpdate) -> None:
    assert decode_message(encode_message(message)) == message


@given(st.binary(max_size=200))
def test_decode_never_raises_anything_but_protocol_violation(frame: bytes) -> None:
    with contextlib.suppress(ProtocolViolation):
        decode_message(frame)
    with contextlib.suppress(ProtocolViolation):
        decode_awareness(frame)
