"""A consumer whose Kafka metadata stops refreshing fails liveness (``watch_metadata``, #24):
an update pending too long, or aiokafka's metadata task ended. Updates that keep finishing
never fail it, however long the process runs."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from stocksync_common.ops import Health
from stocksync_common.service import watch_metadata
from support.poll import await_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _idle() -> None:
    await asyncio.Event().wait()


def consumer_with(task: asyncio.Task[None], update: asyncio.Future[bool] | None) -> Any:
    return SimpleNamespace(_client=SimpleNamespace(_sync_task=task, _md_update_fut=update))


def failed(health: Health) -> Any:
    async def check() -> bool:
        return bool(health.failures)

    return check


async def _steps(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_an_update_pending_past_the_limit_fails_liveness() -> None:
    sync = asyncio.create_task(_idle())
    update: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    health, clock = Health(), Clock()
    watch = asyncio.create_task(
        watch_metadata(cast(Any, consumer_with(sync, update)), health, "changes", 180, 0, clock)
    )
    try:
        await _steps()
        clock.now = 179.0
        await _steps()
        assert health.failures == []  # not yet: two minutes of timeouts are normal
        clock.now = 181.0
        await await_for("liveness failed", failed(health), 5)
        assert health.failures == ["changes: a metadata update pending for 181 s"]
        assert watch.done()  # said once
    finally:
        watch.cancel()
        sync.cancel()


async def test_updates_that_finish_never_fail_it() -> None:
    sync = asyncio.create_task(_idle())
    consumer = consumer_with(sync, None)
    health, clock = Health(), Clock()
    loop = asyncio.get_running_loop()
    watch = asyncio.create_task(
        watch_metadata(cast(Any, consumer), health, "changes", 180, 0, clock)
    )
    try:
        for minute in range(1, 20):
            update: asyncio.Future[bool] = loop.create_future()
            consumer._client._md_update_fut = update
            await _steps()
            clock.now = minute * 60.0
            await _steps()
            update.set_result(True)  # the update finished; aiokafka forgets it
            consumer._client._md_update_fut = None
            await _steps()
        assert health.failures == [] and not watch.done()
    finally:
        watch.cancel()
        sync.cancel()


async def test_a_metadata_task_that_ended_fails_liveness() -> None:
    async def died() -> None:
        raise RuntimeError("unexpected metadata")

    sync = asyncio.create_task(died())
    await asyncio.gather(sync, return_exceptions=True)
    health = Health()
    watch = asyncio.create_task(
        watch_metadata(cast(Any, consumer_with(sync, None)), health, "changes", 180, 0, Clock())
    )
    try:
        await await_for("liveness failed", failed(health), 5)
        assert health.failures == ["changes: its metadata task ended"]
    finally:
        watch.cancel()
