"""Shopify's GraphQL Admin API: one pooled httpx client, paced by each shop's cost bucket and
guarded by each shop's circuit breaker.

``POST {admin_base_url}/admin/api/{api_version}/graphql.json`` with
``X-Shopify-Access-Token`` (fixed, or expiring from the client credentials grant and
replaced before expiry and on a 401: ``adapters.tokens``); the API version is the store's
own (2026-10 by default).
A request waits until the shop's bucket holds its cost (see ``domain.pacing``). A query that
costs more than the bucket can hold (more than 1,000 points, or more than a bucket Shopify
cut for a while) is never sent: :class:`CostExceeded` tells the caller to send less per
query (:meth:`ShopifyClient.budget` says how much fits); so does Shopify's own
``MAX_COST_EXCEEDED``. A THROTTLED answer (HTTP 200 with ``errors[].extensions.code ==
"THROTTLED"``, or a 429) is sent again once the points it lacked are restored, never at
once; it never counts against the circuit. 5xx, timeouts and connection errors are transient
failures: they count against the circuit and are raised for the caller's backoff. GraphQL
errors in our own documents are :class:`QueryError`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from shopify_sync.adapters import metrics
from shopify_sync.adapters.documents import SHOP_PROBE
from shopify_sync.adapters.tokens import TokenError, TokenProvider
from shopify_sync.domain.pacing import (
    EPSILON,
    Clock,
    CostBucket,
    ThrottleStatus,
    actual_cost,
    requested_cost,
)
from stocksync_common.breaker import CircuitBreaker, State
from stocksync_common.stores import Store

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]
PROBE = "ShopProbe"


class ShopifyError(Exception):
    """Talking to one shop failed."""


class TransientError(ShopifyError):
    """5xx, timeout, connection error, refused credentials, or throttled for too long."""


class CircuitOpen(ShopifyError):  # noqa: N818 - the state's name
    def __init__(self, shop: str, wait_s: float) -> None:
        super().__init__(f"{shop}: circuit open, next probe in {wait_s:.2f}s")
        self.wait_s = wait_s


class QueryError(ShopifyError):
    """Shopify refused the document itself (a bug on our side, never retried as is)."""


class CostExceeded(ShopifyError):  # noqa: N818 - Shopify's name for it
    """A query costs more than one query may cost at this shop now: send less per query."""

    def __init__(self, shop: str, operation: str, cost: float, limit: float) -> None:
        super().__init__(f"{shop}: {operation} costs {cost:.0f}, more than {limit:.0f}")
        self.cost = cost
        self.limit = limit


@dataclass
class ShopLimits:
    bucket: CostBucket
    breaker: CircuitBreaker
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    settled: asyncio.Event = field(default_factory=asyncio.Event)


BreakerFactory = Callable[[str, Clock], CircuitBreaker]


def default_breaker(shop: str, clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(clock=clock, max_open_s=60.0, on_change=metrics.circuit_listener(shop))


@dataclass
class ShopifyClient:
    http: httpx.AsyncClient
    clock: Clock = time.monotonic
    sleep: Sleep = asyncio.sleep
    breaker_factory: BreakerFactory = default_breaker
    max_throttle_retries: int = 20
    limits: dict[str, ShopLimits] = field(default_factory=dict)
    # requestedQueryCost / our estimate, per (shop, operation), where Shopify asked more
    factors: dict[tuple[str, str], float] = field(default_factory=dict)
    tokens: TokenProvider | None = None  # None: one on this client's http and clock

    def __post_init__(self) -> None:
        if self.tokens is None:
            self.tokens = TokenProvider(self.http, self.clock)

    def shop(self, shop: str) -> ShopLimits:
        limits = self.limits.get(shop)
        if limits is None:
            limits = ShopLimits(CostBucket(self.clock), self.breaker_factory(shop, self.clock))
            self.limits[shop] = limits
            metrics.CIRCUIT_STATE.labels(shop).set(0)
        return limits

    def factor(self, shop: str, operation: str) -> float:
        return self.factors.get((shop, operation), 1.0)

    def over_ceiling(self, shop: str, operation: str, cost: float) -> float | None:
        """The points a call of ``cost`` by our estimate asks of ``shop`` when they are more
        than one query may cost there as last learned (None: they fit, or nothing is learned
        yet); such a call would be refused unsent (:class:`CostExceeded`)."""
        bucket = self.shop(shop).bucket
        need = cost * self.factor(shop, operation)
        if bucket.known and need > bucket.ceiling() + EPSILON:
            return need
        return None

    async def budget(self, store: Store, operation: str, share: float = 1.0) -> float:
        """What one ``operation`` may cost by our estimate at this shop now: the bucket's
        ceiling (1,000 points, or the bucket's size when smaller; ``share`` of the bucket at
        most), over what Shopify asked beyond our estimates before. Learns the bucket first."""
        limits = self.shop(store.shop)
        if not limits.bucket.known:
            await self.execute(store, SHOP_PROBE, {}, operation=PROBE, cost=1.0)
        return limits.bucket.ceiling(share) / self.factor(store.shop, operation)

    async def execute(
        self,
        store: Store,
        document: str,
        variables: dict[str, Any],
        *,
        operation: str,
        cost: float,
    ) -> dict[str, Any]:
        """Run one document; the ``data`` of the answer. ``cost`` is the requested cost we
        expect (scaled up by what Shopify asked beyond our estimate for ``operation`` before).
        :class:`CostExceeded` when it is more than one query may cost at this shop now."""
        limits = self.shop(store.shop)
        if not limits.breaker.allow():
            raise CircuitOpen(store.shop, limits.breaker.wait_s())
        try:
            data = await self._paced(store, limits, document, variables, operation, cost)
        except TransientError:
            limits.breaker.failure()
            raise
        except QueryError:
            limits.breaker.success()  # the shop answered; our document is the problem
            raise
        except BaseException:
            limits.breaker.release()
            raise
        limits.breaker.success()
        return data

    async def ready_for(self, shop: str, cost: float) -> None:
        """Wait until ``shop``'s bucket could take ``cost`` now, reserving nothing. A caller
        that builds its request from data still arriving waits here first and builds it
        after: what arrived during the wait goes out in that call, not in the next one
        (a store on a small plan then waits one bucket refill per write, not two)."""
        limits = self.shop(shop)
        while limits.bucket.known and cost <= limits.bucket.ceiling() + EPSILON:
            delay = limits.bucket.delay_for(cost)
            if delay == 0.0:
                return
            await self._wait(limits, delay)

    async def _wait(self, limits: ShopLimits, delay: float | None) -> None:
        """``delay`` seconds, or (None) until an answer in flight frees points (1 s at most)."""
        if delay is None:
            limits.settled.clear()
            try:
                await asyncio.wait_for(limits.settled.wait(), timeout=1.0)
            except TimeoutError:
                pass
        else:
            await self.sleep(delay)

    async def _acquire(self, shop: str, operation: str, limits: ShopLimits, cost: float) -> None:
        async with limits.turn:  # callers of one shop are served in order
            while True:
                ceiling = limits.bucket.ceiling()
                if cost > ceiling + EPSILON:  # refused whenever sent: no wait would help
                    metrics.CALLS.labels(shop, "too_costly").inc()
                    raise CostExceeded(shop, operation, cost, ceiling)
                delay = limits.bucket.delay_for(cost)
                if delay == 0.0:
                    limits.bucket.reserve(cost)
                    return
                await self._wait(limits, delay)

    async def _paced(
        self,
        store: Store,
        limits: ShopLimits,
        document: str,
        variables: dict[str, Any],
        operation: str,
        cost: float,
    ) -> dict[str, Any]:
        shop = store.shop
        if not limits.bucket.known and operation != PROBE:
            await self._paced(store, limits, SHOP_PROBE, {}, PROBE, 1.0)
        for _ in range(self.max_throttle_retries + 1):
            need = cost * self.factor(shop, operation)
            await self._acquire(shop, operation, limits, need)
            status_code, body, retry_after = await self._post_settling(
                store, limits, need, document, variables, operation
            )
            if status_code == 429:
                metrics.THROTTLED.labels(shop).inc()
                if not limits.bucket.known:
                    await self.sleep(retry_after or 1.0)
                continue
            requested = requested_cost(body) or _error_number(body, "MAX_COST_EXCEEDED", "cost")
            if requested is not None and cost > 0 and requested > need:
                self.factors[(shop, operation)] = requested / cost
            if _has_code(body, "MAX_COST_EXCEEDED"):
                limit = _error_number(body, "MAX_COST_EXCEEDED", "maxCost")
                if limit is not None:
                    limits.bucket.too_costly(limit)
                metrics.CALLS.labels(shop, "max_cost_exceeded").inc()
                log.warning("MAX_COST_EXCEEDED", extra={"shop": shop, "operation": operation})
                raise CostExceeded(shop, operation, requested or need, limits.bucket.ceiling())
            if _has_code(body, "THROTTLED"):
                metrics.THROTTLED.labels(shop).inc()
                log.warning("THROTTLED", extra={"shop": shop, "operation": operation})
                limits.bucket.refused(max(need, requested or 0.0))  # the retry waits for them
                continue
            return self._data(shop, operation, body)
        raise TransientError(f"{shop}: still THROTTLED after {self.max_throttle_retries} waits")

    async def _post_settling(
        self,
        store: Store,
        limits: ShopLimits,
        cost: float,
        document: str,
        variables: dict[str, Any],
        operation: str,
    ) -> tuple[int, dict[str, Any], float | None]:
        status: ThrottleStatus | None = None
        try:
            status_code, body, retry_after = await self._post(store, document, variables, operation)
            status = ThrottleStatus.parse(body)
            if status_code == 429 and status is None:
                limits.bucket.drained()
            return status_code, body, retry_after
        finally:
            limits.bucket.settle(cost, status)
            limits.settled.set()
            metrics.observe_bucket(store.shop, limits.bucket)

    async def _post(
        self, store: Store, document: str, variables: dict[str, Any], operation: str
    ) -> tuple[int, dict[str, Any], float | None]:
        """Send with the store's access token (``adapters.tokens``); an expiring token that
        Shopify refuses (401) is replaced and the request sent once more: a 401 ran nothing."""
        tokens = self.tokens
        assert tokens is not None  # noqa: S101 - set in __post_init__
        for _ in range(2):
            try:
                token = await tokens.token(store)
            except TokenError as exc:
                metrics.CALLS.labels(store.shop, "no_token").inc()
                raise TransientError(str(exc)) from exc
            sent = await self._post_with(store, token, document, variables, operation)
            if sent is not None:
                return sent
            tokens.refused(store, token)
        log.error("Shopify refused a fresh access token", extra={"shop": store.shop})
        raise TransientError(f"{store.shop}: HTTP 401")

    async def _post_with(
        self, store: Store, token: str, document: str, variables: dict[str, Any], operation: str
    ) -> tuple[int, dict[str, Any], float | None] | None:
        """One request; None when Shopify refused an expiring token (401), to replace it."""
        headers = {"X-Shopify-Access-Token": token, "Content-Type": "application/json"}
        # orjson, not httpx's json= (the standard library's encoder): a push round's
        # variables hold up to 250 quantities, and their encoding was 4% of shopify-sync's
        # samples at the knee (docs/profiling.md, fourteenth session)
        body = orjson.dumps({"query": document, "variables": variables, "operationName": operation})
        started = time.perf_counter()
        try:
            resp = await self.http.post(store.graphql_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            metrics.CALLS.labels(store.shop, "transport").inc()
            raise TransientError(f"{store.shop}: {type(exc).__name__}") from exc
        finally:
            metrics.CALL_SECONDS.labels(store.shop).observe(time.perf_counter() - started)
        if resp.status_code == 401 and store.access_token is None:
            metrics.CALLS.labels(store.shop, "token_refused").inc()
            return None
        if resp.status_code >= 500 or resp.status_code in (401, 403):
            metrics.CALLS.labels(store.shop, f"http_{resp.status_code}").inc()
            if resp.status_code in (401, 403):
                log.error("Shopify refused the credentials", extra={"shop": store.shop})
            raise TransientError(f"{store.shop}: HTTP {resp.status_code}")
        try:
            answer = orjson.loads(resp.content)
        except ValueError:
            answer = {}
        if resp.status_code == 429:
            return 429, answer if isinstance(answer, dict) else {}, _retry_after(resp)
        if resp.status_code >= 400 or not isinstance(answer, dict):
            metrics.CALLS.labels(store.shop, f"http_{resp.status_code}").inc()
            raise QueryError(f"{store.shop}: HTTP {resp.status_code}")
        return resp.status_code, answer, None

    def _data(self, shop: str, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        metrics.POINTS.labels(shop).inc(actual_cost(body))
        errors = body.get("errors")
        if errors and _has_code(body, "INTERNAL_SERVER_ERROR"):
            metrics.CALLS.labels(shop, "internal_error").inc()
            raise TransientError(f"{shop}: internal error answering {operation}")
        data = body.get("data")
        if errors and not data:
            metrics.CALLS.labels(shop, "query_error").inc()
            raise QueryError(f"{shop} refused {operation}: {str(errors)[:500]}")
        metrics.CALLS.labels(shop, "ok").inc()
        return data if isinstance(data, dict) else {}

    def circuit(self, shop: str) -> State:
        return self.shop(shop).breaker.state


def _has_code(body: dict[str, Any], code: str) -> bool:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return False
    return any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == code for e in errors
    )


def _error_number(body: dict[str, Any], code: str, key: str) -> float | None:
    """A number in the extensions of the error with ``code`` (MAX_COST_EXCEEDED carries
    ``cost`` and ``maxCost``)."""
    errors = body.get("errors")
    for error in errors if isinstance(errors, list) else []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if isinstance(extensions, dict) and extensions.get("code") == code:
            value = extensions.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return None


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None
