"""The service runtime: what a service declares is started in order and closed in reverse,
whatever fails on the way; its groups reach the DLQ API and the registry."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from stocksync_common import gc_tuning, wiring
from stocksync_common.consumer import FETCH_MAX_WAIT_MS
from stocksync_common.ops import Health
from stocksync_common.runtime import (
    OFF_PATH_FETCH_MAX_WAIT_MS,
    OFF_PATH_FETCH_MIN_BYTES,
    Consumer,
    Service,
    Task,
    consumer_loop,
    create_service_app,
    registrar,
    running,
)
from stocksync_common.settings import CommonSettings
from stocksync_common.topics import registered


@dataclass
class Box:
    """A container that writes down what happens to it."""

    events: list[str] = field(default_factory=list)
    fail_on_start: bool = False

    async def start(self) -> None:
        self.events.append("producer started")

    async def stop(self) -> None:
        self.events.append("producer stopped")

    async def close(self) -> None:
        self.events.append("closed")

    async def prepare(self) -> None:
        self.events.append("on_start")
        if self.fail_on_start:
            raise RuntimeError("start failed")

    async def work(self) -> None:
        self.events.append("task running")
        await asyncio.Event().wait()

    @contextlib.asynccontextmanager
    async def lanes(self) -> AsyncIterator[None]:
        self.events.append("lanes started")
        try:
            yield
        finally:
            self.events.append("lanes stopped")


async def handle(_tp: Any, _items: Any) -> None:
    """A batch handler (never called: no consumer runs in these tests)."""


def spec(box: Box, **over: Any) -> Service[Box]:
    fields: dict[str, Any] = {
        "title": "t",
        "settings": CommonSettings(admin_token="tok"),
        "build": lambda: box,
        "producer": lambda b: b,
        "closers": lambda b: [b.close],
        "on_start": lambda b: b.prepare(),
        "tasks": lambda b: [Task("work", b.work)],
        "contexts": lambda b: [b.lanes()],
    }
    return Service(**{**fields, **over})


async def test_parts_start_in_order_and_close_in_reverse() -> None:
    box = Box()
    app = FastAPI()
    async with running(spec(box), Health(), app) as c:
        assert c is box and app.state.container is box
        await asyncio.sleep(0)  # the task's first step
        assert box.events == [
            "on_start",
            "producer started",
            "lanes started",
            "task running",
        ]
    assert box.events[4:] == ["lanes stopped", "producer stopped", "closed"]


async def test_a_failed_start_still_stops_the_producer_and_closes_the_clients() -> None:
    box = Box(fail_on_start=True)
    with pytest.raises(RuntimeError, match="start failed"):
        async with running(spec(box), Health(), FastAPI()):
            pytest.fail("the service must not run")
    assert box.events == ["on_start", "producer stopped", "closed"]


async def test_consumers_need_a_producer_and_disabled_ones_are_not_started() -> None:
    box = Box()
    wanted = Consumer[Box]("g", ("t.v1",), lambda _b: handle)
    with pytest.raises(ValueError, match="producer"):
        async with running(spec(box, producer=None, consumers=[wanted]), Health(), FastAPI()):
            pytest.fail("the service must not run")
    off = Consumer[Box]("g-off", ("t.v1",), lambda _b: handle, enabled=False)
    health = Health()
    async with running(spec(box, consumers=[off]), health, FastAPI()):
        assert "kafka" not in health.checks  # nothing consumes: no Kafka check added


async def test_a_supervised_task_that_dies_fails_liveness() -> None:
    async def dies() -> None:
        raise RuntimeError("boom")

    health = Health()
    box = Box()
    async with running(spec(box, tasks=lambda _b: [Task("dies", dies)]), health, FastAPI()):
        for _ in range(100):
            if health.failures:
                break
            await asyncio.sleep(0)
        assert health.failures == ["dies died"]


async def test_the_app_serves_probes_and_the_dlq_api_of_every_declared_group() -> None:
    box = Box()
    groups = [
        Consumer[Box]("g-on", ("a.v1",), lambda _b: handle),
        Consumer[Box]("g-off", ("b.v1",), lambda _b: handle, enabled=False),
    ]
    service = spec(box, consumers=groups, producer_dlq_groups={"edge": ("c.v1",)})
    assert service.groups() == {"g-on": ("a.v1",), "g-off": ("b.v1",), "edge": ("c.v1",)}
    full, quiet = create_service_app(service), create_service_app(spec(box, metrics=False))
    assert await statuses(full) == {"/healthz": 200, "/metrics": 200, "/admin/dlq": 401}
    # No /metrics of its own (the service mounts one), no group: no DLQ API.
    assert await statuses(quiet) == {"/healthz": 200, "/metrics": 404, "/admin/dlq": 404}


async def statuses(app: FastAPI) -> dict[str, int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return {
            p: (await client.get(p)).status_code for p in ("/healthz", "/metrics", "/admin/dlq")
        }


def test_every_service_registers_its_groups_and_libs_common_names_none() -> None:
    groups = registered()
    assert groups.consumers["inventory-adjuster"] == ("inventory.commands.v1",)
    assert groups.consumers["shopify-sync-fulfillments"] == ("orders.v1",)  # off by default
    assert groups.producers == {"webhook-receiver": ("webhooks.shopify.v1", "webhooks.wms.v1")}
    assert len(groups.consumers) == 11


async def test_a_declared_whole_fetch_handler_reaches_the_loop() -> None:
    """``handler_many`` (every partition of a fetch in one call) is passed to the loop the
    runtime builds; a consumer without one keeps the per-partition path."""

    async def handle_many(_parts: Any) -> None:
        return None

    settings = CommonSettings(kafka_bootstrap_servers="127.0.0.1:1")
    many = Consumer[Box]("g", ("t",), lambda _c: handle, handler_many=lambda _c: handle_many)
    plain = Consumer[Box]("h", ("t",), lambda _c: handle)
    producer: Any = object()
    loops = [consumer_loop(spec, Box(), settings, producer) for spec in (many, plain)]
    narrow = CommonSettings(kafka_bootstrap_servers="127.0.0.1:1", consumer_fetch_wide=False)
    loops.append(consumer_loop(many, Box(), narrow, producer))
    try:
        assert loops[0].handler_many is handle_many and loops[1].handler_many is None
        assert loops[2].handler_many is None  # switched off: one call per partition
    finally:
        for loop in loops:  # built, never started
            await loop.consumer.stop()


def test_the_title_defaults_to_the_service_name_and_groups_come_from_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Settings(CommonSettings):
        service_name: str = "a-service"
        group: str = "a-service-group"

    def declare(settings: Settings) -> Service[Box]:
        consumer = Consumer[Box](settings.group, ("a.v1",), lambda _b: handle)
        return spec(Box(), settings=settings, title="", consumers=[consumer])

    monkeypatch.setenv("STOCKSYNC_SERVICE_NAME", "from-the-environment")
    monkeypatch.setenv("STOCKSYNC_GROUP", "from-the-environment")
    assert create_service_app(declare(Settings())).title == "StockSync from-the-environment"
    assert create_service_app(spec(Box(), title="Mine")).title == "Mine"
    # the entry point's groups: named as declared, whatever this environment says
    assert registrar(declare, Settings)().consumers == {"a-service-group": ("a.v1",)}


async def test_wiring_hands_the_runtime_the_containers_usual_clients() -> None:
    closed: list[str] = []

    class Client:
        def __init__(self, name: str) -> None:
            self.name = name

        async def aclose(self) -> None:
            closed.append(self.name)

        async def ping(self) -> bool:
            return True

    container: Any = SimpleNamespace(producer=Box(), redis=Client("redis"), http=Client("http"))
    assert wiring.producer(container) is container.producer
    assert list(wiring.redis_ready(container)) == ["redis"]
    assert await wiring.redis_ready(container)["redis"]()
    for close in [*wiring.close_redis(container), *wiring.close_redis_and_http(container)]:
        await close()
    assert closed == ["redis", "redis", "http"]


async def test_consumers_off_the_sales_path_take_their_records_in_batches() -> None:
    """A consumer's ``fetch_min_bytes`` reaches its Kafka consumer; the groups off the sale's
    path (alerts, oversell records, warehouse orders) ask for batches, the ones on it (the
    order webhooks, the commands, the changes the stores are written from) answer at the
    first record (#19)."""
    settings = CommonSettings(kafka_bootstrap_servers="127.0.0.1:1")
    spec = Consumer[Box]("g", ("t",), lambda _c: handle, fetch_min_bytes=OFF_PATH_FETCH_MIN_BYTES)
    loop = consumer_loop(spec, Box(), settings, cast(Any, object()))
    try:
        assert loop.consumer._fetch_min_bytes == OFF_PATH_FETCH_MIN_BYTES  # noqa: SLF001
    finally:
        await loop.consumer.stop()
    from notifier.bootstrap import service as notifier
    from notifier.settings import Settings as NotifierSettings
    from order_consumer.bootstrap import service as order_consumer
    from order_consumer.settings import Settings as OrderSettings
    from shopify_sync.bootstrap import service as shopify_sync
    from shopify_sync.settings import Settings as SyncSettings
    from wms_connector.bootstrap import service as wms_connector
    from wms_connector.settings import Settings as WmsSettings

    consumers = {
        (s.settings.service_name, c.name): c
        for s in (notifier(NotifierSettings()), order_consumer(OrderSettings()),
                  wms_connector(WmsSettings()), shopify_sync(SyncSettings()))
        for c in s.consumers
    }  # fmt: skip
    batched = {k for k, c in consumers.items() if c.fetch_min_bytes > 1}
    # shopify-sync's catalog group reads every order webhook for the few products/* and
    # collections/* ones, its fulfilment group every order event: neither is on the sale's path
    assert batched >= {("notifier", "consumer"), ("order-consumer", "oversold-consumer"),
                       ("wms-connector", "orders-consumer"),
                       ("shopify-sync", "catalog-consumer"),
                       ("shopify-sync", "fulfillments-consumer")}  # fmt: skip
    for name in ("catalog-consumer", "fulfillments-consumer"):
        assert consumers[("shopify-sync", name)].fetch_max_wait_ms == OFF_PATH_FETCH_MAX_WAIT_MS
    first_record = {k for k, c in consumers.items() if c.fetch_min_bytes == 1}
    # order-consumer's webhooks, wms-connector's events, the changes the stores are written from
    assert {("order-consumer", "consumer"), ("wms-connector", "consumer"),
            ("shopify-sync", "consumer")} <= first_record  # fmt: skip


async def test_no_consumer_polls_the_broker_a_hundred_times_a_second_while_idle() -> None:
    """The fetch wait bounds only an idle group's polling (fetch_min_bytes 1 answers at the
    first record: tests/integration/common/test_aiokafka_kafka.py): the sale-path groups'
    10 ms sent 100 empty fetches a second each, a tenth of this machine with the broker's
    share, doing nothing (docs/profiling.md, ninth session)."""
    from inventory_adjuster.bootstrap import service as adjuster
    from inventory_adjuster.settings import Settings as AdjusterSettings
    from notifier.bootstrap import service as notifier
    from notifier.settings import Settings as NotifierSettings
    from order_consumer.bootstrap import service as order_consumer
    from order_consumer.settings import Settings as OrderSettings
    from shopify_sync.bootstrap import service as shopify_sync
    from shopify_sync.settings import Settings as SyncSettings
    from wms_connector.bootstrap import service as wms_connector
    from wms_connector.settings import Settings as WmsSettings

    waits = {
        (s.settings.service_name, c.name): c.fetch_max_wait_ms
        for s in (adjuster(AdjusterSettings()), notifier(NotifierSettings()),
                  order_consumer(OrderSettings()), wms_connector(WmsSettings()),
                  shopify_sync(SyncSettings()))
        for c in s.consumers
    }  # fmt: skip
    assert ("inventory-adjuster", "consumer") in waits
    assert min(waits.values()) >= FETCH_MAX_WAIT_MS >= 100, waits
    settings = CommonSettings(kafka_bootstrap_servers="127.0.0.1:1")
    loop = consumer_loop(Consumer[Box]("g", ("t",), lambda _c: handle), Box(), settings,
                         cast(Any, object()))  # fmt: skip
    try:
        assert loop.consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS  # noqa: SLF001
    finally:
        await loop.consumer.stop()


async def test_a_service_process_freezes_what_its_start_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Full collections stopped shopify-sync's event loop for 65-270 ms about once a second
    under load (docs/profiling.md): a service process (``serve`` sets the flag) moves what its
    start built out of every later collection; a test's service start never freezes the test
    process (tests/conftest.py freezes only what collection built, once)."""
    assert gc_tuning.freeze_after_start is False
    frozen = gc.get_freeze_count()
    box = Box()
    async with running(spec(box), Health(), FastAPI()):
        assert gc.get_freeze_count() == frozen
    monkeypatch.setattr(gc_tuning, "freeze_after_start", True)
    try:
        async with running(spec(Box()), Health(), FastAPI()):
            assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()


def test_service_processes_collect_less_often_than_cpython_s_defaults() -> None:
    settings = CommonSettings(admin_token="tok")
    assert settings.gc_freeze is True
    first, second, third = settings.gc_thresholds
    assert first > 700 and third > 10  # CPython's (700, 10, 10)
    before = gc.get_threshold()
    try:
        gc_tuning.tune(settings.gc_thresholds)
        assert gc.get_threshold() == settings.gc_thresholds
    finally:
        gc.set_threshold(*before)
