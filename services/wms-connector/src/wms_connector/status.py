"""What ops see of the outbound path: counts, the circuit, the latest failures."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from stocksync_common.breaker import CircuitBreaker
from stocksync_common.events import utcnow
from wms_connector.metrics import WMS_ORDERS


@dataclass
class OutboundStatus:
    breaker: CircuitBreaker
    counts: dict[str, int] = field(default_factory=dict)
    failures: deque[dict[str, str]] = field(default_factory=lambda: deque(maxlen=50))

    def record(self, action: str, outcome: str) -> None:
        name = f"{action}:{outcome}"
        self.counts[name] = self.counts.get(name, 0) + 1
        WMS_ORDERS.labels(action, outcome).inc()

    def failed(self, action: str, ref: str, error: str) -> None:
        self.record(action, "failed")
        self.failures.append(
            {"action": action, "ref": ref, "error": error, "at": utcnow().isoformat()}
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "circuit": self.breaker.state.value,
            "circuit_retry_in_s": round(self.breaker.wait_s(), 3),
            "consecutive_failures": self.breaker.failures,
            "counts": dict(sorted(self.counts.items())),
            "recent_failures": list(self.failures),
        }
