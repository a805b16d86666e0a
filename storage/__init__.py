"""Durable state: the SQLModel schema and its Alembic migrations, one repository per noun,
the durable Yjs document update log and object storage (local folder or S3).

Everything here takes a :class:`Database` (or an object store) explicitly; nothing is built at
import time. This package imports no sibling package.
"""

from storage.db import Database, connect, downgrade, migrate
from storage.documents import DocumentLog
from storage.errors import UnknownReference
from storage.lessons import LessonOutline, LessonRepository
from storage.modules import ModuleRepository
from storage.notes import Access, NoteHit, NoteRepository, VersionConflict
from storage.objects import (
    FileObjectStore,
    ObjectNotFound,
    ObjectStore,
    S3ObjectStore,
    open_object_store,
)
from storage.progress import ProgressRepository, ProgressSave
from storage.recordings import RecordingRepository
from storage.sessions import LiveSessionRepository
from storage.tokens import Rotation, TokenInvalid, TokenRejected, TokenRepository, TokenReuse
from storage.users import EmailTaken, UserRepository
from storage.versions import NoteVersion, VersionInfo, VersionRepository

__all__ = [
    "Access",
    "Database",
    "DocumentLog",
    "EmailTaken",
    "FileObjectStore",
    "LessonOutline",
    "LessonRepository",
    "LiveSessionRepository",
    "ModuleRepository",
    "NoteHit",
    "NoteRepository",
    "NoteVersion",
    "ObjectNotFound",
    "ObjectStore",
    "ProgressRepository",
    "ProgressSave",
    "RecordingRepository",
    "Rotation",
    "S3ObjectStore",
    "TokenInvalid",
    "TokenRejected",
    "TokenRepository",
    "TokenReuse",
    "UnknownReference",
    "UserRepository",
    "VersionConflict",
    "VersionInfo",
    "VersionRepository",
    "connect",
    "downgrade",
    "migrate",
    "open_object_store",
]
