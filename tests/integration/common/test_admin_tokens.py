"""Named users' API tokens on the admin APIs (the DLQ API here, on the real Kafka and Redis,
with the accounts store the runtime puts on the app): a viewer's token reads and is refused
replay and purge, an operator's replays and purges, a revoked one is refused, and every
audit line names the user behind the credential."""

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from stocksync_common.accounts.store import Accounts
from stocksync_common.consumer import PoisonMessage, RetryPolicy
from stocksync_common.runtime import accounts_on
from stocksync_common.topics import dlq_topic
from support.poll import await_for

from .conftest import TOKEN

pytestmark = pytest.mark.integration
PASSWORD = "tokens test password"  # noqa: S105 - a test secret


@pytest.fixture
async def users(redis: Redis) -> AsyncIterator[tuple[Accounts, list[str]]]:
    accounts, made = Accounts(redis), list[str]()
    yield accounts, made
    for name in made:
        await accounts.remove_user(name)


async def _user(users: tuple[Accounts, list[str]], name: str, role: str, scopes: str) -> str:
    accounts, made = users
    await accounts.add_user(name, role, PASSWORD)
    made.append(name)
    _, token = await accounts.issue_token(name, "test", frozenset(scopes.split(",")))  # type: ignore[arg-type]
    return token


async def test_viewer_reads_operator_changes_revoked_is_refused(
    kafka_bootstrap, redis_url, harness, users, caplog
):
    async def behaviour(_sku: str) -> None:
        raise PoisonMessage("never works")

    async with harness.start(
        kafka_bootstrap, redis_url, behaviour, [], RetryPolicy(blips_s=())
    ) as h:
        viewer = await _user(users, f"viewer-{h.run}", "viewer", "read")
        operator = await _user(users, f"operator-{h.run}", "operator", "read,operate")
        await h.send(f"{h.run}-a")
        await h.send(f"{h.run}-b")
        app = h.app()
        dlq = dlq_topic(h.topic, h.group)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            accounts_on(app, h.settings()),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            as_viewer = {"Authorization": f"Bearer {viewer}"}
            as_operator = {"Authorization": f"Bearer {operator}"}

            async def two_records():
                r = await client.get("/admin/dlq/records", params={"topic": dlq}, headers=as_viewer)
                assert r.status_code == 200, r.text
                records = r.json()["records"]
                return records if len(records) == 2 else None

            records = await await_for("two DLQ records", two_records, 30)
            rid = records[0]["id"]
            assert (await client.get("/admin/dlq", headers=as_viewer)).status_code == 200
            replay = await client.post("/admin/dlq/replay", json={"ids": [rid]}, headers=as_viewer)
            assert replay.status_code == 403 and "operate" in replay.json()["detail"]
            purge = {"topic": dlq, "confirm": dlq}
            assert (
                await client.post("/admin/dlq/purge", json=purge, headers=as_viewer)
            ).status_code == 403
            assert len(await two_records() or []) == 2  # nothing changed

            caplog.set_level(logging.INFO)
            done = await client.post("/admin/dlq/replay", json={"ids": [rid]}, headers=as_operator)
            assert done.status_code == 200 and done.json()["replayed"] == 1
            purged = await client.post("/admin/dlq/purge", json=purge, headers=as_operator)
            # the replayed record fails again and may be back in the DLQ already
            assert purged.status_code == 200 and purged.json()["purged"] >= 2
            lines = [r for r in caplog.records if r.getMessage().startswith("audit: dlq")]
            assert [getattr(r, "who", "") for r in lines] == [f"operator-{h.run}"] * 2
            callers = [getattr(r, "caller", "") for r in lines]
            assert all(c.startswith(f"operator-{h.run}/token:") for c in callers), callers
            # the secret is everything after the id: it may hold "_" itself (split once more
            # and a secret ending in "_g" checked only that "g" was never logged)
            secret = operator.split("_", 2)[2]
            assert operator not in caplog.text and secret not in caplog.text

            accounts, _ = users
            token_id = operator.split("_")[1]
            assert await accounts.revoke_token(token_id)
            assert (await client.get("/admin/dlq", headers=as_operator)).status_code == 401
            forged = {"Authorization": f"Bearer {operator[:-2]}xx"}
            assert (await client.get("/admin/dlq", headers=forged)).status_code == 401
            # the bootstrap token still works, and is named as such
            bootstrap = await client.get("/admin/dlq", headers={"Authorization": f"Bearer {TOKEN}"})
            assert bootstrap.status_code == 200
