"""What stands before the WMS REST API: fault switches, API-key auth and a rate limit."""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import HTTPException
from pydantic import BaseModel, Field


class FaultsIn(BaseModel):
    fail_next: int | None = Field(default=None, ge=0, description="answer N requests with 5xx")
    fail_status: int | None = Field(default=None, ge=500, le=599)
    slow_next: int | None = Field(
        default=None, ge=0, description="apply N requests but answer only after slow_s"
    )
    slow_s: float | None = Field(default=None, ge=0)
    down: bool | None = None
    rate_limit_per_s: float | None = Field(default=None, gt=0)


@dataclass
class Faults:
    fail_next: int = 0
    fail_status: int = 503
    slow_next: int = 0
    slow_s: float = 10.0
    down: bool = False

    def update(self, body: FaultsIn) -> None:
        for name, value in body.model_dump(exclude_none=True).items():
            if hasattr(self, name):
                setattr(self, name, value)

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class RateLimit:
    """A token bucket per API key: ``per_s`` requests a second, bursts of the same size."""

    per_s: float = 50.0
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def retry_after(self, key: str) -> float:
        """0 when the request may pass (and takes a token), else seconds until it may."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.per_s, now))
        tokens = min(self.per_s, tokens + (now - at) * self.per_s)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.per_s


@dataclass
class Guard:
    api_key: str
    faults: Faults = field(default_factory=Faults)
    limit: RateLimit = field(default_factory=RateLimit)
    refused: dict[str, int] = field(default_factory=dict)  # by reason, for tests and ops

    def _refuse(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        raise HTTPException(status, reason, headers)

    def check(self, api_key: str | None) -> None:
        """Faults first (the outage is in front of everything), then auth, then the limit."""
        if self.faults.down:
            self._refuse(503, "down")
        if self.faults.fail_next > 0:
            self.faults.fail_next -= 1
            self._refuse(self.faults.fail_status, "injected failure")
        if api_key is None or not hmac.compare_digest(api_key.encode(), self.api_key.encode()):
            self._refuse(401, "invalid API key")
        wait = self.limit.retry_after(api_key or "")
        if wait > 0:
            self._refuse(429, "rate limited", {"Retry-After": str(max(1, math.ceil(wait)))})

    async def after(self) -> None:
        """A slow answer: the request was applied, the caller may time out first."""
        if self.faults.slow_next > 0:
            self.faults.slow_next -= 1
            await asyncio.sleep(self.faults.slow_s)
