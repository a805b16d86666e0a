"""Every row of the close-code table is produced by the case that should produce it."""

from __future__ import annotations

from dataclasses import replace

import anyio
import pytest

from collab import CollabConfig, Extension
from collab.errors import (
    CLOSE_TABLE,
    CloseCode,
    Forbidden,
    InternalError,
    ProtocolViolation,
    Reject,
    close_for,
)
from collab.hooks import Authenticate, Change
from collab.protocol import encode_update
from tests.collab._kit import FAST, doc_name, running


def test_table_maps_every_error_to_a_code_and_generic_reasons() -> None:
    assert close_for(ProtocolViolation("secret detail")) == (CloseCode.PROTOCOL_ERROR,
                                                              "protocol error")
    assert close_for(Forbidden()) == (CloseCode.FORBIDDEN, "forbidden")
    assert close_for(RuntimeError("secret")) == (CloseCode.INTERNAL_ERROR, "internal error")
    assert close_for(Reject(CloseCode.DOCUMENT_DELETED, "gone")) == (4410, "gone")
    assert close_for(Reject(CloseCode.NOT_FOUND)) == (4404, "not found")
    assert close_for(Reject(CloseCode.FORBIDDEN, "é" * 200))[1].encode().__len__() <= 123
    assert {code for code, _ in CLOSE_TABLE.values()} >= {1001, 1002, 1003, 1009, 1011, 1013,
                                                         4401, 4403, 4404, 4408, 4410, 4413,
                                                         4429}
    assert close_for(InternalError())[0] == 1011


async def _first_close(config: CollabConfig, frames: list[bytes], token: str | None = "user-1",
                       name: str | None = None, extensions: list[Extension] | None = None) -> int:
    async with running(config, extensions or []) as h:
        client = await h.connect(name or doc_name(), token)
        for frame in frames:
            await client.send(frame)
        code = await client.wait_closed()
        assert code is not None
        return code


async def test_missing_token_is_4401() -> None:
    assert await _first_close(FAST, [], token=None) == CloseCode.UNAUTHORIZED


async def test_unknown_kind_is_4404() -> None:
    assert await _first_close(FAST, [], name="bogus/abc") == CloseCode.NOT_FOUND


async def test_invalid_doc_id_is_4404() -> None:
    assert await _first_close(FAST, [], name="notes/a.b") == CloseCode.NOT_FOUND


async def test_malformed_message_is_1002() -> None:
    assert await _first_close(FAST, [b"\x07"]) == CloseCode.PROTOCOL_ERROR


async def test_undecodable_update_is_1002() -> None:
    assert await _first_close(FAST, [encode_update(b"\x01\x02\x03")]) == 1002


async def test_message_too_big_is_1009() -> None:
    config = replace(FAST, max_message_size=1000)
    assert await _first_close(config, [encode_update(b"\x00" * 2000)]) == 1009


async def test_rate_limit_is_1013() -> None:
    config = replace(FAST, max_messages_per_second=1, message_burst=5)
    assert await _first_close(config, [b"\x03"] * 50) == CloseCode.TRY_AGAIN_LATER


async def test_document_too_large_is_4413() -> None:
    from pycrdt import Doc, Text

    doc: Doc = Doc()
    doc["t"] = Text("x" * 5000)
    config = replace(FAST, max_document_size=1000)
    assert await _first_close(config, [encode_update(doc.get_update())]) == 4413


async def test_auth_timeout_is_4408() -> None:
    class Slow(Extension):
        async def on_authenticate(self, event: Authenticate) -> None:
            await anyio.sleep(10)

    config = replace(FAST, auth_timeout=0.05)
    assert await _first_close(config, [], extensions=[Slow()]) == CloseCode.TIMEOUT


async def test_idle_timeout_is_4408() -> None:
    config = replace(FAST, idle_timeout=0.05)
    assert await _first_close(config, []) == CloseCode.TIMEOUT


async def test_extension_crash_is_1011_with_generic_reason() -> None:
    class Crash(Extension):
        async def on_change(self, event: Change) -> None:
            raise RuntimeError("database password is hunter2")

    from pycrdt import Doc, Text

    doc: Doc = Doc()
    doc["t"] = Text("x")
    async with running(FAST, [Crash()]) as h:
        client = await h.connect(doc_name())
        await client.send(encode_update(doc.get_update()))
        assert await client.wait_closed() == 1011
        assert client.close_reason == "internal error"


@pytest.mark.parametrize("code", [CloseCode.FORBIDDEN, CloseCode.DOCUMENT_DELETED])
async def test_reject_in_a_hook_closes_with_its_code(code: CloseCode) -> None:
    class Refuse(Extension):
        async def on_authenticate(self, event: Authenticate) -> None:
            raise Reject(code, "no")

    assert await _first_close(FAST, [], extensions=[Refuse()]) == code


async def test_connections_per_document_limit_is_4429() -> None:
    config = replace(FAST, max_connections_per_document=2)
    async with running(config) as h:
        name = doc_name()
        first, second = await h.connect(name, "user-1"), await h.connect(name, "user-2")
        await first.recv()
        await second.recv()
        third = await h.connect(name, "user-3")
        assert await third.wait_closed() == CloseCode.TOO_MANY_CONNECTIONS
        await first.leave()
        await second.leave()


async def test_connections_per_user_limit_is_4429() -> None:
    config = replace(FAST, max_connections_per_user=1)
    async with running(config) as h:
        first = await h.connect(doc_name(), "user-1")
        await first.recv()
        second = await h.connect(doc_name(), "user-1")
        assert await second.wait_closed() == CloseCode.TOO_MANY_CONNECTIONS
        other = await h.connect(doc_name(), "user-2")
        await other.recv()  # another user is unaffected
        await first.leave()
        await other.leave()


async def test_close_document_closes_with_4410() -> None:
    async with running() as h:
        name = doc_name()
        a, b = await h.connect(name, "user-1"), await h.connect(name, "user-2")
        await a.recv()
        await b.recv()
        assert await h.server.close_document(name) == 2
        assert await a.wait_closed() == CloseCode.DOCUMENT_DELETED
        assert await b.wait_closed() == CloseCode.DOCUMENT_DELETED


async def test_close_user_closes_only_that_user() -> None:
    async with running() as h:
        name = doc_name()
        a, b = await h.connect(name, "user-1"), await h.connect(name, "user-2")
        await a.recv()
        await b.recv()
        assert await h.server.close_user(name, "1") == 1
        assert await a.wait_closed() == CloseCode.FORBIDDEN
        assert not b.closed.is_set()
        await b.leave()


async def test_shutdown_closes_with_1001() -> None:
    async with running() as h:
        client = await h.connect(doc_name())
        await client.recv()
        await h.server.close()
        assert await client.wait_closed() == CloseCode.GOING_AWAY
        late = await h.connect(doc_name())
        assert await late.wait_closed() == CloseCode.GOING_AWAY

