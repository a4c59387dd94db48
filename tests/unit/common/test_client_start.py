"""start_whole: a start whose caller is cancelled still runs to its end (so the caller's
stop finds every connection it opened), then the cancellation is passed on; a start that
will not end is cancelled after the bound."""

from __future__ import annotations

import asyncio

import pytest

from stocksync_common.client_start import start_whole


async def test_a_cancelled_caller_lets_the_start_finish_then_is_cancelled() -> None:
    began, release, ended = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def start() -> None:
        began.set()
        await release.wait()
        ended.set()

    caller = asyncio.create_task(start_whole(start()))
    await began.wait()
    caller.cancel()
    await asyncio.sleep(0.01)
    assert not caller.done() and not ended.is_set()  # still waiting for the start
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert ended.is_set()


async def test_a_start_that_does_not_end_is_cancelled_after_the_bound() -> None:
    stopped = asyncio.Event()

    async def start() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    caller = asyncio.create_task(start_whole(start(), finish_s=0.05))
    await asyncio.sleep(0.01)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert stopped.is_set()


async def test_a_start_that_fails_raises_its_error() -> None:
    async def start() -> None:
        raise ConnectionError("no broker")

    with pytest.raises(ConnectionError):
        await start_whole(start())
