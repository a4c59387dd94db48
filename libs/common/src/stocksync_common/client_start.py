"""Starting an aiokafka client so that a cancellation never strands a connection.

Its own module: topics.py (admin clients) and kafka.py (consumers, producers) both use it,
and kafka.py imports topics.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

# How long a start whose caller was cancelled may still take to finish (start_whole).
START_FINISH_S = 30.0


async def start_whole(start: Awaitable[None], finish_s: float = START_FINISH_S) -> None:
    """Await an aiokafka client's ``start()`` to its end even when the caller is cancelled,
    then pass the cancellation on (the caller's stop or close follows).

    aiokafka's bootstrap keeps its first connection in a local variable while it asks for the
    cluster's metadata: cancelled there, nothing ever closes that connection (the client
    does not know it) and it is collected open later (``Unclosed AIOKafkaConnection``; CI's
    flake in the fulfilment tests, whose service stops cancelled a start in flight). A start
    left to finish ends with every connection known to the client, so its stop closes them
    all. One that has not finished after ``finish_s`` is cancelled after all.
    """
    task = asyncio.ensure_future(start)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, finish_s)
        raise
