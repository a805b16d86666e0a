"""Fuzz the message handler: random and mutated frames from one client never crash the server
and never disturb the other clients of the document."""

from __future__ import annotations

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from collab.errors import CloseCode
from collab.protocol import (
    AwarenessEntry,
    encode_awareness,
    encode_awareness_entries,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
)
from tests.collab._kit import SyncedClient, doc_name, pump, running, wait_for


def _seeds() -> list[bytes]:
    doc: Doc = Doc()
    text = doc.get("t", type=Text)
    text += "héllo 😀 wörld"
    state = doc.get_state()
    text.insert(3, "abc")
    return [
        encode_sync_step1(state),
        encode_sync_step2(doc.get_update()),
        encode_update(doc.get_update(state)),
        encode_awareness(encode_awareness_entries([AwarenessEntry(5, 1, {"a": [1, "x"]})])),
        b"\x03",
    ]


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(frame) - 1, 0)))
        if op == "flip" and frame:
            frame[pos] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del frame[pos:]
        elif op == "insert":
            frame[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and frame:
            del frame[pos]
    return bytes(frame)


frames = st.lists(st.one_of(mutated(), st.binary(max_size=40)), min_size=1, max_size=8)
ALLOWED = {CloseCode.PROTOCOL_ERROR, CloseCode.INTERNAL_ERROR, CloseCode.DOCUMENT_TOO_LARGE,
           CloseCode.TRY_AGAIN_LATER}


async def scenario(attack: list[bytes]) -> None:
    async with running() as h:
        name = doc_name()
        bystander_conn = await h.connect(name, "user-b")
        attacker = await h.connect(name, "user-a")
        bystander = SyncedClient(bystander_conn.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, bystander_conn, bystander)
            await bystander.start()
            for frame in attack:
                if attacker.closed.is_set():
                    break
                await attacker.send(frame)
            await attacker.send(b"\x03")
            with anyio.move_on_after(0.2):  # an attacker that stayed within the protocol stays
                await attacker.closed.wait()
            if attacker.closed.is_set():
                assert attacker.close_code in ALLOWED
            else:
                await attacker.leave()
            # the room still works: a newcomer sees the bystander's edit
            bystander.text += "still here"
            await bystander.push()
            late_conn = await h.connect(name, "user-c")
            late = SyncedClient(late_conn.send)
            tg.start_soon(pump, late_conn, late)
            await late.start()
            await wait_for(lambda: "still here" in str(late.text))
            assert not bystander_conn.closed.is_set()
            await bystander_conn.leave()
            await late_conn.leave()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames)
def test_fuzzed_frames_never_hurt_other_clients(attack: list[bytes]) -> None:
    anyio.run(scenario, attack)
