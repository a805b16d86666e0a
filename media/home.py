"""One media home per room across nodes (docs/media.md, "One media home per room").

``HomedMedia`` is the media backend of a node in a multi-node deployment. Every call names a
room; the room's *home* is the node whose relay hosts its media (``media.homeclaim``). A call
on the home runs on this process's relay (``media.homelocal``); a call anywhere else is
forwarded to the home over Redis pub/sub (``media.homebus``, messages in ``media.homewire``)
and waits for its reply, at most ``timeout`` seconds, then refuses with ``media_unavailable``.
WebRTC then connects browsers straight to the home node.

Invariants:

* only ``publish``, ``subscribe`` and ``start_recording`` claim a room; every other call goes
  to the current home, or runs on the local relay (which holds nothing for it) when there is
  none;
* the home re-checks its claim before admitting a new publisher or subscriber, so a node that
  has just released a room never starts hosting it again without the claim;
* the home refreshes its claims every third of the TTL and releases a room when its last
  member leaves or the room closes; a claim it finds lost ends the room's media here (the
  clients offer again, to the new home);
* a user's media ends on a ``leave`` from the node their media was last negotiated through
  (their page's socket): another node losing its last socket of the user ends nothing;
* a node that finds the home gone (nobody reads its request channel: the process died) takes
  the claim over at once; a home that is alive but cut off from Redis keeps its claim until
  the TTL and then loses it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from media.config import REFUSALS, MediaRefused, Stopped
from media.homebus import NobodyThere, RedisBus
from media.homeclaim import Claims
from media.homelocal import FinishedRecordings, LocalRelay, RecordingStore, run_on
from media.homewire import Reply, Request

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from media.recording import RecordedFile
    from media.speaker import Speakers

__all__ = ["HomedMedia", "LocalRelay", "RecordingStore"]

log = logging.getLogger(__name__)

_CLAIMING = frozenset({"publish", "subscribe", "start_recording"})
_CHANGING = frozenset({"publish", "unpublish", "leave", "close_room"})


class HomedMedia:
    """The media backend of one node of a cluster; an async context manager.

    Args:
        relay: this process's relay, entered by the caller before this and left after it.
        claims: this node's claims (``claims.node`` is this node's id).
        redis: the client requests and replies travel on.
        prefix: the deployment's Redis prefix.
        scratch: where recordings started from another node are written on this one.
        recordings: where this node stores a recording it wrote (None: recording refused).
        timeout: seconds a forwarded call waits for the home's reply.

    It is also the recording sink the room side must use (``store``): a recording written on
    another node is stored by that node, one written here by ``recordings``.
    """

    def __init__(
        self, relay: LocalRelay, claims: Claims, redis: Redis[bytes], *, prefix: str,
        scratch: Path, recordings: RecordingStore | None = None, timeout: float = 15.0,
    ) -> None:
        self._relay, self._claims = relay, claims
        self._scratch, self._recordings = scratch, recordings
        self._bus = RedisBus(redis, claims.node, prefix=prefix, timeout=timeout,
                             serve=self._serve)
        self.node = claims.node
        self.client_ice_servers = relay.client_ice_servers
        self.limits = relay.limits
        self._changed, self.changes = anyio.create_memory_object_stream[str](256)
        # speakers are measured by the relay that hosts the room; the room side on that node
        # writes them into the room document, which every node then has
        self.speaker_changes = relay.speaker_changes
        self._mutes: dict[tuple[str, str, str], bool] = {}  # (room, user, source) -> sent home
        # room -> its members (user -> the node their media was last negotiated through),
        # while this node is the room's home
        self._hosting: dict[str, dict[str, str]] = {}
        self._cache: dict[str, dict[str, list[str]]] = {}  # room -> publications at its home
        self._away: dict[str, str] = {}  # room -> its home elsewhere, as last called
        self._idle: set[str] = set()  # rooms hosted with no member at the last refresh
        self._finished = FinishedRecordings()  # written here for another node
        self._elsewhere: dict[Path, tuple[str, str]] = {}  # remote file -> (home, token)
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> HomedMedia:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        await tg.start(self._bus.run)
        tg.start_soon(self._refresh)
        tg.start_soon(self._follow_relay)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tg, self._tg = self._tg, None
        if tg is None:
            return
        try:
            with anyio.move_on_after(2, shield=True):
                for room in list(self._hosting):  # the next node may host them at once
                    await self._claims.release(room)
        except Exception:
            log.warning("could not release the media claims on the way out", exc_info=True)
        finally:
            self._changed.close()
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)

    # -- the backend (rooms.media.MediaBackend) --------------------------------------------

    async def publish(self, room_id: str, user_id: str, offer: str,
                      tracks: Mapping[str, str]) -> str:
        args = {"user": user_id, "offer": offer, "tracks": dict(tracks)}
        return str(await self._call("publish", room_id, args))

    async def unpublish(self, room_id: str, user_id: str, source: str) -> bool:
        return bool(await self._call("unpublish", room_id, {"user": user_id, "source": source}))

    async def subscribe(self, room_id: str, user_id: str, offer: str,
                        wanted: Mapping[str, tuple[str, str]]) -> str:
        args = {"user": user_id, "offer": offer,
                "wanted": {mid: list(pair) for mid, pair in wanted.items()}}
        return str(await self._call("subscribe", room_id, args))

    async def add_candidate(self, room_id: str, user_id: str, pc_name: str, candidate: str,
                            sdp_mid: str) -> bool:
        args = {"user": user_id, "pc": pc_name, "candidate": candidate, "sdp_mid": sdp_mid}
        return bool(await self._call("add_candidate", room_id, args))

    async def leave(self, room_id: str, user_id: str) -> None:
        await self._call("leave", room_id, {"user": user_id})

    async def close_room(self, room_id: str) -> None:
        await self._call("close_room", room_id, {})

    def take_stopped(self, room_id: str) -> list[Stopped]:
        """Stopped by this node's relay: the room side here mirrors the rooms it hosts."""
        return self._relay.take_stopped(room_id)

    def publications(self, room_id: str) -> dict[str, list[str]]:
        """At the home, the relay's; elsewhere, as the home's last reply about the room said
        (every call's reply carries them, so the caller mirrors what its own call left)."""
        if room_id in self._hosting or room_id not in self._cache:
            return self._relay.publications(room_id)
        return {user: list(sources) for user, sources in self._cache[room_id].items()}

    def speakers(self, room_id: str) -> Speakers:
        """As measured here (the room side reads it only on ``speaker_changes`` of this
        node's relay, i.e. for the rooms this node hosts)."""
        return self._relay.speakers(room_id)

    def set_muted(self, room_id: str, user_id: str, source: str, muted: bool) -> bool:
        """Enforce a mute at the room's home: here at once, elsewhere sent (a change only,
        in the background: the room side calls this after each write of the ``media`` map,
        and the home's own mirror of that map enforces it again when it arrives there)."""
        if room_id in self._hosting:
            return self._relay.set_muted(room_id, user_id, source, muted)
        key = (room_id, user_id, source)  # the home is looked up by ``_call``
        if self._mutes.get(key) != muted and self._tg is not None:
            self._mutes[key] = muted
            self._tg.start_soon(self._send_mute, room_id, user_id, source, muted)
        return source in self.publications(room_id).get(user_id, [])

    async def _send_mute(self, room_id: str, user_id: str, source: str, muted: bool) -> None:
        try:
            await self._call("set_muted", room_id,
                             {"user": user_id, "source": source, "muted": muted})
        except MediaRefused as refused:
            self._mutes.pop((room_id, user_id, source), None)  # sent again on the next write
            log.warning("mute of %s in %s not enforced at its home: %s", user_id, room_id,
                        refused.detail)

    async def start_recording(self, room_id: str, user_id: str, path: Path) -> None:
        """Record at the home; ``path``'s name is kept, in the home's scratch folder when the
        home is another node."""
        await self._call("start_recording", room_id, {"user": user_id, "name": path.name},
                         path=path)

    async def stop_recording(self, room_id: str) -> RecordedFile | None:
        """The finished file. One written on another node stays there until the room side
        hands it to ``store`` (which has that node store it)."""
        value = await self._call("stop_recording", room_id, {})
        if value is None or not isinstance(value, Mapping):
            return value  # a local RecordedFile, or None
        from media.recording import RecordedFile

        recorded = RecordedFile(Path(value["path"]), float(value["duration"]),
                                int(value["size"]), bool(value["video"]))
        if value["token"]:
            self._elsewhere[recorded.path] = (str(value["home"]), str(value["token"]))
        return recorded

    async def store(self, session_id: str, user_id: str, recorded: RecordedFile) -> str:
        """Store a recording this node's ``stop_recording`` returned (``rooms.media``'s
        ``RecordingSink``): by the node that wrote it, which then deletes it.

        Raises:
            MediaRefused: media_unavailable (no store here, or the writing node is gone).
        """
        elsewhere = self._elsewhere.pop(recorded.path, None)
        if elsewhere is None:
            if self._recordings is None:
                raise MediaRefused("media_unavailable", "recordings are not kept here")
            return await self._recordings.store(session_id, user_id, recorded)
        from redis.exceptions import RedisError

        home, token = elsewhere
        args = {"user": user_id, "token": token}
        try:
            return str(await self._remote(home, "store_recording", session_id, args, None))
        except (RedisError, OSError):
            log.warning("could not have %s store a recording", home, exc_info=True)
            raise MediaRefused("media_unavailable", "the media home cannot be reached") from None

    # -- routing ---------------------------------------------------------------------------

    async def _call(self, op: str, room: str, args: dict[str, Any],
                    path: Path | None = None) -> Any:
        from redis.exceptions import RedisError

        try:
            if op in _CLAIMING:
                home: str | None = await self._claims.claim(room)
            else:
                home = await self._claims.holder(room)
            if home is None or home == self.node:
                if home == self.node:
                    self._host(room)
                return await self._local(op, room, args, path)
            return await self._remote(home, op, room, args, path)
        except (RedisError, OSError):
            log.warning("media call %s for room %s: Redis unreachable", op, room, exc_info=True)
            raise MediaRefused("media_unavailable", "the media home cannot be reached") from None

    def _host(self, room: str) -> None:
        if room not in self._hosting:
            # Newly home (first, or after a dead home): mirror the room as this relay has it,
            # so the map drops what the previous home hosted and clients offer again.
            self._hosting[room] = {}
            self._cache.pop(room, None)
            self._away.pop(room, None)
            self._notify(room)

    def _notify(self, room: str) -> None:
        # The room side mirrors the room from ``changes``; past 256 waiting, a room is dropped
        # (its next change reports it again), and none are reported once closed.
        with contextlib.suppress(anyio.WouldBlock, anyio.ClosedResourceError):
            self._changed.send_nowait(room)

    async def _remote(self, home: str, op: str, room: str, args: dict[str, Any],
                      path: Path | None) -> Any:
        try:
            reply = await self._bus.ask(home, op, room, args)
        except NobodyThere:  # the home's process is gone
            if await self._claims.take_over(room, home):
                log.warning("media home %s of room %s is gone; hosting it here", home, room)
                self._host(room)
                return await self._local(op, room, args, path)
            raise MediaRefused("media_unavailable", f"the media home {home} is gone") from None
        if not reply.ok:
            reason = reply.reason if reply.reason in REFUSALS else "media_unavailable"
            raise MediaRefused(reason, reply.detail)
        if op == "close_room":  # the room's media ended there
            self._cache.pop(room, None)
            self._away.pop(room, None)
        else:
            if reply.publications is not None:
                self._cache[room] = reply.publications
            self._away[room] = home
        return reply.value

    async def _local(self, op: str, room: str, args: dict[str, Any],
                     path: Path | None = None, sender: str | None = None) -> Any:
        """Run ``op`` here for ``sender`` (the node whose socket asked; this one by default).

        A ``leave`` from a node other than the one the user's media was last negotiated
        through is ignored: that node lost its last socket of the user, but the page that
        holds the user's media is on another node (the leave that counts comes from there)."""
        members = self._hosting.get(room)
        user, sender = str(args.get("user", "")), sender or self.node
        try:
            if op == "start_recording" and path is None:  # asked by another node: written
                self._scratch.mkdir(parents=True, exist_ok=True)  # in this node's scratch
                path = self._scratch / Path(str(args["name"])).name
            if op == "store_recording":
                return await self._finished.store(room, user, str(args["token"]),
                                                  self._recordings)
            if op == "leave" and members is not None and members.get(user, sender) != sender:
                log.debug("media of %s in %s is held through %s, not %s: kept", user, room,
                          members[user], sender)
                return None
            joining = False
            if members is not None and op in ("publish", "subscribe") and user not in members:
                members[user] = sender  # from the start: the room is not idle meanwhile
                joining = True
            try:
                value = await run_on(self._relay, op, room, args, path)
            except BaseException:
                if joining and members is not None:
                    members.pop(user, None)
                raise
            if members is not None and op in ("publish", "subscribe"):
                members[user] = sender
            elif members is not None and op == "leave":
                members.pop(user, None)
            elif members is not None and op == "close_room":
                members.clear()
            return value
        finally:
            if members is not None and not members and room in self._hosting:
                del self._hosting[room]
                await self._claims.release(room)

    # -- serving other nodes ---------------------------------------------------------------

    async def _serve(self, request: Request) -> Reply:
        room = request.room
        try:
            if request.op in _CLAIMING and await self._claims.claim(room) != self.node:
                raise MediaRefused("media_unavailable", "the room's media moved; offer again")
            if request.op in _CLAIMING:
                self._host(room)
            value = await self._local(request.op, room, request.args, sender=request.sender)
            if request.op == "stop_recording":
                value = self._finished.keep(room, self.node, value)
            if request.op in _CHANGING:
                # The asking node mirrors what this reply says; the home mirrors too, later
                # and from its relay, so of two overlapping calls the current state is written
                # last (the room side writes only entries that differ).
                self._notify(room)
            return Reply(request.id, True, value, self._relay.publications(room))
        except MediaRefused as refused:
            return Reply(request.id, False, reason=refused.reason, detail=refused.detail)
        except Exception:
            log.exception("media call %s for room %s from %s failed", request.op, room,
                          request.sender)
            return Reply(request.id, False, reason="media_unavailable",
                         detail="the media home failed")

    # -- upkeep ----------------------------------------------------------------------------

    async def _refresh(self) -> None:
        while True:
            await anyio.sleep(self._claims.ttl / 3)
            try:
                lost = await self._claims.refresh(list(self._hosting))
            except Exception:
                log.warning("could not refresh the media claims", exc_info=True)
                continue
            for room in lost:
                log.warning("lost the media claim on room %s; ending its media here", room)
                self._hosting.pop(room, None)
                await self._relay.close_room(room)
            # A room hosted with nobody in it (taken over, and nobody offered again) for a
            # whole period is let go.
            idle = {room for room, members in self._hosting.items() if not members}
            for room in idle & self._idle:
                if not self._hosting.get(room, True):
                    del self._hosting[room]
                    await self._claims.release(room)
            self._idle = idle
            try:
                await self._watch_away()
            except Exception:
                log.warning("could not check the other media homes", exc_info=True)

    async def _watch_away(self) -> None:
        """Take over the rooms whose home elsewhere is gone (nobody reads its channel), so
        their media map is mirrored empty and the clients offer again without waiting for
        their connections to fail."""
        homes = sorted(set(self._away.values()))
        if not homes:
            return
        readers = await self._bus.readers(homes)
        for home in homes:
            if readers[home]:
                continue
            for room in [r for r, h in self._away.items() if h == home]:
                # Killed, its claim stands: take it over. Shut down, it let its claims go:
                # claim the room if it still listed publications (its relay ended every
                # connection without a mirror), not a room whose media had ended anyway.
                if await self._claims.take_over(room, home) or (
                    self._cache.get(room) and await self._claims.claim(room) == self.node
                ):
                    log.warning("media home %s of room %s is gone; hosting it here", home, room)
                    self._host(room)
                else:  # another node took it first, or nothing is left: calls find out
                    self._away.pop(room, None)
                    self._cache.pop(room, None)

    async def _follow_relay(self) -> None:
        # (not closed here: the relay, which outlives this, would fail sending to it)
        async for room in self._relay.changes:
            self._notify(room)
