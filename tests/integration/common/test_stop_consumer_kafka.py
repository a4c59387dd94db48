"""stop_consumer on the real broker: a group-less consumer stopped right after its start
(aiokafka 0.14 raises from stop() there) still ends with its client closed."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from stocksync_common.kafka import stop_consumer

pytestmark = pytest.mark.integration


def _client_closed(consumer: AIOKafkaConsumer) -> bool:
    client = consumer._client
    sync = client._sync_task
    open_conns = [c for c in client._conns.values() if c.connected()]
    return (sync is None or sync.done()) and not open_conns


async def test_a_consumer_stopped_at_once_closes_its_client(kafka_bootstrap: str) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    await stop_consumer(consumer)
    assert _client_closed(consumer)


async def test_the_client_is_closed_even_when_stop_raises(kafka_bootstrap: str) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    # The coordinator's routine cancelled before it ever ran: aiokafka's stop() re-raises that.
    consumer._coordinator._reset_committed_task.cancel()
    await stop_consumer(consumer)
    assert _client_closed(consumer)


async def test_a_cancellation_of_the_caller_is_passed_on(kafka_bootstrap: str) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    task = asyncio.create_task(stop_consumer(consumer))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stop_consumer(consumer)  # a second stop finishes the job
    assert _client_closed(consumer)
