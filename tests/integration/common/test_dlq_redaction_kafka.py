"""customers/redact reaches what a DLQ already holds (stocksync_common.dlq.redaction), on the
real Kafka and Redis: once the customer is on the redaction list, the DLQ API shows their dead
letter without their data to every role (admins too), a replay sends the record without it
(and the consumer handles it), a value that is not JSON is withheld and refused replay, and
``stocksync-dlq`` shows records masked unless ``--raw`` (audited), never the erased data."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from redis.asyncio import Redis

from stocksync_common.consumer import PoisonMessage, RetryPolicy
from stocksync_common.dlq.redaction import RedisRedactions, email_subject
from stocksync_common.events import InventoryCommand, InventoryCommandRequested, encode
from stocksync_common.topics import dlq_topic, retry_topic
from support.dlq_cli import cli, run_cli
from support.poll import await_for

pytestmark = pytest.mark.integration
TOKEN = "it-admin-token"  # noqa: S105 - the harness's bootstrap token


def carrying_a_customer(sku: str, customer: int, email: str) -> bytes:
    """A command event with a sale in its payload (a field no consumer reads)."""
    event = InventoryCommandRequested(
        source="it",
        payload=InventoryCommand(
            command="adjust", idempotency_key=sku, sku=sku, location="l", quantity=1
        ),
    )
    doc = orjson.loads(encode(event))
    doc["payload"]["sale"] = {
        "id": 9001, "email": email, "line_items": [{"sku": sku, "quantity": 1}],
        "customer": {"id": customer, "first_name": "Ann", "phone": "+44 20 7946 0958"},
    }  # fmt: skip
    return orjson.dumps(doc)


async def _retried_values(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=2000)
        return [r.value or b"" for records in batch.values() for r in records]
    finally:
        await consumer.stop()


async def test_a_redacted_customers_dead_letters_are_read_and_replayed_without_their_data(
    kafka_bootstrap: str, redis_url: str, harness: Any, redis: Redis
) -> None:
    fixed = {"on": False}

    async def behaviour(sku: str) -> None:
        if not fixed["on"]:
            raise PoisonMessage("not yet")

    customer, email = int(uuid.uuid4().int % 10**12), f"ann.{uuid.uuid4().hex[:6]}@example.com"
    auth = {"Authorization": f"Bearer {TOKEN}"}  # the bootstrap token: every scope
    async with harness.start(kafka_bootstrap, redis_url, behaviour, [], RetryPolicy()) as h:
        sku = f"{h.run}-erased"
        await h.producer.send_and_wait(h.topic, carrying_a_customer(sku, customer, email), key=b"k")
        # not JSON, naming the customer by email only
        await h.producer.send_and_wait(h.topic, f"junk for {email}".encode(), key=b"junk")
        dlq, app = dlq_topic(h.topic, h.group), h.app()
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as api,
        ):

            async def both() -> list[dict[str, Any]] | None:
                r = await api.get("/admin/dlq/records", params={"topic": dlq}, headers=auth)
                return r.json()["records"] if len(r.json()["records"]) == 2 else None

            records = await await_for("both dead letters", both, 60)
            by_key = {r["key"]: r["id"] for r in records or []}
            raw = await api.get(f"/admin/dlq/records/{by_key['k']}", headers=auth)
            assert email in raw.text and raw.json()["redacted"] is False  # before the erasure

            await RedisRedactions(redis).add([f"customer:{customer}", email_subject(email)])
            for rid in by_key.values():
                shown = (await api.get(f"/admin/dlq/records/{rid}", headers=auth)).json()
                assert shown["redacted"] is True and shown["masked"] is False  # an admin's view
                text = json.dumps(shown)
                assert email not in text and "Ann" not in text and "7946" not in text
            listed = await api.get("/admin/dlq/records", params={"topic": dlq}, headers=auth)
            assert email not in listed.text

            fixed["on"] = True
            done = await api.post("/admin/dlq/replay", json={"topic": dlq, "all": True},
                                  headers=auth)  # fmt: skip
            assert done.json()["replayed"] == 1
            [why] = done.json()["refused"].values()  # the junk: not JSON, so not strippable
            assert why.startswith("redacted:") and "not JSON" in why
            await await_for("the stripped replay handled", lambda: h.seen(sku), 30)
            sent = await _retried_values(kafka_bootstrap, retry_topic(h.topic, h.group))
            assert sent and all(email.encode() not in v and b"Ann" not in v for v in sent)
            assert any(b'"line_items"' in v for v in sent)  # what names no one was kept

        # the CLI: masked by default; --raw is audited, and an erased customer stays erased
        code, out = await cli(h, "show", by_key["junk"])
        assert code == 0 and email not in out
        code, out, err = await run_cli(h, "show", by_key["k"], "--raw")
        assert code == 0 and email not in out and '"redacted": true' in out
        [line] = [json.loads(x) for x in err.splitlines() if "read raw" in x]
        assert line["msg"] == "audit: dlq record read raw" and line["who"].startswith("cli:")


async def test_the_cli_shows_dead_letters_masked_unless_raw_and_audits_raw_reads(
    kafka_bootstrap: str, redis_url: str, harness: Any
) -> None:
    async def never(_sku: str) -> None:
        raise PoisonMessage("never")

    email = f"bob.{uuid.uuid4().hex[:6]}@example.com"
    async with harness.start(kafka_bootstrap, redis_url, never, [], RetryPolicy()) as h:
        sku = f"{h.run}-kept"
        value = carrying_a_customer(sku, 1, email)
        await h.producer.send_and_wait(h.topic, value, key=b"k")
        dlq = dlq_topic(h.topic, h.group)

        async def listed() -> list[dict[str, Any]] | None:
            code, out = await cli(h, "list", "--topic", dlq, "--json")
            rows = [orjson.loads(x) for x in out.splitlines() if x.startswith("{")]
            return (code == 0 and rows) or None

        [row] = await await_for("the dead letter", listed, 60) or []
        code, out, err = await run_cli(h, "show", row["id"])
        assert code == 0 and email not in out and '"masked": true' in out
        assert "read raw" not in err
        code, out, err = await run_cli(h, "show", row["id"], "--raw")
        assert code == 0 and email in out and '"masked": false' in out
        [line] = [json.loads(x) for x in err.splitlines() if "read raw" in x]
        assert line["record"] == row["id"] and line["who"].startswith("cli:")
        code, out, err = await run_cli(h, "list", "--topic", dlq, "--raw", "--json")
        assert code == 0 and "audit: dlq records read raw" in err
