"""Yjs-compatible CRDT documents over the y-websocket protocol: the sans-I/O protocol, documents, connections, the hook model and the server that hosts them. Imports no sibling package."""

__all__: list[str] = []
