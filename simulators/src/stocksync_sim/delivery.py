"""Outbound signed HTTP deliveries with retries, shared by the Shopify and WMS simulators."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import anyio.lowlevel
import httpx

from stocksync_sim.webhook_client import WebhookClient

DeliveryStatus = Literal["pending", "delivered", "failed"]
Sleep = Callable[[float], Awaitable[None]]

MAX_IN_FLIGHT = 8
"""POSTs one Deliverer has in flight at most; the other deliveries wait on a semaphore.

Unbounded, every delivery's task called ``client.post`` at once and the backlog queued inside
httpcore's pool, whose every connection assignment scans queue x connections: at 200 orders/s
that took 77% of the Shopify simulator's CPU and webhook p50 to about a second (#18). With 32
the scan was still 39% of the busiest simulator's CPU (each assignment polls every pooled
connection's socket); 8 POSTs of a few ms each carry well over 1,000 deliveries/s."""


class PostAnswer(Protocol):
    @property
    def status_code(self) -> int: ...


class PostClient(Protocol):
    """What a Deliverer needs of its client: ``httpx.AsyncClient`` and ``WebhookClient`` both."""

    async def post(
        self,
        url: str,
        *,
        content: bytes,
        headers: dict[str, str],
        timeout: float,  # noqa: ASYNC109 - httpx.AsyncClient.post's keyword
    ) -> PostAnswer: ...


def delivery_limits(max_in_flight: int = MAX_IN_FLIGHT) -> httpx.Limits:
    """Limits for a Deliverer's httpx client: one pooled connection per POST in flight, so the
    pool never queues (the semaphore does)."""
    return httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)


@asynccontextmanager
async def delivery_client(
    max_in_flight: int = MAX_IN_FLIGHT, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[PostClient]:
    """A Deliverer's client: the simulators' own keep-alive HTTP/1.1 ``WebhookClient`` (a
    fraction of httpx's CPU per delivery, docs/decisions/0036), or, given a ``transport`` (the
    tests' seam: MockTransport, ASGITransport), ``httpx.AsyncClient`` over it."""
    if transport is None:
        async with WebhookClient(max_connections=max_in_flight) as client:
            yield client
        return
    limits = delivery_limits(max_in_flight)
    async with httpx.AsyncClient(transport=transport, trust_env=False, limits=limits) as http:
        yield http


async def warm() -> None:
    """Load now, at start, what httpx's default transport loads on its first request (anyio's
    asyncio backend: 100-150 ms of imports on the project's 2-core machine), not inside the
    first delivery: the first webhook of every idle series had been the slowest sale, for
    StockSync and the naive monolith alike (docs/profiling.md, ninth session). Deliveries go
    through ``WebhookClient`` now, which loads nothing on first use, but the apps' own first
    requests (starlette) and an httpx client given a transport still use that backend."""
    await anyio.lowlevel.checkpoint()


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC timestamp with millisecond precision and a ``Z`` suffix."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` tries whose waits grow exponentially and sum to ``window_seconds``.

    Shopify makes 8 tries over 4 hours; the simulator default squeezes that into seconds.
    """

    max_attempts: int = 8
    window_seconds: float = 3.0
    timeout_seconds: float = 5.0

    def delays(self) -> list[float]:
        """Waits before attempts 2..max_attempts."""
        waits = self.max_attempts - 1
        if waits <= 0:
            return []
        units = [2.0**index for index in range(waits)]
        scale = self.window_seconds / sum(units)
        return [unit * scale for unit in units]


@dataclass
class Attempt:
    at: str
    status_code: int | None
    error: str | None
    duration_ms: float

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 3),
        }


@dataclass
class Delivery:
    """One message and every attempt made to deliver it (redeliveries included)."""

    id: str
    url: str
    headers: dict[str, str]
    body: bytes
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: rfc3339(utc_now()))
    status: DeliveryStatus = "pending"
    attempts: list[Attempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "status": self.status,
            "created_at": self.created_at,
            "attempt_count": len(self.attempts),
            "attempts": [attempt.to_json() for attempt in self.attempts],
            "headers": dict(self.headers),
            "body": self.body.decode("utf-8"),
            **self.meta,
        }


class Deliverer:
    """POSTs deliveries, at most ``max_in_flight`` at a time; a non-2xx answer or a transport
    error (httpx's exception types, which ``WebhookClient`` raises too) is retried per the
    policy. Build the client with ``delivery_client(max_in_flight)``."""

    def __init__(
        self,
        client: PostClient,
        policy: RetryPolicy,
        sleep: Sleep = asyncio.sleep,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._client = client
        self.policy = policy
        self._sleep = sleep
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def client(self) -> PostClient:
        return self._client

    async def attempt(self, delivery: Delivery) -> bool:
        """One POST once a slot is free; records the attempt (its time and duration are the
        POST's, the wait for a slot excluded) and updates the delivery's status."""
        status_code: int | None = None
        error: str | None = None
        async with self._slots:
            started = time.perf_counter()
            at = rfc3339(utc_now())
            try:
                response = await self._client.post(
                    delivery.url,
                    content=delivery.body,
                    headers=delivery.headers,
                    timeout=self.policy.timeout_seconds,
                )
                status_code = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            duration_ms = (time.perf_counter() - started) * 1000
        delivery.attempts.append(Attempt(at, status_code, error, duration_ms))
        ok = status_code is not None and 200 <= status_code < 300
        if ok:
            delivery.status = "delivered"
        return ok

    async def _run(self, delivery: Delivery, first_done: bool) -> None:
        if not first_done and await self.attempt(delivery):
            return
        for wait in self.policy.delays():
            await self._sleep(wait)
            if await self.attempt(delivery):
                return
        delivery.status = "failed"

    def _spawn(self, delivery: Delivery, first_done: bool) -> None:
        task = asyncio.create_task(self._run(delivery, first_done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, delivery: Delivery, *, wait_first: bool = False) -> None:
        """Start delivering. With ``wait_first`` the first attempt completes before returning;
        retries always continue in the background."""
        delivery.status = "pending"
        if not wait_first:
            self._spawn(delivery, first_done=False)
            return
        if not await self.attempt(delivery):
            self._spawn(delivery, first_done=True)

    async def drain(self) -> None:
        """Wait until every delivery in flight has succeeded or exhausted its retries."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel retries still in flight (at shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
