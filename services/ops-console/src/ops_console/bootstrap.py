"""Composition root: the HTTP client for the services, the session store, the signer, and the
service as the runtime runs it (no Kafka). Tests pass an ``httpx.AsyncClient`` on a mock
transport and in-memory sessions."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from ops_console.backends import Backends
from ops_console.sessions import RedisSessions, SessionStore, Signer
from ops_console.settings import Settings
from stocksync_common.ops import Check
from stocksync_common.redis_client import connect_settings
from stocksync_common.runtime import Closer, Service
from stocksync_common.service import redis_check


@dataclass
class Container:
    settings: Settings
    http: httpx.AsyncClient
    backends: Backends
    sessions: SessionStore
    signer: Signer
    redis: Redis | None


def build(
    settings: Settings,
    http: httpx.AsyncClient | None = None,
    sessions: SessionStore | None = None,
) -> Container:
    http = http or httpx.AsyncClient(timeout=settings.backend_timeout_s)
    redis = None
    if sessions is None:
        redis = connect_settings(settings)
        sessions = RedisSessions(redis)
    token = settings.admin_token.get_secret_value()
    backends = Backends(http, settings.backend_urls(), token)
    return Container(settings, http, backends, sessions, Signer(token), redis)


def service(
    settings: Settings,
    http: httpx.AsyncClient | None = None,
    sessions: SessionStore | None = None,
) -> Service[Container]:
    """ops-console as the runtime runs it; ``http`` and ``sessions`` are test seams."""

    def checks(c: Container) -> dict[str, Check]:
        return {} if c.redis is None else {"redis": redis_check(c.redis)}

    def closers(c: Container) -> list[Closer]:
        return [c.http.aclose] if c.redis is None else [c.redis.aclose, c.http.aclose]

    return Service(
        settings=settings,
        build=lambda: build(settings, http=http, sessions=sessions),
        checks=checks,
        closers=closers,
        app_options={"docs_url": None, "redoc_url": None, "openapi_url": None},
    )
