"""The aiortc SFU-style relay: peer connections, encoded-frame forwarding and recording. Imports no sibling package."""

__all__: list[str] = []
