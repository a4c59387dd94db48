"""No Redis answering the console: its pages say "Redis did not answer; retry later" with 503
and ``Retry-After`` (HTML), its JSON API the same as JSON, and a bearer token that cannot be
looked up is 503, never 401 ("unauthenticated"). Sessions, logins and tokens all live in
Redis; one handler on the app answers for every place a request touches it.

A redis-server of the test's own is stopped under a logged-in session (one Redis), and a port
where nothing listens stands for a Redis or a Redis Cluster no node of which answers
(docs/decisions/0029-redis-cluster.md)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from integration.ops_console.harness import Clock, console
from redis.asyncio import Redis

from stocksync_common.accounts import new_token
from stocksync_common.accounts.store import Accounts
from stocksync_common.redis_client import connect
from support.accounts import CHEAP

pytestmark = pytest.mark.integration
NOBODY = "127.0.0.1:1"  # connection refused at once
PASSWORD = "console test password"  # noqa: S105 - a test secret
DETAIL = "Redis did not answer; retry later"


def assert_page_retry_later(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"].startswith("text/html")
    assert DETAIL in r.text


def assert_json_retry_later(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.json() == {"detail": DETAIL}


@contextlib.asynccontextmanager
async def nobody_console(scheme: str) -> AsyncIterator[httpx.AsyncClient]:
    url = f"{scheme}://{NOBODY}/0"
    redis = connect(url, timeout_s=1.0)
    try:
        async with console(url, _accounts(redis), Clock()) as client:
            yield client
    finally:
        await redis.aclose()


def _accounts(redis: Redis) -> Accounts:
    return Accounts(redis, hasher=CHEAP)


@pytest.mark.parametrize("scheme", ["redis", "redis+cluster"])
async def test_a_login_is_answered_503_retry_later(scheme: str) -> None:
    async with nobody_console(scheme) as client:
        form = {"user": "olga", "password": PASSWORD, "next": "/stores"}
        assert_page_retry_later(await client.post("/login", data=form))


@pytest.mark.parametrize("scheme", ["redis", "redis+cluster"])
async def test_a_bearer_api_call_is_503_not_401(scheme: str) -> None:
    _, token, _ = new_token()
    async with nobody_console(scheme) as client:
        r = await client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
        assert_json_retry_later(r)
        assert token not in r.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own (the test stops it), and its URL."""
    port = _free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(tmp_path)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - fixed argv
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.02)
    try:
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        server.kill()
        server.wait()


async def test_a_session_whose_redis_stopped_gets_503_pages_and_api(
    own_redis: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, server = own_redis
    redis = connect(url, timeout_s=1.0)
    accounts = _accounts(redis)
    await accounts.add_user("olga", "admin", PASSWORD)
    _, admin_token = await accounts.issue_token("olga", "script", frozenset({"read", "admin"}))
    try:
        async with console(url, accounts, Clock()) as client:
            form = {"user": "olga", "password": PASSWORD, "next": "/stores"}
            assert (await client.post("/login", data=form)).status_code == 303
            assert (await client.get("/users")).status_code == 200
            bearer = {"Authorization": f"Bearer {admin_token}"}
            assert (await client.get("/api/users", headers=bearer)).status_code == 200
            server.terminate()
            await asyncio.to_thread(server.wait, 10)
            assert_page_retry_later(await client.get("/users"))  # the session's lookup
            assert_page_retry_later(await client.get("/login"))  # a session is looked up
            assert_json_retry_later(await client.get("/api/users", headers=bearer))
    finally:
        await redis.aclose()
