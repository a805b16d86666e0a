"""Live workshop rooms: participants, roles, chat, polls, Q&A, raised hands and media signaling, built on collab documents and the media relay."""

__all__: list[str] = []
