"""Awareness: identity stamping, ownership, removal on disconnect (y-websocket #122),
monotonic clocks across reconnects, coalescing of presence storms, query-awareness."""

from __future__ import annotations

from dataclasses import replace

import anyio
from hypothesis import given
from hypothesis import strategies as st

from collab.awareness import AwarenessStates, color_for, stamp_for
from collab.errors import CloseCode
from collab.protocol import (
    AwarenessEntry,
    AwarenessUpdate,
    RawAwarenessEntry,
    SyncStep1,
    decode_awareness,
    encode_awareness,
    encode_awareness_entries,
)
from tests.collab._kit import FAST, Harness, MemoryClient, doc_name, running

ALICE = stamp_for("alice", "Alice")


def aw(*entries: AwarenessEntry) -> bytes:
    return encode_awareness(encode_awareness_entries(list(entries)))


def test_stamp_overrides_what_the_client_claims() -> None:
    states = AwarenessStates()
    relay = states.apply("c1", "alice", [AwarenessEntry(1, 1, {"user": {"name": "Bob"},
                                                               "cursor": 3})], ALICE, 0.0)
    assert relay == [AwarenessEntry(1, 1, {"user": ALICE, "cursor": 3})]
    assert color_for("alice") == ALICE["color"] and ALICE["color"].startswith("#")


def test_another_users_client_id_is_not_taken_over() -> None:
    states = AwarenessStates()
    states.apply("c1", "alice", [AwarenessEntry(1, 1, {})], ALICE, 0.0)
    bob = stamp_for("bob", "Bob")
    assert states.apply("c2", "bob", [AwarenessEntry(1, 9, None)], bob, 0.0) == []
    assert states.apply("c2", "bob", [AwarenessEntry(1, 9, {"x": 1})], bob, 0.0) == []
    assert states.owner_of(1) == "c1"


def test_reconnect_with_old_clock_is_relayed_above_the_removal_clock() -> None:
    states = AwarenessStates()
    states.apply("c1", "alice", [AwarenessEntry(1, 5, {})], ALICE, 0.0)
    [removal] = states.remove_owner("c1", 1.0)
    assert removal == AwarenessEntry(1, 6, None)
    # the same browser tab reconnects with its unchanged clock 5: peers hold 6 for it
    [again] = states.apply("c2", "alice", [AwarenessEntry(1, 5, {"a": 1})], ALICE, 2.0)
    assert again.clock == 7 and again.state is not None
    [later] = states.apply("c2", "alice", [AwarenessEntry(1, 6, {"a": 2})], ALICE, 3.0)
    assert later.clock == 8  # stays monotonic for peers


def test_an_initial_clock_0_state_is_held_but_never_relayed() -> None:
    states = AwarenessStates()
    # A provider's first state: y-protocols peers ignore clock 0 from an unknown client.
    assert states.apply("c1", "alice", [AwarenessEntry(1, 0, {})], ALICE, 0.0) == []
    assert states.snapshot(0.5) == [] and states.snapshot_payload(0.5) is None
    assert states.owner_of(1) == "c1"  # claimed all the same
    bob = stamp_for("bob", "Bob")
    assert states.apply("c2", "bob", [AwarenessEntry(1, 3, {"x": 1})], bob, 0.6) == []
    assert states.remove_owner("c1", 1.0) == []  # nobody saw it: no removal to announce
    # a reconnect of the same silent tab stays silent; its first real state is relayed
    assert states.apply("c3", "alice", [AwarenessEntry(1, 0, {})], ALICE, 2.0) == []
    [shown] = states.apply("c3", "alice", [AwarenessEntry(1, 1, {"cursor": 2})], ALICE, 3.0)
    assert shown.clock == 1 and shown.state == {"cursor": 2, "user": ALICE}
    assert [e.client_id for e in states.snapshot(3.5)] == [1]
    assert states.remove_owner("c3", 4.0) == [AwarenessEntry(1, 2, None)]


def test_same_users_other_tab_echo_does_not_replace_the_live_state() -> None:
    """Two live tabs of one user: the y-websocket provider in tab 2 echoes tab 1's state back
    (with the clock we relayed); the echo must not move the id or resurrect an old state."""
    states = AwarenessStates()
    states.apply("tab1", "alice", [AwarenessEntry(1, 1, {"cursor": 1})], ALICE, 0.0)
    newer = states.apply("tab1", "alice", [AwarenessEntry(1, 2, {"cursor": 2})], ALICE, 0.1)
    assert newer == [AwarenessEntry(1, 2, {"user": ALICE, "cursor": 2})]
    # Tab 2 echoes what it received earlier (clock 1) and what it received last (clock 2).
    assert states.apply("tab2", "alice", [AwarenessEntry(1, 1, {"cursor": 1})], ALICE, 0.2) == []
    assert states.apply("tab2", "alice", [AwarenessEntry(1, 2, {"cursor": 2})], ALICE, 0.3) == []
    # Tab 1 keeps owning its id: its next state is relayed.
    later = states.apply("tab1", "alice", [AwarenessEntry(1, 3, {"cursor": 3})], ALICE, 0.4)
    assert later == [AwarenessEntry(1, 3, {"user": ALICE, "cursor": 3})]


def test_stale_and_duplicate_clocks_are_ignored_and_per_owner_limit() -> None:
    states = AwarenessStates(max_clients_per_owner=2)
    assert states.apply("c1", "u", [AwarenessEntry(1, 3, {})], None, 0.0)
    assert states.apply("c1", "u", [AwarenessEntry(1, 3, {"x": 1})], None, 0.0) == []
    assert states.apply("c1", "u", [AwarenessEntry(1, 2, {})], None, 0.0) == []
    assert states.apply("c1", "u", [AwarenessEntry(2, 1, {})], None, 0.0)
    assert states.apply("c1", "u", [AwarenessEntry(3, 1, {})], None, 0.0) == []  # over limit
    assert len(states) == 2
    assert len(states.snapshot(now=100.0)) == 0  # not renewed for 30 s: stale


def test_late_echoes_of_a_departed_users_state_are_not_taken_over() -> None:
    """After alice's tab left, bob's provider may still echo her last state (or her removal):
    neither may resurrect her client id under bob's name, nor re-announce the removal."""
    states = AwarenessStates()
    [relayed] = states.apply("c1", "alice", [AwarenessEntry(11, 4, {"cursor": 1})], ALICE, 0.0)
    [removal] = states.remove_owner("c1", 1.0)
    bob = stamp_for("bob", "Bob")
    assert states.apply("c2", "bob", [AwarenessEntry(11, relayed.clock, relayed.state)],
                        bob, 2.0) == []
    assert states.apply("c2", "bob", [AwarenessEntry(11, removal.clock, None)], bob, 2.0) == []
    assert states.owner_of(11) is None
    # alice herself reconnecting with her old clock still gets her id back (#122)
    [back] = states.apply("c3", "alice", [AwarenessEntry(11, 4, {"cursor": 2})], ALICE, 3.0)
    assert back.clock > removal.clock and states.owner_of(11) == "c3"


def test_echo_is_recognised_only_for_the_exact_bytes_and_a_relayed_clock() -> None:
    states = AwarenessStates()
    [relayed] = states.apply("c1", "alice", [AwarenessEntry(1, 3, {"cursor": 1})], ALICE, 0.0)
    assert relayed.raw is not None
    assert encode_awareness_entries([relayed]) == encode_awareness_entries(
        [AwarenessEntry(1, relayed.clock, relayed.state)]
    )  # the cached JSON is what encoding the state gives
    echo = RawAwarenessEntry(1, relayed.clock, relayed.raw)
    assert states.is_echo("c2", echo)
    assert not states.is_echo("c1", echo)  # the owner's own entries always go to ``apply``
    assert not states.is_echo("c2", RawAwarenessEntry(1, relayed.clock + 1, relayed.raw))
    assert not states.is_echo("c2", RawAwarenessEntry(1, relayed.clock, b'{"cursor":2}'))
    assert not states.is_echo("c2", RawAwarenessEntry(2, 1, relayed.raw))
    states.remove_owner("c1", 1.0)
    assert not states.is_echo("c2", echo)


async def test_an_echo_with_invalid_json_is_still_refused() -> None:
    """Skipping the JSON of echoes must not let garbage through: only byte-identical copies
    of what the server relayed are skipped; anything else is parsed (1002 when invalid)."""
    async with running() as h:
        name = doc_name()
        a, b = await _alice_and_bob(h, name)
        await a.send(aw(AwarenessEntry(11, 1, {"cursor": 1})))
        [seen] = await _awareness(b)
        assert seen.raw is not None
        await b.send(aw(AwarenessEntry(11, seen.clock, seen.state)))  # the echo: ignored
        await b.send(b"\x03")
        assert [e.client_id for e in await _awareness(b)] == [11]
        bad = b"\x01\x01\x0b" + bytes([seen.clock]) + b"\x05{oops"
        await b.send(encode_awareness(bad))
        assert await b.wait_closed() == CloseCode.PROTOCOL_ERROR
        await a.leave()


async def _alice_and_bob(h: Harness, name: str) -> tuple[MemoryClient, MemoryClient]:
    """Two users' connections to ``name``, both past the server's sync step 1."""
    a = await h.connect(name, "user-alice")
    b = await h.connect(name, "user-bob")
    assert isinstance(await a.recv_message(), SyncStep1)
    assert isinstance(await b.recv_message(), SyncStep1)
    return a, b


async def _awareness(client: MemoryClient) -> list[AwarenessEntry]:
    while True:
        message = await client.recv_message()
        if isinstance(message, AwarenessUpdate):
            return decode_awareness(message.payload)


async def test_presence_is_stamped_relayed_and_removed_on_disconnect() -> None:
    async with running() as h:
        name = doc_name()
        a, b = await _alice_and_bob(h, name)
        await a.send(aw(AwarenessEntry(11, 1, {"user": {"id": "bob", "name": "Bob"}})))
        [seen] = await _awareness(b)
        assert seen.state == {"user": stamp_for("alice", "User alice")}
        await a.leave()
        [gone] = await _awareness(b)
        assert gone == AwarenessEntry(11, 2, None)
        # alice's tab reconnects with the same client id and clock: bob must accept it
        a2 = await h.connect(name, "user-alice")
        assert isinstance(await a2.recv_message(), SyncStep1)
        await a2.send(aw(AwarenessEntry(11, 1, {"cursor": 1})))
        [back] = await _awareness(b)
        assert back.clock > gone.clock and back.state is not None
        # query-awareness returns the live states; the owner never receives its own entries
        await b.send(b"\x03")
        assert [e.client_id for e in await _awareness(b)] == [11]
        await b.send(aw(AwarenessEntry(22, 1, {})))
        [bobs] = await _awareness(a2)
        assert bobs.client_id == 22
        await a2.leave()
        await b.leave()


async def test_silent_clients_cost_nothing_until_they_set_a_state() -> None:
    async with running() as h:
        name = doc_name()
        a, b = await _alice_and_bob(h, name)
        await a.send(aw(AwarenessEntry(11, 0, {})))  # the provider's initial state
        await b.send(aw(AwarenessEntry(22, 1, {"cursor": 1})))
        [seen] = await _awareness(a)  # bob's state arrives; alice's clock 0 went nowhere
        assert seen.client_id == 22
        await b.send(b"\x03")  # query: every live state the server would show
        assert [e.client_id for e in await _awareness(b)] == [22]
        await a.send(aw(AwarenessEntry(11, 1, {"cursor": 7})))
        [shown] = await _awareness(b)
        assert shown.client_id == 11 and shown.clock == 1
        await a.leave()
        await b.leave()


async def test_joiner_receives_existing_presence() -> None:
    async with running() as h:
        name = doc_name()
        a = await h.connect(name, "user-alice")
        await a.recv()
        await a.send(aw(AwarenessEntry(11, 1, {"cursor": 4})))
        await a.send(b"\x03")  # round trip: the server handled the update first
        await _awareness(a)
        b = await h.connect(name, "user-bob")
        assert isinstance(await b.recv_message(), SyncStep1)
        [entry] = await _awareness(b)
        assert entry.client_id == 11 and entry.state is not None
        assert entry.state["cursor"] == 4
        await a.leave()
        await b.leave()


async def test_presence_storm_is_coalesced_latest_wins() -> None:
    config = replace(FAST, awareness_interval=0.5, max_messages_per_second=10_000,
                     message_burst=10_000)
    async with running(config) as h:
        name = doc_name()
        a, b = await h.connect(name, "user-alice"), await h.connect(name, "user-bob")
        await a.recv()
        await b.recv()
        for clock in range(1, 301):
            await a.send(aw(AwarenessEntry(11, clock, {"cursor": clock})))
        received: list[AwarenessEntry] = []
        frames = 0
        with anyio.fail_after(5):
            while not received or received[-1].state != {"cursor": 300,
                                                         "user": stamp_for("alice",
                                                                           "User alice")}:
                received += await _awareness(b)
                frames += 1
        assert frames < 30  # 300 updates, coalesced into a few broadcasts
        await a.leave()
        await b.leave()


async def test_local_awareness_leaves_out_peer_states() -> None:
    from collab import Origin

    async with running() as h:
        name = doc_name()
        a = await h.connect(name, "user-alice")
        await a.recv()
        await a.send(aw(AwarenessEntry(11, 1, {"cursor": 1})))
        await a.send(b"\x03")
        await _awareness(a)  # handled
        peer = encode_awareness_entries([AwarenessEntry(99, 4, {"user": {"id": "zed"}})])
        await h.server.apply_remote_awareness(name, peer, Origin.PEER("node-2"))
        payload = h.server.local_awareness(name)
        assert payload is not None
        assert [e.client_id for e in decode_awareness(payload)] == [11]
        assert h.server.local_awareness("notes/unknown") is None
        await a.leave()


awareness_ops = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2", "c3"]),  # connection
        st.sampled_from(["alice", "bob"]),  # its user
        st.integers(1, 3),  # client id
        st.integers(0, 6),  # clock the client claims
        st.booleans(),  # removal?
        st.booleans(),  # or: the connection ends
    ),
    max_size=40,
)


@given(awareness_ops)
def test_relayed_clocks_only_ever_increase(
    ops: list[tuple[str, str, int, int, bool, bool]],
) -> None:
    """What peers see (relays) is a y-protocols-acceptable sequence per client id: a state or a
    removal is only relayed with a clock above the last one relayed for that id."""
    states = AwarenessStates()
    last: dict[int, int] = {}
    for step, (owner, user, client_id, clock, removal, ends) in enumerate(ops):
        if ends:
            relayed = states.remove_owner(owner, float(step))
        else:
            entry = AwarenessEntry(client_id, clock, None if removal else {"n": step})
            relayed = states.apply(owner, user, [entry], None, float(step))
        for entry in relayed:
            assert entry.clock > last.get(entry.client_id, 0)
            last[entry.client_id] = entry.clock


async def test_server_has_no_awareness_state_of_its_own() -> None:
    async with running() as h:
        client = await h.connect(doc_name())
        assert isinstance(await client.recv_message(), SyncStep1)  # and no awareness frame
        await client.send(b"\x03")  # query: nothing to answer
        await client.send(bytes([0, 0, 1, 0]))
        assert not isinstance(await client.recv_message(), AwarenessUpdate)
        await client.leave()


async def test_an_echo_of_a_relayed_frame_is_dropped_whole() -> None:
    async with running() as h:
        name = doc_name()
        a, b = await _alice_and_bob(h, name)
        await a.send(aw(AwarenessEntry(11, 1, {"cursor": 1})))
        while not isinstance(message := await b.recv_message(), AwarenessUpdate):
            pass
        document = h.server.registry.documents[name]
        assert document.was_relayed(message.payload)
        await b.send(encode_awareness(message.payload))  # what a y-websocket provider does
        await b.send(aw(AwarenessEntry(22, 1, {"cursor": 9})))  # then something new
        [seen] = await _awareness(a)
        assert seen.client_id == 22  # alice got bob's new state, and nothing of the echo
        assert document.awareness.owner_of(11) is not None
        assert not document.was_relayed(encode_awareness_entries([AwarenessEntry(11, 1, {})]))
        await a.leave()
        await b.leave()
