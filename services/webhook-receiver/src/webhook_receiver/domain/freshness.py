"""How old a delivery may be: a replay defence beside the ledger's dedupe.

Shopify stamps every delivery with ``X-Shopify-Triggered-At`` and retries a failed one for
hours, not days; a WMS event carries its ``occurred_at`` inside the signed body. A delivery
older than the window (or stamped further ahead than clocks drift) is refused, so a captured
delivery cannot be sent again once its webhook id or event id has left the dedupe ledger:
the ledger keeps ids at least as long as the window (``Settings``).

Shopify's signature covers the body only, so for its deliveries the stamp is a header a
forger could rewrite; what it stops is a replay of a captured request as it was. The WMS
stamp is signed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FRACTION = re.compile(r"(\.\d{6})\d+")  # Shopify sends up to nanoseconds


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 instant with a zone (``Z`` or an offset); None if it is not one."""
    cleaned = _FRACTION.sub(r"\1", text.strip())
    try:
        at = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def staleness(at: datetime, now: datetime, max_age_s: float, max_skew_s: float) -> str | None:
    """Why a delivery stamped ``at`` is refused at ``now``; None when it is fresh enough.
    A stamp without a zone is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        age = (now - at).total_seconds()
    except OverflowError:  # near datetime's own limits
        return "delivery stamp out of range"
    if age > max_age_s:
        return f"delivery is {age:.0f} s old, more than the {max_age_s:.0f} s accepted"
    if -age > max_skew_s:
        return f"delivery is stamped {-age:.0f} s in the future"
    return None
