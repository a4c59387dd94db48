"""ops-console in process on the real Redis (its sessions, the accounts store a test gives
it), the services behind it fakes (tests/unit/ops_console/fakes.py), the clock a test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from unit.ops_console.fakes import FakeServices, settings

from ops_console.bootstrap import Seams
from ops_console.entrypoints.app import create_app
from stocksync_common.accounts.store import Accounts


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def console(
    redis_url: str,
    accounts: Accounts,
    clock: Clock,
    services: FakeServices | None = None,
    idle_s: int = 1800,
    peer: str = "127.0.0.1",
    trusted_proxies: str = "",
) -> AsyncIterator[httpx.AsyncClient]:
    services = services or FakeServices(accept="Bearer sst_")
    http = httpx.AsyncClient(transport=httpx.MockTransport(services.handle))
    s = settings(
        redis_url=redis_url,
        session_ttl_s=8 * 3600,
        session_idle_s=idle_s,
        trusted_proxies=trusted_proxies,
    )
    app = create_app(s, Seams(http=http, users=accounts, clock=clock))
    async with (
        app.router.lifespan_context(app),
        with_accounts(app, accounts),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(peer, 40000)),
            base_url="http://console.test",
        ) as client,
    ):
        yield client


@asynccontextmanager
async def with_accounts(app: FastAPI, accounts: Accounts) -> AsyncIterator[None]:
    """The test's accounts store is also the one bearer tokens are checked in."""
    app.state.accounts = accounts
    yield
