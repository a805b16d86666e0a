"""The built web app (`frontend/dist`), served the way a single-page app needs.

- Every GET/HEAD path outside the API that is not a file is the app itself: `index.html`
  (the router in the page decides, and shows its own 404 page). Paths under `/api/` (and
  `/collab/`, `/mux-local/`) never reach this route, so an unknown API path is the JSON 404
  of the error handlers and a wrong method there is a 405 naming the allowed ones.
- A file is sent precompressed when the build left a `.br` / `.gz` next to it and the client
  accepts that encoding (brotli first), with `Content-Encoding` and `Vary: Accept-Encoding`.
- `/assets/*` names carry a content hash: `Cache-Control: public, max-age=31536000, immutable`.
  Everything else (index.html, sw.js, favicon) is `no-cache`, so a new build is seen at once.
  A missing asset is a 404, never index.html (a module script answered with HTML breaks the page).
- Source maps are never served, even when a build left some behind.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
_NOT_APP = ("/api/", "/collab/", "/mux-local/")
_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))

PLACEHOLDER = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Workshop collab</title></head><body><h1>Workshop collab server is running</h1>
<p>The web frontend has not been built. Build it with <code>make frontend</code>
(or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>) and reload.</p>
<p>API documentation: <a href="/api/docs">/api/docs</a>,
<a href="/openapi.json">/openapi.json</a>; health: <a href="/api/health">/api/health</a>.</p>
</body></html>"""


def _accepted(header: str) -> set[str]:
    """Encodings the client accepts (q=0 excluded)."""
    accepted = set()
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        q = params.strip().removeprefix("q=")
        if name and not (params.strip().startswith("q=") and _is_zero(q)):
            accepted.add(name.strip().lower())
    return accepted


def _is_zero(q: str) -> bool:
    try:
        return float(q) == 0
    except ValueError:
        return False


class SpaFiles:
    """The app's files under `directory`; see the module docstring for the rules."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.built = (self.directory / "index.html").is_file()

    def _file(self, path: str) -> Path | None:
        """The regular file `path` names inside the directory, or None (no escaping it)."""
        relative = PurePosixPath(path.lstrip("/"))
        if any(part in {"..", ""} or part.startswith(".") for part in relative.parts):
            return None
        candidate = (self.directory / relative).resolve()
        if not candidate.is_relative_to(self.directory) or not candidate.is_file():
            return None
        return candidate

    def response(self, request: Request) -> Response:
        if request.method not in {"GET", "HEAD"}:
            return PlainTextResponse("method not allowed", 405, headers={"Allow": "GET, HEAD"})
        if not self.built:
            return HTMLResponse(PLACEHOLDER, headers={"Cache-Control": NO_CACHE})
        path = request.url.path
        name = PurePosixPath(path).name
        if name.endswith((".map", ".br", ".gz")):
            return PlainTextResponse("not found", 404)
        file = self._file(path) if path != "/" else None
        if file is not None:
            cache = IMMUTABLE if path.startswith("/assets/") else NO_CACHE
            return self._send(request, file, cache)
        if path.startswith("/assets/") or "." in name:
            return PlainTextResponse("not found", 404)
        return self._send(request, self.directory / "index.html", NO_CACHE)

    def _send(self, request: Request, file: Path, cache: str) -> Response:
        media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type == "application/javascript":
            media_type += "; charset=utf-8"
        headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
        accepted = _accepted(request.headers.get("accept-encoding", ""))
        for encoding, suffix in _ENCODINGS:
            compressed = file.with_name(file.name + suffix)
            if encoding in accepted and compressed.is_file():
                headers["Content-Encoding"] = encoding
                return FileResponse(compressed, media_type=media_type, headers=headers)
        return FileResponse(file, media_type=media_type, headers=headers)


class SpaRoute(BaseRoute):
    """Matches every HTTP path outside `/api/` and `/collab/`; put it after all other routes."""

    # the metrics' route label: every page path is one template
    path = "/{app path}"

    def __init__(self, directory: Path) -> None:
        self.files = SpaFiles(directory)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path: str = scope["path"]
        if path == "/api" or path.startswith(_NOT_APP):
            return Match.NONE, {}
        return Match.FULL, {}

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        raise NoMatchFound(name, dict(path_params))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.files.response(Request(scope, receive))
        await response(scope, receive, send)
