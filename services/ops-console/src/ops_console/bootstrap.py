"""Composition root: the HTTP client for the services, the session store, the accounts users
log in against, the signer, the clock, and the service as the runtime runs it (no Kafka).
Tests pass an ``httpx.AsyncClient`` on a mock transport, in-memory sessions, fake or cheap
accounts and a clock of their own."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from ops_console.backends import Backends
from ops_console.sessions import RedisSessions, SessionStore, Signer, Users
from ops_console.settings import Settings
from stocksync_common.accounts.store import Accounts
from stocksync_common.ops import Check
from stocksync_common.redis_client import connect_settings
from stocksync_common.redis_keys import RedisKeys
from stocksync_common.runtime import Closer, Service, registrar
from stocksync_common.service import redis_check


@dataclass
class Container:
    settings: Settings
    http: httpx.AsyncClient
    backends: Backends
    sessions: SessionStore
    signer: Signer
    redis: Redis | None
    users: Users
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Seams:
    """What tests put in place of the real clients."""

    http: httpx.AsyncClient | None = None
    sessions: SessionStore | None = None
    users: Users | None = None
    clock: Callable[[], float] = time.time


NO_SEAMS = Seams()


def build(settings: Settings, seams: Seams = NO_SEAMS) -> Container:
    http = seams.http or httpx.AsyncClient(timeout=settings.backend_timeout_s)
    sessions, users, redis = seams.sessions, seams.users, None
    if sessions is None or users is None:
        redis = connect_settings(settings)
        sessions = sessions or RedisSessions(redis)
        users = users or Accounts(redis)
    # the services are called with each session's own user token (backends.CREDENTIAL)
    backends = Backends(http, settings.backend_urls())
    signer = Signer(settings.console_session_key.get_secret_value() or secrets.token_urlsafe(32))
    return Container(settings, http, backends, sessions, signer, redis, users, seams.clock)


def service(settings: Settings, seams: Seams = NO_SEAMS) -> Service[Container]:
    """ops-console as the runtime runs it; ``seams`` are for tests."""

    def checks(c: Container) -> dict[str, Check]:
        return {} if c.redis is None else {"redis": redis_check(c.redis)}

    def closers(c: Container) -> list[Closer]:
        return [c.http.aclose] if c.redis is None else [c.redis.aclose, c.http.aclose]

    return Service(
        settings=settings,
        build=lambda: build(settings, seams),
        checks=checks,
        closers=closers,
        # users, tokens and login failures (the accounts store, whose touch_token runs a
        # script), console sessions (sessions.py)
        redis_keys=RedisKeys(writes=("accounts:*", "console:session:*"), scripts=True),
        app_options={"docs_url": None, "redoc_url": None, "openapi_url": None},
    )


groups = registrar(service, Settings)
