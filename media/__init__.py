"""The aiortc SFU-style relay: peer connections, encoded-frame forwarding and recording.

Imports no sibling package. Not built yet: live rooms and media come after the notes work.
"""

__all__: list[str] = []
