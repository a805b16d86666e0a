"""Log redaction: credentials that ride in URLs never reach the logs.

Browsers cannot set headers on a WebSocket, so y-websocket clients send the access token as
`?token=…`; uvicorn's access and error loggers print the request path with its query string.
`RedactSecrets` rewrites such values before a record is formatted. It is installed on the
handlers by the CLI (the composition root that configures logging), so it covers every logger.
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactSecrets", "redact"]

_SECRET_PARAM = re.compile(
    r"(?i)([?&](?:token|access_token|refresh_token|refreshToken)=)[^&\s\"']+"
)


def redact(text: str) -> str:
    """`text` with the values of credential query parameters replaced by `[redacted]`."""
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
