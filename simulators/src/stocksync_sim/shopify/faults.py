"""Fault switches per store, set over HTTP (``POST /_sim/faults``) by tests and the bench.

- ``error_rate`` (0..1) of requests answer ``error_status`` (default 503) without running;
- ``timeout_rate`` of requests hang ``hang_s`` seconds (longer than any client timeout),
  ``timeout_mode`` "before" (nothing applied) or "after" (applied, the answer is lost: the
  case ``@idempotent`` exists for), then answer 504;
- ``latency_ms`` added to every request;
- ``throttle_storm``: every request finds the bucket empty (Shopify lowering limits), so
  it answers THROTTLED with a real ``throttleStatus``;
- ``fail_mutations``: the named catalog mutations fail with ``INTERNAL_SERVER_ERROR``
  (each only its first ``fail_mutation_times`` calls when that is above 0).

Draws come from a seeded RNG so a run is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TimeoutMode = Literal["before", "after"]


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_status: int = Field(default=503, ge=500, le=599)
    timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    timeout_mode: TimeoutMode = "before"
    hang_s: float = Field(default=30.0, ge=0.0)
    latency_ms: float = Field(default=0.0, ge=0.0)
    throttle_storm: bool = False
    # Mutation root fields (e.g. "metafieldsSet") answering INTERNAL_SERVER_ERROR (see catalog).
    fail_mutations: list[str] = Field(default_factory=list)
    fail_mutation_times: int = Field(default=0, ge=0)  # 0: every call fails
    seed: int | None = None


class FaultsIn(FaultSpec):
    shop: str = Field(min_length=1)


@dataclass
class Decision:
    """What the faults decided for one request."""

    latency_s: float = 0.0
    error_status: int | None = None
    hang_s: float = 0.0
    hang_after: bool = False
    throttle_storm: bool = False


@dataclass
class Faults:
    spec: FaultSpec = field(default_factory=FaultSpec)
    rng: random.Random = field(default_factory=random.Random)

    failed: dict[str, int] = field(default_factory=dict)  # mutation -> failures injected

    def configure(self, spec: FaultSpec) -> None:
        self.spec = spec
        self.failed = {}
        self.rng = random.Random(spec.seed)  # noqa: S311 - simulation, not security

    def fails(self, mutation: str) -> bool:
        """Whether this call of ``mutation`` is one to fail (counted when it is)."""
        spec = self.spec
        done = self.failed.get(mutation, 0)
        if mutation not in spec.fail_mutations or 0 < spec.fail_mutation_times <= done:
            return False
        self.failed[mutation] = done + 1
        return True

    def _hit(self, rate: float) -> bool:
        return rate >= 1.0 or (rate > 0.0 and self.rng.random() < rate)

    def decide(self) -> Decision:
        spec = self.spec
        decision = Decision(latency_s=spec.latency_ms / 1000.0, throttle_storm=spec.throttle_storm)
        if self._hit(spec.error_rate):
            decision.error_status = spec.error_status
        elif self._hit(spec.timeout_rate):
            decision.hang_s = spec.hang_s
            decision.hang_after = spec.timeout_mode == "after"
        return decision

    def to_json(self) -> dict[str, Any]:
        return self.spec.model_dump()


@dataclass
class StoreStats:
    """Counters since start or the last reset: what the bench and the tests read."""

    requests: int = 0
    throttled: int = 0
    points: float = 0.0  # actual cost charged
    mutations: int = 0
    quantities_set: int = 0
    injected_errors: int = 0
    injected_timeouts: int = 0
    tokens_issued: int = 0  # by the client credentials grant (oauth.py)
    expired_tokens_refused: int = 0  # GraphQL requests answered 401 for an expired token
    status: dict[str, int] = field(default_factory=dict)
    first_at: float | None = None
    last_at: float | None = None

    def count(self, at: float, status_code: int, body: Any) -> None:
        self.requests += 1
        self.status[str(status_code)] = self.status.get(str(status_code), 0) + 1
        self.first_at = at if self.first_at is None else self.first_at
        self.last_at = at
        if not isinstance(body, dict):
            return
        errors = body.get("errors")
        if isinstance(errors, list) and any(
            isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED"
            for e in errors
        ):
            self.throttled += 1
        cost = (body.get("extensions") or {}).get("cost") or {}
        actual = cost.get("actualQueryCost")
        if isinstance(actual, int | float):
            self.points += float(actual)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "points": self.points,
            "mutations": self.mutations,
            "quantities_set": self.quantities_set,
            "injected_errors": self.injected_errors,
            "injected_timeouts": self.injected_timeouts,
            "tokens_issued": self.tokens_issued,
            "expired_tokens_refused": self.expired_tokens_refused,
            "status": dict(self.status),
            "first_at": self.first_at,
            "last_at": self.last_at,
        }
