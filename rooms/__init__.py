"""Live workshop rooms: participants, roles, chat, polls, Q&A, raised hands and signaling.

Built on collab documents and the media relay. Not built yet: it follows the notes work.
"""

__all__: list[str] = []
