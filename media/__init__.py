"""Live media: an aiortc relay forwarding encoded audio, camera and screen tracks from each
room's publishers to its subscribers, and recording them by remuxing (docs/media.md).

Imports no sibling package. The room side (who may publish, the signaling actions) is
``rooms.media``; this package knows peer connections, tracks and packets. aiortc and PyAV are
imported when the relay makes its first peer connection. ``samplevideo`` (the sample course's
HLS videos) lives here too, for its PyAV use.
"""

from media.config import IceServer, MediaRefused, RelayLimits
from media.relay import MediaRelay

__all__ = ["IceServer", "MediaRefused", "MediaRelay", "RelayLimits"]
