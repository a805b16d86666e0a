"""What the relay reads from a session description (RFC 8866), without I/O.

Only the media sections matter: their kind, ``a=mid`` (RFC 8843), direction and the media SSRC.
The SSRC is taken from the offer rather than from received RTP: the first keyframe request for a
new subscriber may need to go out before the publisher's first packet arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Section", "cap_bandwidth", "ice_ufrag", "sections"]

_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass(slots=True)
class Section:
    kind: str  # "audio", "video", "application"
    mid: str | None = None
    direction: str = "sendrecv"
    port: int = 9
    ssrcs: list[int] = field(default_factory=list)  # media SSRCs (RTX of an FID group dropped)

    @property
    def sends(self) -> bool:
        """Whether the offerer sends on this section (a port of 0 rejects it)."""
        return self.port != 0 and self.direction in ("sendrecv", "sendonly")

    @property
    def receives(self) -> bool:
        return self.port != 0 and self.direction in ("sendrecv", "recvonly")


def sections(sdp: str) -> list[Section]:
    """The media sections of ``sdp``, in order (malformed lines are skipped)."""
    found: list[Section] = []
    rtx: set[int] = set()
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            port = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 9
            found.append(Section(kind=parts[0] if parts else "", port=port))
        elif not found:
            continue
        elif line.startswith("a=mid:"):
            found[-1].mid = line[6:]
        elif line[2:] in _DIRECTIONS and line.startswith("a="):
            found[-1].direction = line[2:]
        elif line.startswith("a=ssrc-group:FID "):
            ids = line.split()[1:]
            rtx.update(int(i) for i in ids[1:] if i.isdigit())
        elif line.startswith("a=ssrc:"):
            head = line[7:].split(" ", 1)[0]
            if head.isdigit() and int(head) not in found[-1].ssrcs:
                found[-1].ssrcs.append(int(head))
    for section in found:
        section.ssrcs = [s for s in section.ssrcs if s not in rtx]
    return found


def ice_ufrag(sdp: str) -> str | None:
    """The first ``a=ice-ufrag`` of ``sdp`` (RFC 8839): a new value means a new connection."""
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("a=ice-ufrag:"):
            return line[len("a=ice-ufrag:"):]
    return None


def cap_bandwidth(sdp: str, kind: str, bits_per_second: int) -> str:
    """``sdp`` with every ``kind`` media section capped at ``bits_per_second``.

    The cap is written as ``b=AS`` (kbit/s, RFC 8866) and ``b=TIAS`` (bit/s, RFC 3890) right
    after the section's ``c=`` line (or its ``m=`` line when it has none), replacing any ``b=``
    lines it had: a browser applies the remote description's bandwidth as the ceiling of what it
    sends on that section, so the relay's answer caps a publisher without trusting the page.
    """
    out: list[str] = []
    newline = "\r\n" if "\r\n" in sdp else "\n"
    in_kind = pending = False
    caps = [f"b=AS:{max(1, bits_per_second // 1000)}", f"b=TIAS:{bits_per_second}"]
    for line in sdp.splitlines():
        if line.startswith("m="):
            if pending:
                out.extend(caps)
            in_kind = line[2:].split(" ", 1)[0] == kind
            pending = in_kind
            out.append(line)
            continue
        if in_kind and line.startswith("b="):
            continue  # replaced by the cap
        if pending and not line.startswith(("i=", "c=")):
            out.extend(caps)  # b= comes after i= and c=, before k= and a=
            pending = False
        out.append(line)
    if pending:
        out.extend(caps)
    return newline.join(out) + newline
