"""Fixtures for the notifier integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaProducer
from integration.notifier.harness import Mailbox, Receiver, smtp_server

from stocksync_common.kafka import make_producer


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def producer(kafka_bootstrap: str, topics: list[str]) -> AsyncIterator[AIOKafkaProducer]:
    p = make_producer(kafka_bootstrap, "notifier-it")
    await p.start()
    yield p
    await p.stop()
