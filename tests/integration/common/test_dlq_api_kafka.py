"""The DLQ HTTP API on the real Kafka and Redis: list, show, replay (by id, by reason),
purge with confirmation, the bearer token, and replays that keep the correlation id and
happen once."""

import asyncio
import logging
import time
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.client import AIOKafkaClient

from stocksync_common.consumer import PoisonMessage, RetryPolicy
from stocksync_common.dlq import admin as dlq_admin
from stocksync_common.dlq import auto as dlq_auto
from stocksync_common.dlq.admin import DlqAdmin
from stocksync_common.dlq.auto import AutoReplayer
from stocksync_common.retry import REPLAY_OF, DependencyUnavailable
from stocksync_common.topics import dlq_topic, ensure_topics, retry_topic
from support.poll import await_for

from .conftest import TOKEN

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _records(client, topic, status="pending"):
    r = await client.get(
        "/admin/dlq/records", params={"topic": topic, "status": status}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    return r.json()["records"]


async def _replays_of(bootstrap, topic, rid):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        found, deadline = [], time.monotonic() + 5
        while time.monotonic() < deadline:
            for recs in (await consumer.getmany(timeout_ms=200)).values():
                found += [r for r in recs if dict(r.headers).get(REPLAY_OF) == rid.encode()]
        return found
    finally:
        await consumer.stop()


async def test_api_lists_shows_replays_and_purges(kafka_bootstrap, redis_url, harness):
    fixed = {"on": False}

    async def behaviour(sku: str) -> None:
        if sku.endswith("broken") and not fixed["on"]:
            raise PoisonMessage("cannot work yet")

    policy = RetryPolicy(blips_s=())
    async with harness.start(kafka_bootstrap, redis_url, behaviour, [], policy) as h:
        one, two = f"{h.run}-a-broken", f"{h.run}-b-broken"
        await h.send(one)
        await h.send(two)
        app = h.app()
        dlq = dlq_topic(h.topic, h.group)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            assert (await client.get("/admin/dlq")).status_code == 401
            bad = {"Authorization": "Bearer nope"}
            assert (await client.post("/admin/dlq/replay", json={}, headers=bad)).status_code == 401

            async def both_there():
                return len(await _records(client, dlq)) == 2 or None

            await await_for("two DLQ records", both_there, 30)
            overview = (await client.get("/admin/dlq", headers=AUTH)).json()["topics"]
            assert overview == [
                {
                    "topic": dlq,
                    "group": h.group,
                    "original_topic": h.topic,
                    "depth": 2,
                    "pending": 2,
                }
            ]
            by_key = {r["key"]: r for r in await _records(client, dlq)}
            rid = by_key[one]["id"]
            assert by_key[one]["reason"] == "poison" and by_key[one]["status"] == "pending"
            assert by_key[one]["correlation_id"] == h.correlation[one]
            full = (await client.get(f"/admin/dlq/records/{rid}", headers=AUTH)).json()
            assert full["headers"]["correlation-id"] == h.correlation[one]
            assert one in full["value"] and full["stack"]
            missing = await client.get(f"/admin/dlq/records/{dlq}:0:99999", headers=AUTH)
            assert missing.status_code == 404
            other = await client.get(
                "/admin/dlq/records", params={"topic": "x.dlq.y"}, headers=AUTH
            )
            assert other.status_code == 404

            fixed["on"] = True
            first = await client.post("/admin/dlq/replay", json={"ids": [rid]}, headers=AUTH)
            assert first.json() == {"replayed": 1, "ids": [rid], "refused": {}}
            again = await client.post("/admin/dlq/replay", json={"ids": [rid]}, headers=AUTH)
            assert again.json() == {"replayed": 0, "ids": [], "refused": {}}
            await await_for("the replay handled", lambda: h.seen(one), 30)
            assert h.correlation[one] in h.cids
            assert len(await _replays_of(kafka_bootstrap, retry_topic(h.topic, h.group), rid)) == 1
            assert [r["id"] for r in await _records(client, dlq, "replayed")] == [rid]

            by_reason = {"topic": dlq, "reason": "poison"}
            r = await client.post("/admin/dlq/replay", json=by_reason, headers=AUTH)
            assert r.json()["replayed"] == 1
            await await_for("the second replay handled", lambda: h.seen(two), 30)
            assert h.handled.count(one) == 1 and h.handled.count(two) == 1
            empty = await client.post("/admin/dlq/replay", json={"topic": dlq}, headers=AUTH)
            assert empty.status_code == 400

            wrong = {"topic": dlq, "confirm": "no"}
            assert (
                await client.post("/admin/dlq/purge", json=wrong, headers=AUTH)
            ).status_code == 400
            ok = await client.post(
                "/admin/dlq/purge", json={"topic": dlq, "confirm": dlq}, headers=AUTH
            )
            assert ok.json() == {"purged": 2}
            after = (await client.get("/admin/dlq", headers=AUTH)).json()["topics"][0]
            assert after["depth"] == 0 and after["pending"] == 0
            assert await _records(client, dlq, "all") == []


async def test_dependency_failures_replay_automatically_once_healthy(
    kafka_bootstrap, redis_url, redis, harness
):
    state = {"up": False}

    async def behaviour(sku: str) -> None:
        if not state["up"]:
            raise DependencyUnavailable("thing", "down for the test")

    async def thing_up() -> bool:
        return state["up"]

    policy = RetryPolicy(blips_s=(), delays_s=(0.2, 0.2, 0.2, 0.2))
    async with harness.start(kafka_bootstrap, redis_url, behaviour, [], policy) as h:
        sku = f"{h.run}-needs-thing"
        await h.send(sku)
        admin = DlqAdmin(kafka_bootstrap, redis, {h.group: [h.topic]})
        dlq = dlq_topic(h.topic, h.group)
        try:

            async def dead():
                recs = await admin.records(dlq, "pending", 10)
                return recs or None

            recs = await await_for("the dependency DLQ record", dead, 30)
            assert recs[0].reason == "dependency:thing" and recs[0].body["attempts"] == 5
            replayer = AutoReplayer(admin, {"thing": thing_up})
            assert await replayer.run_once() == []  # still down: nothing goes back
        finally:
            await admin.close()
        app = h.app({"thing": thing_up}, auto=True)
        async with app.router.lifespan_context(app):
            state["up"] = True
            recovered = time.monotonic()
            await await_for("the automatic replay applied", lambda: h.seen(sku), 10)
            took = time.monotonic() - recovered
            print(f"automatic replay: applied {took:.2f}s after recovery")  # noqa: T201 - with -s
            assert h.cids.count(h.correlation[sku]) == 1
        await asyncio.sleep(0)


async def test_the_replayer_follows_a_dlq_reading_each_record_once(
    kafka_bootstrap, redis_url, redis, harness, monkeypatch
):
    """Five dead letters, two records a round: each is read once over the rounds (not the
    whole DLQ every second), the poison ones stay put, the dependency one goes back once
    its check passes, and later rounds read nothing."""
    state = {"up": False}

    async def behaviour(sku: str) -> None:
        if "poison" in sku:
            raise PoisonMessage("never valid")
        if not state["up"]:
            raise DependencyUnavailable("thing", "down for the test")

    async def thing_up() -> bool:
        return state["up"]

    monkeypatch.setattr(dlq_auto, "SCAN_LIMIT", 2)
    policy = RetryPolicy(blips_s=(), delays_s=(0.2, 0.2, 0.2, 0.2))
    async with harness.start(kafka_bootstrap, redis_url, behaviour, [], policy) as h:
        for i in range(4):
            await h.send(f"{h.run}-poison-{i}")
        dep = f"{h.run}-needs-thing"
        await h.send(dep)
        admin = DlqAdmin(kafka_bootstrap, redis, {h.group: [h.topic]})
        dlq = dlq_topic(h.topic, h.group)
        reads: list[str] = []
        read_from = admin.read_from

        async def counting(topic, starts, limit):
            recs, pos, low = await read_from(topic, starts, limit)
            reads.extend(r.id for r in recs)
            return recs, pos, low

        monkeypatch.setattr(admin, "read_from", counting)
        try:

            async def all_dead():
                recs = await admin.records(dlq, "pending", 10)
                return recs if len(recs) == 5 else None

            await await_for("five DLQ records", all_dead, 30)
            reads.clear()  # from here on, only the replayer reads (records() reads too)
            replayer = AutoReplayer(admin, {"thing": thing_up})
            for _ in range(4):
                assert await replayer.run_once() == []  # the dependency is still down
            assert sorted(reads) == sorted(set(reads)) and len(reads) == 5
            state["up"] = True
            replayed = await replayer.run_once()
            assert len(replayed) == 1
            assert await replayer.run_once() == []
            assert len(reads) == 5  # nothing read twice
            (rec,) = await admin.records(dlq, "replayed", 10)
            assert rec.id == replayed[0] and rec.reason == "dependency:thing"
            await await_for("the replay applied", lambda: h.seen(dep), 10)
        finally:
            await admin.close()


async def test_a_quiet_dlq_round_asks_the_broker_for_its_own_topic_only(
    kafka_bootstrap, redis_url, redis, harness, monkeypatch
):
    """Following a DLQ that has nothing new costs a few offset lookups, not the metadata of
    every topic on the cluster (a shared broker has hundreds: under load that decoding took a
    quarter of order-consumer's CPU), and its partitions are looked up once, not every round."""
    asked: list[list[str] | None] = []
    update = AIOKafkaClient._metadata_update

    async def spying(self, cluster, topics):
        asked.append(None if not topics else sorted(topics))
        return await update(self, cluster, topics)

    async def behaviour(sku: str) -> None:
        raise PoisonMessage("never valid")

    async with harness.start(
        kafka_bootstrap, redis_url, behaviour, [], RetryPolicy(blips_s=())
    ) as h:
        await h.send(f"{h.run}-poison")
        admin = DlqAdmin(kafka_bootstrap, redis, {h.group: [h.topic]})
        dlq = dlq_topic(h.topic, h.group)
        try:

            async def dead():
                return await admin.records(dlq, "pending", 10) or None

            await await_for("the DLQ record", dead, 30)
            replayer = AutoReplayer(admin, {})
            await replayer.run_once()  # reads the record; from here on the DLQ is quiet
            monkeypatch.setattr(AIOKafkaClient, "_metadata_update", spying)
            for _ in range(5):
                assert await replayer.run_once() == []
            assert None not in asked, asked  # never the whole cluster's metadata
            assert len(asked) <= 1, asked
        finally:
            await admin.close()


async def test_a_dlq_not_created_yet_is_looked_for_quietly_and_found_once_it_is(
    kafka_bootstrap, redis, caplog, monkeypatch
):
    """Asking the broker for a missing topic by name makes the Kafka client log an error;
    a DLQ that does not exist yet (its group never started) is looked up in the cluster's
    metadata instead, at most every MISSING_TTL_S, and read as soon as it exists."""
    run = uuid.uuid4().hex[:8]
    group, topic = f"g-missing-{run}", f"t-missing-{run}"
    admin = DlqAdmin(kafka_bootstrap, redis, {group: [topic]})
    dlq = dlq_topic(topic, group)
    try:
        with caplog.at_level(logging.ERROR, logger="aiokafka"):
            for _ in range(3):
                assert await admin.bounds(dlq) == ([], {}, {})
        assert not [r for r in caplog.records if dlq in r.getMessage()]
        await ensure_topics(kafka_bootstrap, {dlq: 2}, 1)
        monkeypatch.setattr(dlq_admin, "MISSING_TTL_S", 0.0)

        async def found():
            tps, _, ends = await admin.bounds(dlq)
            return tps or None

        tps = await await_for("the new DLQ's partitions", found, 15)
        assert [tp.partition for tp in tps] == [0, 1]
    finally:
        await admin.close()
