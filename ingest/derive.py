"""Everything derived from a staged original: probe, browser proxy, thumbnail.

A file that cannot be probed or converted is never dropped: it is registered with
`playable: false` and the reason, its original bytes kept as evidence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import FfmpegTimeout, ProbeError, TranscodeError
from ingest.probe import ProbeResult, probe
from ingest.proxy import make_proxy
from ingest.thumbnail import make_thumbnail
from wire.media_kinds import MediaKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Derived:
    probe: ProbeResult | None
    proxy_path: Path | None
    proxy_content_type: str | None
    thumbnail_path: Path | None
    playable: bool
    unplayable_reason: str | None


def derive(original: Path, kind: MediaKind, workdir: Path) -> Derived:
    """Probe `original` and make its proxy and thumbnail in `workdir`."""
    try:
        probed = probe(original, kind=kind)
    except (ProbeError, FfmpegTimeout) as exc:
        return Derived(None, None, None, None, playable=False, unplayable_reason=str(exc))
    except Exception as exc:  # a bug must not keep evidence from being registered
        log.exception("probing %s failed unexpectedly", original)
        return Derived(None, None, None, None, False, f"probe failed unexpectedly: {exc!r}")

    proxy = None
    reason = None
    try:
        proxy = make_proxy(original, workdir / "proxy", probed, kind)
    except (TranscodeError, FfmpegTimeout) as exc:
        reason = f"browser proxy could not be made: {exc}"
    except Exception as exc:
        log.exception("proxy of %s failed unexpectedly", original)
        reason = f"browser proxy failed unexpectedly: {exc!r}"

    thumbnail = None
    try:
        thumbnail = make_thumbnail(original, workdir / "thumbnail.jpg", probed, kind)
    except Exception as exc:
        # A missing thumbnail costs a picture in a list, not playability.
        log.warning("thumbnail of %s failed: %r", original, exc)

    return Derived(
        probe=probed,
        proxy_path=proxy.path if proxy else None,
        proxy_content_type=proxy.content_type if proxy else None,
        thumbnail_path=thumbnail,
        playable=reason is None,
        unplayable_reason=reason,
    )
