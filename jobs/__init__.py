"""Background jobs (compaction, exports, search indexing, transcription) and the arq worker composition root."""

__all__: list[str] = []
