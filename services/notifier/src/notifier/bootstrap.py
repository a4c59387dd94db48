"""Composition root for notifier."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from redis.asyncio import Redis

from notifier.handlers import AlertHandler
from notifier.settings import Settings
from stocksync_common.consumer import ConsumerLoop, make_consumer
from stocksync_common.kafka import make_producer
from stocksync_common.topics import INVENTORY_CHANGED


@dataclass
class Container:
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    loop: ConsumerLoop
    redis: Redis
    http: httpx.AsyncClient


def build(settings: Settings) -> Container:
    redis = Redis.from_url(settings.redis_url)
    http = httpx.AsyncClient(timeout=settings.request_timeout_s)
    producer = make_producer(settings.kafka_bootstrap_servers, settings.service_name)
    consumer = make_consumer(
        settings.kafka_bootstrap_servers, settings.consumer_group, settings.service_name
    )
    loop = ConsumerLoop(
        consumer=consumer,
        producer=producer,
        group=settings.consumer_group,
        topics=[INVENTORY_CHANGED],
        handler=AlertHandler(redis, http, settings.alert_webhook_url).handle_batch,
    )
    return Container(producer, consumer, loop, redis, http)
