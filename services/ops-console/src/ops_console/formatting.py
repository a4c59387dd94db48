"""Values as the pages print them (plain text; the templates escape it): times, numbers,
links' targets."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode


def href(path: str, **params: object) -> str:
    """``path`` with ``params`` (those not None) as its query, not yet escaped for HTML."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path


def when(ts: object) -> str:
    """Seconds or milliseconds since the epoch, as UTC text."""
    if not isinstance(ts, int | float) or ts <= 0:
        return "" if ts is None else str(ts)
    seconds = ts / 1000 if ts > 1e11 else ts
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def number(value: object) -> str:
    """A float without a needless ``.0``; None as ``-``."""
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) else str(int(value))
    return "-" if value is None else str(value)
