"""on_configure: every extension gets the server it runs in, before it is entered, and can
apply a change through ``open_direct`` that runs the same hooks as a client edit."""

from __future__ import annotations

from types import TracebackType

from pycrdt import Text

from collab import Change, CollabServer, Extension
from collab.hooks import Configure
from tests.collab._kit import doc_name, running


class Seeder(Extension):
    def __init__(self) -> None:
        self.server: CollabServer | None = None
        self.configured_before_enter = False
        self.changes: list[Change] = []

    async def on_configure(self, event: Configure) -> None:
        self.server = event.server

    async def __aenter__(self) -> Seeder:
        self.configured_before_enter = self.server is not None
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        return None

    async def on_change(self, event: Change) -> None:
        self.changes.append(event)

    async def seed(self, name: str) -> None:
        assert self.server is not None
        async with self.server.open_direct(name, actor="seeder") as session:
            session.transact(lambda doc: doc.get("t", type=Text).insert(0, "seeded"))


async def test_extension_gets_its_server_and_edits_through_the_front_door() -> None:
    seeder = Seeder()
    async with running(extensions=[seeder]) as h:
        assert seeder.server is h.server and seeder.configured_before_enter
        name = doc_name()
        await seeder.seed(name)
        assert [(c.document, c.origin.kind, c.origin.id) for c in seeder.changes] == [
            (name, "server", "seeder")
        ]
