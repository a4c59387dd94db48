"""Another producer on the cluster may compress its batches (StockSync's own do not, ADR
0028): StockSync's consumers read them, whatever the codec, on the real broker. Without the
codec library a reader fails on such a batch (``UnsupportedCodecError``)."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer

from stocksync_common.consumer import make_consumer
from stocksync_common.kafka import stop_consumer
from stocksync_common.topics import ensure_topics
from support.poll import await_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("codec", ["lz4", "zstd", "snappy", "gzip"])
async def test_a_batch_another_producer_compressed_is_read(
    kafka_bootstrap: str, codec: str
) -> None:
    topic = f"codec-{codec}-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, {topic: 1}, 1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, compression_type=codec)
    await producer.start()
    try:
        values = [f'{{"n": {i}, "pad": "{"x" * 200}"}}'.encode() for i in range(50)]
        for v in values:
            await producer.send(topic, v, key=b"k")
        await producer.flush()
    finally:
        await producer.stop()
    consumer = make_consumer(kafka_bootstrap, f"codec-{uuid.uuid4().hex[:8]}", "codec-test")
    consumer.subscribe([topic])
    await consumer.start()
    got: list[bytes] = []
    try:

        async def all_read() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            got.extend(r.value for records in batch.values() for r in records if r.value)
            return len(got) >= len(values)

        await await_for(f"the {codec} batch read", all_read, 20)
    finally:
        await stop_consumer(consumer)
    assert got == values
