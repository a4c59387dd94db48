"""An accounts store of a test's own on the real Redis: its keys under a random prefix,
deleted afterwards, and argon2id with small costs (the same code path, a fraction of the
CPU)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from argon2 import PasswordHasher
from redis.asyncio import Redis

from stocksync_common.accounts.store import Accounts

CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


@asynccontextmanager
async def scratch_accounts(redis: Redis, **options: Any) -> AsyncIterator[Accounts]:
    prefix = f"test-accounts:{uuid.uuid4().hex[:8]}:"
    try:
        yield Accounts(redis, hasher=CHEAP, prefix=prefix, **options)
    finally:
        keys = [k async for k in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
