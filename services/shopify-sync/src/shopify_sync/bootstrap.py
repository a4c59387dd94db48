"""Composition root for shopify-sync: clients, stores of state, lanes, consumers, jobs."""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from shopify_sync.adapters.bulk import BulkRunner
from shopify_sync.adapters.dead_letters import KafkaDeadLetters
from shopify_sync.adapters.exposures import RedisExposures
from shopify_sync.adapters.intents import RedisIntents
from shopify_sync.adapters.jobs import RedisJobs
from shopify_sync.adapters.lease import Lease
from shopify_sync.adapters.metrics import circuit_listener
from shopify_sync.adapters.redis_catalog import RedisCatalog
from shopify_sync.adapters.redis_propagation import RedisPropagationState
from shopify_sync.adapters.redis_state import RedisSyncState
from shopify_sync.adapters.shopify import ShopifyClient
from shopify_sync.adapters.truth import HttpTruth, KafkaLevelsTruth
from shopify_sync.catalog_gate import CatalogGate
from shopify_sync.catalog_handlers import ProductsHandler, PropagationHandler
from shopify_sync.catalog_sync import CatalogSync
from shopify_sync.domain.pacing import Clock
from shopify_sync.fulfillments import (
    FulfillmentHandler,
    FulfillmentWorker,
    build_fulfillment_worker,
)
from shopify_sync.handlers import ChangeRecorder
from shopify_sync.jobs_runner import JobFn, JobRunner
from shopify_sync.lanes import Lane, LaneConfig, Lanes
from shopify_sync.mapping import CatalogMapping
from shopify_sync.mapping_import import MappingImport
from shopify_sync.propagate import Propagator
from shopify_sync.reconcile import ReconcileJobs, Reconciler
from shopify_sync.settings import MIN_API_VERSION, Settings
from shopify_sync.writer import Writer
from stocksync_common.breaker import CircuitBreaker
from stocksync_common.consumer import ConsumerLoop, make_consumer
from stocksync_common.kafka import make_producer
from stocksync_common.redis_client import connect as connect_redis
from stocksync_common.stores import StoresConfig, load_stores
from stocksync_common.topics import dlq_topic


@dataclass
class Worker:
    """One more consumer group of this service: its consumer and loop."""

    consumer: AIOKafkaConsumer
    loop: ConsumerLoop


@dataclass
class Container:
    settings: Settings
    stores: StoresConfig
    redis: Redis
    http: httpx.AsyncClient
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    catalog_consumer: AIOKafkaConsumer
    loop: ConsumerLoop
    catalog_loop: ConsumerLoop
    client: ShopifyClient
    state: RedisSyncState
    catalog: RedisCatalog
    mapping: CatalogMapping
    lanes: Lanes
    jobs: ReconcileJobs
    propagator: Propagator | None = None
    runner: JobRunner | None = None
    importer: MappingImport | None = None
    fulfillments: FulfillmentWorker | None = None
    propagation: Worker | None = None

    def __post_init__(self) -> None:
        """Warehouse shipments to Shopify fulfilments: their own consumer group."""
        s = self.settings
        if self.fulfillments is None and s.fulfil_shipments:
            handler = FulfillmentHandler(self.stores, self.client, self.redis)
            self.fulfillments = build_fulfillment_worker(
                s.kafka_bootstrap_servers, s.fulfillments_consumer_group, s.orders_topic,
                s.service_name, handler, self.producer,
            )  # fmt: skip

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


def build(
    settings: Settings,
    http: httpx.AsyncClient | None = None,
    redis: Redis | None = None,
) -> Container:
    if not settings.stores_file:
        raise RuntimeError("STOCKSYNC_STORES_FILE is required")
    stores = load_stores(settings.stores_file)
    check_versions(stores)
    redis = redis or connect_redis(settings.redis_url)
    http = http or httpx.AsyncClient(
        timeout=settings.request_timeout_s,
        limits=httpx.Limits(max_connections=settings.max_connections, max_keepalive_connections=20),
    )

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
    producer = make_producer(settings.kafka_bootstrap_servers, settings.service_name)
    bulk = BulkRunner(client, http, asyncio.sleep, poll_s=settings.bulk_poll_s)
    mapping = CatalogMapping(
        client, catalog, state, bulk, settings.bulk_threshold, settings.absent_ttl_s
    )
    dead = KafkaDeadLetters(producer, settings.changes_topic, settings.consumer_group)
    writer = Writer(
        client, mapping, state, dead, asyncio.sleep, settings.max_stale_retries,
        RedisExposures(redis), RedisIntents(redis),
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
                lease=Lease(redis, f"sync:lane:{{{s.shop}}}", owner, settings.lease_ttl_s),
            )
            for s in stores.stores
        }
    )  # fmt: skip
    truth = KafkaLevelsTruth(settings.kafka_bootstrap_servers, settings.levels_topic)
    targeted = HttpTruth(http, settings.inventory_url) if settings.inventory_url else None
    reconciler = Reconciler(stores, mapping, state, truth, lanes, targeted)
    gate = CatalogGate(state, max_wait_s=settings.catalog_max_wait_s)
    propagator = (
        Propagator(stores, client, RedisPropagationState(redis), gate)
        if settings.propagate_catalog
        else None
    )
    bootstrap, group = settings.kafka_bootstrap_servers, settings.consumer_group
    # inventory changes are the last hop before the stores: a short fetch wait (about 100
    # empty fetches a second while idle); catalog and fulfilment consumers keep the default
    consumer = make_consumer(bootstrap, group, settings.service_name, fetch_max_wait_ms=10)
    catalog_consumer = make_consumer(
        bootstrap, settings.catalog_consumer_group, settings.service_name
    )
    recorder = ChangeRecorder(stores, state, lanes)
    loop = ConsumerLoop(
        consumer=consumer,
        producer=producer,
        group=group,
        topics=[settings.changes_topic],
        handler=recorder.handle_batch,
        handler_many=recorder.handle_many,  # a fetch's partitions: one record call per store
    )
    catalog_loop = ConsumerLoop(
        consumer=catalog_consumer,
        producer=producer,
        group=settings.catalog_consumer_group,
        topics=[settings.webhooks_topic],
        handler=ProductsHandler(
            stores, mapping, producer if propagator else None, settings.catalog_topic,
            settings.service_name,
        ).handle_batch,
    )  # fmt: skip
    propagation = build_propagation(settings, producer, stores, propagator)
    jobs = ReconcileJobs(reconciler, RedisJobs(redis), owner)
    importer = MappingImport(stores, catalog, lanes, redis)
    syncer = CatalogSync(
        stores, bulk, catalog, RedisPropagationState(redis), settings.catalog_sync_chunk
    )

    async def reconcile_job(params: dict[str, Any], _p: dict[str, Any], _r: Any) -> dict[str, Any]:
        return await reconciler.run(params.get("shops"), params.get("skus"))

    kinds: dict[str, JobFn] = {
        "catalog-sync": lambda params, progress, report: syncer.run(
            params.get("shops"), progress, report
        ),
        "reconciliation": reconcile_job,
        "mapping-import": importer.run,
    }
    runner = JobRunner(RedisJobs(redis), redis, owner, kinds, settings.job_lease_ttl_s)
    return Container(
        settings, stores, redis, http, producer, consumer, catalog_consumer, loop,
        catalog_loop, client, state, catalog, mapping, lanes, jobs, propagator, runner, importer,
        propagation=propagation,
    )  # fmt: skip


def build_propagation(
    settings: Settings,
    producer: AIOKafkaProducer,
    stores: StoresConfig,
    propagator: Propagator | None,
) -> Worker | None:
    """The ``shopify-sync-propagation`` consumer of ``catalog.v1`` (None: propagation off)."""
    if propagator is None:
        return None
    group = settings.propagation_consumer_group
    consumer = make_consumer(settings.kafka_bootstrap_servers, group, settings.service_name)
    loop = ConsumerLoop(
        consumer=consumer, producer=producer, group=group, topics=[settings.catalog_topic],
        handler=PropagationHandler(stores, propagator).handle_batch,
    )  # fmt: skip
    return Worker(consumer, loop)
