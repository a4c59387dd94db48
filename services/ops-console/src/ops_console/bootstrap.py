"""Composition root: the HTTP client for the services, the session store, the signer.
Tests pass an ``httpx.AsyncClient`` on a mock transport and in-memory sessions."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from ops_console.backends import Backends
from ops_console.sessions import RedisSessions, SessionStore, Signer
from ops_console.settings import Settings
from stocksync_common.redis_client import connect as connect_redis


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
        redis = connect_redis(settings.redis_url)
        sessions = RedisSessions(redis)
    backends = Backends(http, settings.backend_urls(), settings.admin_token)
    return Container(settings, http, backends, sessions, Signer(settings.admin_token), redis)
