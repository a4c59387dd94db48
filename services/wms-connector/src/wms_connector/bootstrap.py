"""Composition root for wms-connector."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stocksync_common.consumer import ConsumerLoop, make_consumer
from stocksync_common.kafka import make_producer
from stocksync_common.topics import WEBHOOKS_WMS
from wms_connector.handlers import WmsHandler
from wms_connector.settings import Settings


@dataclass
class Container:
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    loop: ConsumerLoop


def build(settings: Settings) -> Container:
    producer = make_producer(settings.kafka_bootstrap_servers, settings.service_name)
    consumer = make_consumer(
        settings.kafka_bootstrap_servers, settings.consumer_group, settings.service_name
    )
    loop = ConsumerLoop(
        consumer=consumer,
        producer=producer,
        group=settings.consumer_group,
        topics=[WEBHOOKS_WMS],
        handler=WmsHandler(producer).handle_batch,
    )
    return Container(producer, consumer, loop)
