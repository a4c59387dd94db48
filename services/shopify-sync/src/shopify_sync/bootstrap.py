"""Composition root for shopify-sync: clients, stores of state, lanes, handlers, jobs; and the
service as the runtime runs it (four consumer groups, the lanes, the job runner, the
reconciliation schedule)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from shopify_sync import own_events
from shopify_sync.adapters.bulk import BulkRunner
from shopify_sync.adapters.dead_letters import KafkaDeadLetters
from shopify_sync.adapters.exposures import CachedExposures, RedisExposures
from shopify_sync.adapters.intents import RedisIntents
from shopify_sync.adapters.jobs import RedisJobs
from shopify_sync.adapters.lease import Lease
from shopify_sync.adapters.metrics import circuit_listener
from shopify_sync.adapters.pending_memberships import RedisPendingMemberships
from shopify_sync.adapters.propagation_journal import RedisPropagationState
from shopify_sync.adapters.redis_catalog import RedisCatalog
from shopify_sync.adapters.redis_state import RedisSyncState
from shopify_sync.adapters.round_reads import RedisRoundReads
from shopify_sync.adapters.settle import RedisSettler
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.adapters.truth import HttpTruth, KafkaLevelsTruth
from shopify_sync.catalog_gate import CatalogGate
from shopify_sync.catalog_handlers import ProductsHandler, PropagationHandler
from shopify_sync.catalog_sync import CatalogSync
from shopify_sync.collection_propagator import CollectionPropagator
from shopify_sync.connector import Connector
from shopify_sync.cut_bucket import FAMILY, BucketHolds
from shopify_sync.domain.connect import needed_scopes
from shopify_sync.domain.pacing import Clock
from shopify_sync.first_sync import FirstSync
from shopify_sync.fulfillment_mover import FulfillmentOrderMover
from shopify_sync.fulfillments import FulfillmentHandler
from shopify_sync.handlers import ChangeRecorder
from shopify_sync.jobs_runner import JobFn, JobRunner
from shopify_sync.lanes import Lane, LaneConfig, Lanes
from shopify_sync.mapping import CatalogMapping
from shopify_sync.mapping_import import MappingImport
from shopify_sync.narrow_changes import decode_changes
from shopify_sync.propagator import Propagator
from shopify_sync.reconciler import ReconcileJobs, Reconciler
from shopify_sync.settings import MIN_API_VERSION, Settings
from shopify_sync.writer import Writer
from stocksync_common import wiring
from stocksync_common.breaker import CircuitBreaker
from stocksync_common.consumer import RetryPolicy
from stocksync_common.http1 import StreamTransport
from stocksync_common.kafka import producer_from
from stocksync_common.redis_client import connect_settings, is_cluster
from stocksync_common.redis_keys import RedisKeys
from stocksync_common.runtime import (
    OFF_PATH_FETCH_MAX_WAIT_MS,
    OFF_PATH_FETCH_MIN_BYTES,
    Consumer,
    Service,
    Task,
    registrar,
)
from stocksync_common.stores import ACCESS_TOKEN, StoresConfig, load_stores
from stocksync_common.topics import dlq_topic, ensure_topics

log = logging.getLogger(__name__)
HandlerT = TypeVar("HandlerT")


@dataclass
class Container:
    settings: Settings
    stores: StoresConfig
    redis: Redis
    http: httpx.AsyncClient
    producer: AIOKafkaProducer
    client: ShopifyClient
    state: RedisSyncState
    catalog: RedisCatalog
    mapping: CatalogMapping
    lanes: Lanes
    jobs: ReconcileJobs
    changes: ChangeRecorder
    products: ProductsHandler
    connector: Connector
    propagator: Propagator | None = None
    collections: CollectionPropagator | None = None
    runner: JobRunner | None = None
    importer: MappingImport | None = None
    # catalog.v1 to the children (None: propagation off).
    propagation: PropagationHandler | None = None
    # Warehouse shipments to Shopify fulfilments (None: off).
    fulfillments: FulfillmentHandler | None = None

    def extra_topics(self) -> list[str]:
        """DLQ topics this service writes that the shared topic catalog may not list."""
        s = self.settings
        return [
            dlq_topic(s.changes_topic, s.consumer_group),
            dlq_topic(s.webhooks_topic, s.catalog_consumer_group),
            dlq_topic(s.orders_topic, s.fulfillments_consumer_group),
            dlq_topic(s.catalog_topic, s.propagation_consumer_group),
            s.catalog_topic,
        ]


def check_versions(stores: StoresConfig) -> None:
    old = [s.shop for s in stores.stores if s.api_version < MIN_API_VERSION]
    if old:
        raise RuntimeError(f"api_version older than {MIN_API_VERSION} for {', '.join(old)}")


def http_client(settings: Settings) -> httpx.AsyncClient:
    """The client every call to the stores goes through (connections kept between writes).

    httpx's client over the lean HTTP/1.1 transport: a push round's Admin API call costs a
    third of the CPU it did over httpcore (ADR 0036)."""
    transport = StreamTransport(
        max_connections=settings.max_connections, keepalive_expiry=settings.keepalive_s
    )
    return httpx.AsyncClient(timeout=settings.request_timeout_s, transport=transport)


def build(
    settings: Settings,
    http: httpx.AsyncClient | None = None,
    redis: Redis | None = None,
) -> Container:
    if not settings.stores_file:
        raise RuntimeError("STOCKSYNC_STORES_FILE is required")
    stores = load_stores(settings.stores_file, frozenset({ACCESS_TOKEN}), settings.environment)
    check_versions(stores)
    redis = redis or connect_settings(settings)
    http = http or http_client(settings)

    def breaker(shop: str, clock: Clock) -> CircuitBreaker:
        return CircuitBreaker(
            clock=clock,
            failure_threshold=settings.breaker_failures,
            open_s=settings.breaker_open_s,
            max_open_s=settings.breaker_max_open_s,
            on_change=circuit_listener(shop),
        )

    client = ShopifyClient(http, breaker_factory=breaker)
    state, catalog = RedisSyncState(redis), RedisCatalog(redis)
    producer = producer_from(settings)
    bulk = BulkRunner(client, http, asyncio.sleep, poll_s=settings.bulk_poll_s)
    mapping = CatalogMapping(
        client, catalog, state, bulk, settings.bulk_threshold, settings.absent_ttl_s
    )
    dead = KafkaDeadLetters(producer, settings.changes_topic, settings.consumer_group)
    exposures = RedisExposures(redis)
    cached = (
        CachedExposures(exposures, settings.exposure_cache_entries)
        if settings.exposure_cache_entries > 0
        else None
    )
    writer = Writer(
        client, mapping, state, dead, asyncio.sleep, settings.max_stale_retries,
        cached or exposures, RedisIntents(redis),
        # one script call per settled write on one Redis; a cluster keeps two waits
        settler=None if is_cluster(redis) else RedisSettler(redis, cached),
        reads=RedisRoundReads(redis),  # the shop's keys share a slot: cluster-safe
    )  # fmt: skip
    owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
    config = LaneConfig(
        settings.coalesce_window_s,
        settings.lane_poll_s,
        settings.retry_backoff_s,
        settings.discover_on_start,
        in_flight=settings.lane_in_flight,
    )
    lanes = Lanes(
        {
            s.shop: Lane(
                s, writer, state, client, mapping, config,
                lease=Lease(
                    redis, f"sync:lane:{{{s.shop}}}", owner, settings.lease_ttl_s,
                    on_change=None if cached is None else partial(cached.forget, s.shop),
                ),
            )
            for s in stores.stores
        }
    )  # fmt: skip
    truth = KafkaLevelsTruth(
        settings.kafka_bootstrap_servers, settings.levels_topic, settings.kafka_security
    )
    targeted = HttpTruth(http, settings.inventory_url) if settings.inventory_url else None
    reconciler = Reconciler(stores, mapping, state, truth, lanes, targeted)
    gate = CatalogGate(state, max_wait_s=settings.catalog_max_wait_s)
    propagator, collections = None, None
    if settings.propagate_catalog:
        journal = RedisPropagationState(redis)
        collections = CollectionPropagator(
            stores, client, journal, RedisPendingMemberships(redis), gate,
            channels_ttl_s=settings.collection_channels_ttl_s,
            job_timeout_s=settings.collection_job_timeout_s,
        )  # fmt: skip
        propagator = Propagator(stores, client, journal, gate, collections.product_arrived)
    products = ProductsHandler(
        stores, mapping, producer if propagator else None, settings.catalog_topic,
        settings.service_name,
    )  # fmt: skip
    jobs = ReconcileJobs(reconciler, RedisJobs(redis), owner)
    importer = MappingImport(stores, catalog, lanes, redis)
    syncer = CatalogSync(
        stores, bulk, catalog, RedisPropagationState(redis), settings.catalog_sync_chunk,
        collections=collections,
    )  # fmt: skip

    async def reconcile_job(params: dict[str, Any], _p: dict[str, Any], _r: Any) -> dict[str, Any]:
        return await reconciler.run(params.get("shops"), params.get("skus"))

    kinds: dict[str, JobFn] = {
        "catalog-sync": lambda params, progress, report: syncer.run(
            params.get("shops"), progress, report
        ),
        "reconciliation": reconcile_job,
        "mapping-import": importer.run,
        "first-sync": FirstSync(reconciler, state, settings.first_sync_timeout_s).run,
    }
    runner = JobRunner(RedisJobs(redis), redis, owner, kinds, settings.job_lease_ttl_s)
    return Container(
        settings=settings, stores=stores, redis=redis, http=http, producer=producer,
        client=client, state=state, catalog=catalog, mapping=mapping, lanes=lanes, jobs=jobs,
        changes=ChangeRecorder(stores, state, lanes), products=products, propagator=propagator,
        collections=collections,
        connector=connector(settings, stores, client),
        runner=runner, importer=importer,
        propagation=(
            PropagationHandler(stores, propagator, collections) if propagator else None
        ),
        fulfillments=(
            FulfillmentHandler(stores, client, redis, mover(settings, stores, client, redis, jobs))
            if settings.fulfil_shipments
            else None
        ),
    )  # fmt: skip


def mover(
    settings: Settings,
    stores: StoresConfig,
    client: ShopifyClient,
    redis: Redis,
    jobs: ReconcileJobs,
) -> FulfillmentOrderMover | None:
    """Routed orders' fulfillment orders moved (ADR 0035); each move's SKUs reconciled in
    that store when inventory-adjuster's read API is known (a targeted run reads truth per
    SKU there; without it a run would read the whole levels topic for a few SKUs)."""
    if not settings.move_fulfillment_orders:
        return None
    resync = None
    if settings.inventory_url:
        resync = lambda shop, skus: jobs.start([shop], list(skus))  # noqa: E731
    return FulfillmentOrderMover(stores, client, redis, resync=resync)


def connector(settings: Settings, stores: StoresConfig, client: ShopifyClient) -> Connector:
    """What each store must grant depends on its role and the features on."""
    s = settings
    return Connector(client, {
        store.shop: needed_scopes(store.role, s.propagate_catalog, s.fulfil_shipments)
        for store in stores.stores
    })  # fmt: skip


async def recover(c: Container) -> None:
    """Finish what a crash left in the catalog journals (rolled back, then redone)."""
    assert c.propagator is not None  # noqa: S101 - only scheduled with a propagator
    try:
        redone = await c.propagator.recover()
        if c.collections is not None:
            redone += await c.collections.recover()
    except Exception:  # noqa: BLE001 - retried on the next start; the journal stays
        log.exception("catalog journal recovery failed")
        return
    log.info("catalog journals recovered", extra={"redone": redone})


def tasks(c: Container) -> list[Task]:
    """The reconciliation schedule and, with propagation on, the catalog journals' recovery."""
    s = c.settings
    found = []
    if s.reconcile_interval_s > 0:
        found.append(Task("reconcile-schedule", lambda: c.jobs.schedule(s.reconcile_interval_s)))
    if c.propagator is not None:
        found.append(Task("catalog-recover", lambda: recover(c), supervised=False))
    return found


@contextlib.asynccontextmanager
async def lanes_running(lanes: Lanes) -> AsyncIterator[None]:
    """One push lane per shop, started after the consumers that feed them, stopped first."""
    lanes.start()
    try:
        yield
    finally:
        await lanes.stop()


@contextlib.asynccontextmanager
async def jobs_running(runner: JobRunner | None) -> AsyncIterator[None]:
    """The admin jobs: what a crash left running resumed; stopped before the lanes."""
    if runner is None:
        yield
        return
    await runner.resume()
    try:
        yield
    finally:
        await runner.stop()


async def create_extra_topics(c: Container) -> None:
    """The few topics shopify-sync writes beyond the shared catalog, created when missing."""
    s = c.settings
    wanted = dict.fromkeys(c.extra_topics(), s.topic_partitions)
    await ensure_topics(
        s.kafka_bootstrap_servers,
        wanted,
        s.topic_replication_factor,
        min_isr=s.topic_min_insync_replicas,
        security=s.kafka_security,
    )


def service(settings: Settings, http: httpx.AsyncClient | None = None) -> Service[Container]:
    """shopify-sync as the runtime runs it; ``http`` is a test seam (an ASGI transport to the
    simulator)."""
    s = settings
    return Service(
        settings=s,
        build=lambda: build(s, http=http),
        consumers=[
            # inventory changes are the last hop before the stores: answered at the first
            # record; the catalog and fulfilment consumers below take theirs in batches
            Consumer(
                s.consumer_group,
                (s.changes_topic,),
                lambda c: c.changes.handle_batch,
                # a fetch's partitions: one record call per store for all of them (#19)
                handler_many=lambda c: c.changes.handle_many,
                # changes parsed narrowly, the rest in full: its dead letters come back
                # through its retry topic (ADR 0041)
                decode=decode_changes,
            ),
            # off the sale's path (ADR 0019): the catalog group reads every order webhook for
            # the few products/* and collections/* ones, the fulfilment group every order
            # event; record by record they cost a fetch and a handler call each on the cores
            # the push rounds need
            Consumer(
                s.catalog_consumer_group,
                (s.webhooks_topic,),
                lambda c: c.products.handle_batch,
                name="catalog-consumer",
                fetch_min_bytes=OFF_PATH_FETCH_MIN_BYTES,
                fetch_max_wait_ms=OFF_PATH_FETCH_MAX_WAIT_MS,
            ),
            Consumer(
                s.propagation_consumer_group,
                (s.catalog_topic,),
                lambda c: _present(c.propagation).handle_batch,
                name="propagation-consumer",
                enabled=s.propagate_catalog,
                retry=RetryPolicy(delays_s=s.propagation_retry_s),
                decode=own_events.decode,  # catalog.product_changed is shopify-sync's own
            ),
            Consumer(
                s.fulfillments_consumer_group,
                (s.orders_topic,),
                lambda c: _present(c.fulfillments).handle_batch,
                name="fulfillments-consumer",
                fetch_min_bytes=OFF_PATH_FETCH_MIN_BYTES,
                fetch_max_wait_ms=OFF_PATH_FETCH_MAX_WAIT_MS,
                enabled=s.fulfil_shipments,
            ),
        ],
        producer=wiring.producer,
        produces=(s.catalog_topic,),
        redis_keys=RedisKeys(writes=("sync:*", "skumap:*"), scripts=True),
        reads=(s.levels_topic,),  # reconciliation reads the levels without a group
        checks=wiring.redis_ready,
        # a write above a store's cut bucket is replayed once the bucket holds it (ADR 0035 §4)
        replay_families=lambda c: {FAMILY: BucketHolds(c.client, c.stores)},
        closers=wiring.close_redis_and_http,
        on_start=create_extra_topics,
        tasks=tasks,
        contexts=lambda c: [lanes_running(c.lanes), jobs_running(c.runner)],
    )


def _present(handler: HandlerT | None) -> HandlerT:
    if handler is None:
        raise RuntimeError("consumer enabled without its handler")
    return handler


# The groups it registers (entry point ``stocksync.groups``), named by default.
groups = registrar(service, Settings)
