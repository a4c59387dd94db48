"""One audit line per console action: who (the session label), what, and when (the log
line's timestamp). Never a secret, a cookie or a token."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter

log = logging.getLogger("ops_console.audit")

ACTIONS = Counter(
    "stocksync_console_actions_total", "Ops console actions (logins, replays, ...).", ["action"]
)


def audit(who: str, action: str, **detail: Any) -> None:
    ACTIONS.labels(action).inc()
    log.info("audit: %s", action, extra={"who": who, "action": action, **detail})
