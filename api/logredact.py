"""Log privacy: credentials and what users typed never reach the logs.

Browsers cannot set headers on a WebSocket, so y-websocket clients send the access token as
`?token=…`; uvicorn's access and error loggers print the request path with its query string,
which also carries search words (`?q=…`) and email addresses. `RedactSecrets` rewrites such
values before a record is formatted. Libraries that print SQL parameters, request bodies or
response headers at DEBUG (aiosqlite, botocore, httpx/httpcore, openai) are kept at WARNING
whatever COLLAB_LOG_LEVEL says. `install_log_privacy` does both; the CLI (the composition root
that configures logging) calls it, so it covers every logger. Our own log lines name ids, never
content, tokens or email addresses (tests/api/test_log_privacy.py).
"""

from __future__ import annotations

import logging
import re

__all__ = ["QUIET_LIBRARIES", "RedactSecrets", "install_log_privacy", "redact"]

_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:token|access_token|refresh_token|refreshToken|q|email|search)=)[^&\s\"']+"
)

QUIET_LIBRARIES = ("aiosqlite", "botocore", "boto3", "s3transfer", "urllib3", "httpcore",
                   "httpx", "openai", "hpack", "multipart", "python_multipart")


def redact(text: str) -> str:
    """`text` with the values of credential and personal query parameters (token, search
    words, email) replaced by `[redacted]`."""
    if "=" not in text:  # every secret parameter has one: most log arguments are names, ids
        return text
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """A handler filter that redacts credential query parameters in message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            args = record.args.items()
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in args}
        return True


def install_log_privacy(handlers: list[logging.Handler]) -> None:
    """Redact on ``handlers`` and keep the chatty libraries at WARNING."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
