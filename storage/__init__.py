"""Durable state: the SQLModel schema and its Alembic migrations, one repository per noun,
the durable Yjs document update log and object storage (local folder or S3).

Everything here takes a :class:`Database` (or an :class:`ObjectStore`) explicitly; nothing is
built at import time. This package imports no sibling package.
"""

from storage.db import Database, connect, downgrade, migrate
from storage.tokens import Rotation, TokenInvalid, TokenRejected, TokenRepository, TokenReuse
from storage.users import EmailTaken, UserRepository

__all__ = [
    "Database",
    "EmailTaken",
    "Rotation",
    "TokenInvalid",
    "TokenRejected",
    "TokenRepository",
    "TokenReuse",
    "UserRepository",
    "connect",
    "downgrade",
    "migrate",
]
