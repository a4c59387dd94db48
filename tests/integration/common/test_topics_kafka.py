"""One description, the same topics on the real broker: the topics job's command (reading the
description from ``STOCKSYNC_TOPICS_FILE``, as in compose and Kubernetes) and a consumer
loop's start-up create a group's retry and DLQ topics with the same configs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from faults.kafka_view import TOPIC_OVERRIDE, topic_config

from stocksync_common.consumer import ConsumerLoop, make_consumer
from stocksync_common.kafka import make_producer
from stocksync_common.topics import (
    DLQ_CONFIG,
    ORDERS,
    RETRY_CONFIG,
    Registered,
    dlq_topic,
    dump_topics,
    group_topics,
    retry_topic,
)

pytestmark = pytest.mark.integration
KEY = "retention.ms"


async def test_the_job_and_a_loops_start_up_create_the_same_topics_with_the_same_config(
    kafka_bootstrap: str, topics: list[str], tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    by_job, by_loop = f"it-job-{run}", f"it-loop-{run}"
    path = tmp_path / "all-topics.yaml"
    path.write_text(dump_topics(group_topics(Registered({by_job: (ORDERS,)}))))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
    env.update(STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, STOCKSYNC_TOPICS_FILE=str(path))
    job = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "stocksync_common.topics", "create"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert job.returncode == 0, job.stderr
    assert "created 2 topics" in job.stdout

    producer = make_producer(kafka_bootstrap, "it")
    consumer = make_consumer(kafka_bootstrap, by_loop, "it")
    await producer.start()
    await consumer.start()
    try:
        loop = ConsumerLoop(
            consumer, producer, by_loop, [ORDERS], handler=None,  # type: ignore[arg-type]
            bootstrap=kafka_bootstrap,
        )  # fmt: skip
        await loop._create_missing()
    finally:
        await consumer.stop()
        await producer.stop()

    names = [f(ORDERS, g) for g in (by_job, by_loop) for f in (retry_topic, dlq_topic)]
    found = await asyncio.to_thread(topic_config, kafka_bootstrap, names, KEY)
    retry_job, dlq_job, retry_loop, dlq_loop = (found[n] for n in names)
    assert retry_job == retry_loop == (RETRY_CONFIG[KEY], TOPIC_OVERRIDE)
    # bounded on the topic itself, both (dead letters keep bodies as they arrived)
    assert dlq_job == dlq_loop == (DLQ_CONFIG[KEY], TOPIC_OVERRIDE)
