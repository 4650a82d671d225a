"""How long a medium must be kept (DOMAIN.md, "Deadlines and retention").

At least 6 months (183 days) from when it was recorded (from when it was stored, when the
recording time is unknown). Permanently when it is evidence: associated with a case, marked
important by the officer or a reviewer, or under legal hold. Deletion is by policy only,
so this only ever says "not before"; None means never.
"""

from __future__ import annotations

from datetime import datetime, timedelta

DEFAULT_RETENTION = timedelta(days=183)


def retention_until(
    *,
    recorded_start: datetime | None,
    ingested_at: datetime,
    important: bool,
    in_case: bool,
    legal_hold: bool,
) -> datetime | None:
    """The time before which the medium must not be deleted; None: keep permanently."""
    if important or in_case or legal_hold:
        return None
    return (recorded_start or ingested_at) + DEFAULT_RETENTION
