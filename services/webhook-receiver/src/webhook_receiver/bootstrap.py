"""Composition root for webhook-receiver."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from stocksync_common.kafka import make_producer
from stocksync_common.stores import StoresConfig, load_stores
from webhook_receiver.intake import Intake
from webhook_receiver.settings import Settings


@dataclass
class Container:
    settings: Settings
    stores: StoresConfig
    producer: AIOKafkaProducer
    redis: Redis
    intake: Intake

    def wms_secrets(self) -> list[bytes]:
        secrets = [self.settings.wms_webhook_secret.encode()]
        if self.settings.wms_webhook_secret_previous:
            secrets.append(self.settings.wms_webhook_secret_previous.encode())
        return secrets


def build(settings: Settings) -> Container:
    if not settings.stores_file:
        raise RuntimeError("STOCKSYNC_STORES_FILE is required")
    stores = load_stores(settings.stores_file)
    producer = make_producer(settings.kafka_bootstrap_servers, settings.service_name, linger_ms=0)
    redis = Redis.from_url(settings.redis_url)
    intake = Intake(producer, redis, settings.dedupe_ttl_s, settings.publish_timeout_s)
    return Container(settings, stores, producer, redis, intake)
