"""Yjs-compatible CRDT documents over the standard y-websocket protocol.

The package holds the sans-I/O protocol (``protocol``), live documents (``document``), client
connections with their error boundary (``connection``), the extension model (``hooks``), the
server with its single-flight registry and lifecycle (``server``, ``registry``), in-process
editing (``direct``), the Starlette adapter (``asgi``) and the persistence seam
(``extensions.persistence``). It imports no sibling package: storage implements
``DocumentStore`` structurally, and the api plugs authentication in as an ``Extension``.
"""

from collab.config import CollabConfig
from collab.direct import DirectSession
from collab.errors import CloseCode, CollabError, Reject
from collab.extensions.persistence import DocumentStore, MemoryStore, Persistence
from collab.hooks import (
    AfterLoadDocument,
    AfterStoreDocument,
    AfterUnloadDocument,
    Authenticate,
    AwarenessChange,
    BeforeHandleMessage,
    BeforeUnloadDocument,
    Change,
    Connect,
    Disconnect,
    Extension,
    LoadDocument,
    Origin,
    Principal,
    StopHooks,
    StoreDocument,
)
from collab.server import CollabServer

__all__ = [
    "AfterLoadDocument",
    "AfterStoreDocument",
    "AfterUnloadDocument",
    "Authenticate",
    "AwarenessChange",
    "BeforeHandleMessage",
    "BeforeUnloadDocument",
    "Change",
    "CloseCode",
    "CollabConfig",
    "CollabError",
    "CollabServer",
    "Connect",
    "DirectSession",
    "Disconnect",
    "DocumentStore",
    "Extension",
    "LoadDocument",
    "MemoryStore",
    "Origin",
    "Persistence",
    "Principal",
    "Reject",
    "StopHooks",
    "StoreDocument",
]
