"""Many calls of one Lua script in one round trip.

redis-py runs a registered script inside a pipeline by first asking ``SCRIPT EXISTS`` in a
round trip of its own, on every ``execute``; the push round's gate and the intake's records
would pay two round trips where one does. Here the pipeline holds plain ``EVALSHA`` calls;
a Redis that lost its script cache (a restart, a failover) answers those with NOSCRIPT,
which ran nothing, so the script is loaded and only those calls are sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

Call = tuple[Sequence[str], Sequence[str | int]]  # keys, args


async def evalsha_all(redis: Redis, script: AsyncScript, calls: Sequence[Call]) -> list[Any]:
    """Each call's reply, in order; the first error raised (after every call ran)."""
    if not calls:
        return []
    replies = await _pipeline(redis, script.sha, calls)
    again = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if again:
        await redis.script_load(script.script)
        retried = await _pipeline(redis, script.sha, [calls[i] for i in again])
        for i, reply in zip(again, retried, strict=True):
            replies[i] = reply
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


async def _pipeline(redis: Redis, sha: str, calls: Sequence[Call]) -> list[Any]:
    async with redis.pipeline(transaction=False) as pipe:
        for keys, args in calls:
            pipe.evalsha(sha, len(keys), *keys, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
    return replies
