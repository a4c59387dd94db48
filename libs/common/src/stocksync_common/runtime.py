"""The service runtime: a service describes what it runs, :func:`create_service_app` runs it.

A service's ``bootstrap.service(settings)`` returns a :class:`Service`: how to build its
container (the clients, wired into handlers), its consumers as data (group, topics, handler,
on-assign hook, retry policy, fetch tuning), its background tasks, readiness checks, what to
close, and its routers. :func:`create_service_app` builds the FastAPI app with the probes,
``/metrics`` and the DLQ API for the service's groups, and one lifespan: an
``AsyncExitStack`` that starts the parts in this order and closes them in reverse:

1. the container (``build``), its closers and readiness checks;
2. ``on_start`` (work that must be done before anything consumes: seeding, topics);
3. the producer, then each consumer with its supervised loop;
4. the background tasks, then the service's own contexts (e.g. lanes, a job runner).

So a task or lane stops before the consumers feeding it, the consumers before the producer
they publish retries and dead letters with, and the clients close last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar, cast

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI

from stocksync_common import gc_tuning, taskdump
from stocksync_common.accounts.store import Accounts
from stocksync_common.accounts.throttle import BearerThrottle
from stocksync_common.client_start import start_whole
from stocksync_common.consumer import (
    FETCH_MAX_WAIT_MS,
    AssignHook,
    BatchHandler,
    ConsumerLoop,
    Decoder,
    ManyHandler,
    RetryPolicy,
    make_consumer,
)
from stocksync_common.dlq.api import dlq_router
from stocksync_common.events import decode
from stocksync_common.ops import Check, FamilyCheck, Health, ops_router
from stocksync_common.redis_client import connect_settings
from stocksync_common.redis_keys import RedisKeys, with_common
from stocksync_common.redis_unavailable import answer_redis_failures
from stocksync_common.service import consumer_running, kafka_check, supervise
from stocksync_common.settings import CommonSettings
from stocksync_common.topics import Registered

log = logging.getLogger(__name__)

C = TypeVar("C")
S = TypeVar("S", bound=CommonSettings)
Closer = Callable[[], Awaitable[Any]]
TASK_STOP_S = 10.0


class Client(Protocol):
    """A client the runtime starts and stops (the producer; a fake in tests)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


# For a consumer off the sale's path: the broker answers a fetch once 256 KiB arrived or a
# quarter of a second passed, so a moderate flow comes in batches, not a fetch and a handler
# call per record (about a millisecond of CPU each, per group, on the cores the sale needs).
OFF_PATH_FETCH_MIN_BYTES = 256 * 1024
OFF_PATH_FETCH_MAX_WAIT_MS = 250


@dataclass(frozen=True)
class Consumer(Generic[C]):
    """One consumer group of a service: what it reads and what handles it.

    ``fetch_max_wait_ms`` and ``max_poll_records`` are the consumer's tuning (see
    :func:`stocksync_common.consumer.make_consumer`); ``enabled`` False declares a group (its
    DLQ stays listed) that this configuration does not run; ``decode`` parses its records
    (the shared events by default; a topic with an event of the service's own needs the
    service's decoder)."""

    group: str
    topics: tuple[str, ...]
    handler: Callable[[C], BatchHandler]
    name: str = "consumer"
    # the handler of a whole fetch, every partition's batch in one call (ConsumerLoop)
    handler_many: Callable[[C], ManyHandler] | None = None
    on_assign: Callable[[C], AssignHook] | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS  # an idle group's polling, not a record's wait
    max_poll_records: int = 2000
    fetch_min_bytes: int = 1  # more: batches off the sale's path (make_consumer)
    enabled: bool = True
    decode: Decoder = decode


@dataclass(frozen=True)
class Task:
    """A background coroutine. ``stop`` (if any) asks it to finish and it is awaited up to
    :data:`TASK_STOP_S` before being cancelled; a supervised task's death fails liveness."""

    name: str
    run: Callable[[], Coroutine[Any, Any, None]]
    stop: Callable[[], None] | None = None
    supervised: bool = True


def _nothing(_c: object) -> tuple[()]:
    return ()


def _no_checks(_c: object) -> dict[str, Check]:
    return {}


def _no_families(_c: object) -> dict[str, FamilyCheck]:
    return {}


@dataclass(frozen=True)
class Service(Generic[C]):
    """Everything :func:`create_service_app` needs to know about a service."""

    settings: CommonSettings
    build: Callable[[], C]
    # The app's title; empty: "StockSync <service name>".
    title: str = ""
    consumers: Sequence[Consumer[C]] = ()
    # Started before the consumers, stopped after them; a consuming service's is an
    # AIOKafkaProducer (its loops publish retries and dead letters with it).
    producer: Callable[[C], Client] | None = None
    # Bound the producer's stop (it flushes; a broker may be gone for good); None: unbounded.
    producer_stop_timeout_s: float | None = None
    checks: Callable[[C], Mapping[str, Check]] = _no_checks
    # Not readiness: the DLQ replayer's checks of dependencies named ``<family>:<argument>``.
    replay_families: Callable[[C], Mapping[str, FamilyCheck]] = _no_families
    # Closed last, in reverse order of the list.
    closers: Callable[[C], Sequence[Closer]] = _nothing
    on_start: Callable[[C], Awaitable[None]] | None = None
    tasks: Callable[[C], Sequence[Task]] = _nothing
    contexts: Callable[[C], Sequence[contextlib.AbstractAsyncContextManager[Any]]] = _nothing
    routers: Sequence[APIRouter] = ()
    # Groups that dead-letter what they could not publish without consuming anything.
    producer_dlq_groups: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # The topics it publishes to, and those it reads without a group (retry and DLQ topics
    # follow from the groups): the Kafka ACLs of its user are made from these and the groups.
    produces: Sequence[str] = ()
    reads: Sequence[str] = ()
    # The Redis keys it touches itself: its Redis user is made from these and what libs/common
    # does for it (stocksync_common.redis_keys.with_common).
    redis_keys: RedisKeys = RedisKeys()
    dlq_auto_replay: bool = True
    # False: no /admin/dlq routes (webhook-receiver in production: it faces the internet).
    dlq_api: bool = True
    # False: the service mounts its own ``/metrics`` (webhook-receiver sums its workers).
    metrics: bool = True
    app_class: type[FastAPI] = FastAPI
    app_options: Mapping[str, Any] = field(default_factory=dict)

    def registered(self) -> Registered:
        """The groups of the service (all it declares, enabled or not) with their topics, and
        its Redis keys when it uses Redis."""
        found = Registered(
            {c.group: tuple(c.topics) for c in self.consumers},
            {g: tuple(ts) for g, ts in self.producer_dlq_groups.items()},
            tuple(self.produces),
            tuple(self.reads),
        )
        if not self.settings.uses_redis:
            return found
        return replace(found, redis=with_common(self.redis_keys, found.dlq_topics()))

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Every group of the service with the topics it dead-letters (for the DLQ API)."""
        found = self.registered()
        return {**found.consumers, **found.producers}


async def _stop_task(task: asyncio.Task[None], stop: Callable[[], None] | None) -> None:
    if stop is not None:
        stop()
        await asyncio.wait({task}, timeout=TASK_STOP_S)
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


async def warm_producer(producer: Client, topics: Sequence[str], timeout_s: float = 5.0) -> None:
    """Fetch the partitions of each topic the service publishes to now, at start: otherwise
    the first record to a topic waits for a metadata round trip first (the first sale after
    a start was the slowest of every idle series in the flash sale). A topic that cannot be
    described yet is left to the first send, as before."""
    if not isinstance(producer, AIOKafkaProducer):
        return
    for topic in topics:
        try:
            async with asyncio.timeout(timeout_s):
                await producer.partitions_for(topic)
        except (KafkaError, TimeoutError):
            log.info("no metadata for a topic at start", extra={"topic": topic})


async def _stop_producer(producer: Client, timeout_s: float | None) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await producer.stop()
    except TimeoutError:
        log.error("producer did not stop in time; in-doubt records are lost with it")


def _start_task(health: Health, task: Task) -> asyncio.Task[None]:
    if task.supervised:
        return supervise(health, task.name, task.run)
    return asyncio.create_task(task.run(), name=task.name)


def consumer_loop(
    spec: Consumer[C], c: C, settings: CommonSettings, producer: AIOKafkaProducer
) -> ConsumerLoop:
    """The consumer and loop of ``spec``, built (not started): the one place they are made."""
    consumer = make_consumer(
        settings.kafka_bootstrap_servers,
        spec.group,
        settings.service_name,
        fetch_max_wait_ms=spec.fetch_max_wait_ms,
        max_poll_records=spec.max_poll_records,
        fetch_min_bytes=spec.fetch_min_bytes,
        security=settings.kafka_security,
    )
    return ConsumerLoop(
        consumer=consumer,
        producer=producer,
        group=spec.group,
        topics=list(spec.topics),
        handler=spec.handler(c),
        bootstrap=settings.kafka_bootstrap_servers,
        security=settings.kafka_security,
        replication=settings.topic_replication_factor,
        min_isr=settings.topic_min_insync_replicas,
        handler_many=(
            spec.handler_many(c)
            if spec.handler_many is not None and settings.consumer_fetch_wide
            else None
        ),
        on_assign=spec.on_assign(c) if spec.on_assign is not None else None,
        retry=spec.retry,
        decode=spec.decode,
    )


def consumer_loops(service: Service[C], c: C) -> list[tuple[Consumer[C], ConsumerLoop]]:
    """Each enabled consumer of ``service`` with its loop, built for container ``c``."""
    enabled = [spec for spec in service.consumers if spec.enabled]
    if not enabled:
        return []
    if service.producer is None:
        raise ValueError("consumers need the service's producer (retries, dead letters)")
    producer = cast(AIOKafkaProducer, service.producer(c))
    return [(spec, consumer_loop(spec, c, service.settings, producer)) for spec in enabled]


@contextlib.asynccontextmanager
async def running(service: Service[C], health: Health, app: FastAPI) -> AsyncIterator[C]:
    """Start the service's parts in order; close them in reverse (see the module docstring)."""
    async with contextlib.AsyncExitStack() as stack:
        c = service.build()
        app.state.container = c
        for close in service.closers(c):
            stack.push_async_callback(close)
        # Stopped after everything that publishes with it, and even when a later step of the
        # start failed before it was started (aiokafka warns of a producer never stopped).
        producer = service.producer(c) if service.producer is not None else None
        if producer is not None:
            stack.push_async_callback(_stop_producer, producer, service.producer_stop_timeout_s)
        health.checks.update(service.checks(c))
        health.families.update(service.replay_families(c))
        enabled = [spec for spec in service.consumers if spec.enabled]
        if enabled and producer is None:
            raise ValueError("consumers need the service's producer (retries, dead letters)")
        if enabled:
            health.checks.setdefault("kafka", kafka_check(service.settings.kafka_bootstrap_servers))
        if service.on_start is not None:
            await service.on_start(c)
        if producer is not None:
            await start_whole(producer.start())
            await warm_producer(producer, service.produces)
        for spec in enabled:  # each built as it starts: none left unstarted by a failure
            loop = consumer_loop(spec, c, service.settings, cast(AIOKafkaProducer, producer))
            running_ = consumer_running(health, spec.name, loop.consumer, loop)
            await stack.enter_async_context(running_)
        for task in service.tasks(c):
            stack.push_async_callback(_stop_task, _start_task(health, task), task.stop)
        for context in service.contexts(c):
            await stack.enter_async_context(context)
        if gc_tuning.freeze_after_start:
            log.info("heap frozen after start", extra={"objects": gc_tuning.freeze()})
        yield c


def defaults(settings_type: type[S]) -> S:
    """A service's settings as declared (defaults only, no environment): what its
    registered groups are named by default (see :func:`stocksync_common.topics.registered`)."""
    return cast(S, settings_type.model_construct())


@contextlib.asynccontextmanager
async def accounts_on(app: FastAPI, settings: CommonSettings) -> AsyncIterator[None]:
    """The accounts store the admin dependency checks user tokens in and the throttle of
    failed bearer attempts (``app.state``), on their own Redis client; a service without
    Redis accepts the bootstrap token only, unthrottled."""
    if not settings.uses_redis:
        yield
        return
    redis = connect_settings(settings)
    app.state.accounts = Accounts(redis)
    app.state.bearer_throttle = BearerThrottle(redis)
    try:
        yield
    finally:
        del app.state.accounts, app.state.bearer_throttle
        await redis.aclose()


def registrar(
    service: Callable[[S], Service[Any]], settings_type: type[S]
) -> Callable[[], Registered]:
    """A service's ``stocksync.groups`` entry point: the groups its declaration runs, named
    by its settings' defaults (``groups = registrar(service, Settings)`` in its bootstrap)."""

    def groups() -> Registered:
        return service(defaults(settings_type)).registered()

    return groups


def create_service_app(service: Service[C], routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The service's FastAPI app: probes, metrics, a Redis failure answered 503
    (:mod:`stocksync_common.redis_unavailable`), its routers (``routers`` after the
    service's own: the entrypoints' routers import the container type, so they cannot be
    named in bootstrap), the DLQ API of its groups, and the lifespan that runs it."""
    health = Health()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with taskdump.on_signal():
            async with running(service, health, app), accounts_on(app, service.settings):
                yield

    title = service.title or f"StockSync {service.settings.service_name}"
    app = service.app_class(title=title, lifespan=lifespan, **service.app_options)
    app.state.settings = service.settings
    app.state.health = health
    ops = ops_router(health)
    if not service.metrics:
        ops.routes[:] = [r for r in ops.routes if getattr(r, "path", None) != "/metrics"]
    app.include_router(ops)
    answer_redis_failures(app)  # 503 + Retry-After, never 500 (ADR 0029)
    for router in [*service.routers, *routers]:
        app.include_router(router)
    groups = service.groups()
    if groups and service.dlq_api:
        checks = health.checks if service.dlq_auto_replay else None
        router = dlq_router(
            groups,
            service.settings,
            checks,
            auto_replay=service.dlq_auto_replay,
            producers=list(service.producer_dlq_groups),
            families=health.families if service.dlq_auto_replay else None,
        )
        app.include_router(router)
    return app
