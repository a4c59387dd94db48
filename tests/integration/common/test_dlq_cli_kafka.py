"""``stocksync-dlq`` (the installed console script) on the real Kafka and Redis: list, show,
replay (idempotent, keeping the correlation id) and purge with confirmation."""

import orjson
import pytest

from stocksync_common.consumer import PoisonMessage, RetryPolicy
from stocksync_common.topics import dlq_topic
from support.dlq_cli import cli
from support.poll import await_for

pytestmark = pytest.mark.integration


async def test_cli_lists_shows_replays_and_purges(kafka_bootstrap, redis_url, harness):
    fixed = {"on": False}

    async def behaviour(sku: str) -> None:
        if sku.endswith("broken") and not fixed["on"]:
            raise PoisonMessage("not yet")

    async with harness.start(kafka_bootstrap, redis_url, behaviour, [], RetryPolicy()) as h:
        sku = f"{h.run}-broken"
        await h.send(sku)
        dlq = dlq_topic(h.topic, h.group)

        async def listed():
            code, out = await cli(h, "--json", "list", "--topic", dlq)
            rows = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
            return (code == 0 and rows) or None

        (row,) = await await_for("the record in the CLI list", listed, 60)
        assert row["key"] == sku and row["reason"] == "poison" and row["status"] == "pending"
        code, out = await cli(h, "show", row["id"])
        shown = orjson.loads(out[out.index("{") :])
        assert code == 0 and shown["correlation_id"] == h.correlation[sku]
        assert shown["headers"]["correlation-id"] == h.correlation[sku]

        fixed["on"] = True
        code, out = await cli(h, "--json", "replay", row["id"])
        assert code == 0 and '"replayed":1' in out
        code, out = await cli(h, "--json", "replay", row["id"])
        assert code == 0 and '"replayed":0' in out
        await await_for("the replay handled", lambda: h.seen(sku), 30)
        assert h.cids == [h.correlation[sku]]

        code, out = await cli(h, "purge", "--topic", dlq, stdin=b"wrong\n")
        assert code == 2 and "nothing purged" in out
        code, out = await cli(h, "--json", "purge", "--topic", dlq, "--confirm", dlq)
        assert code == 0 and '"purged":1' in out
        code, out = await cli(h, "--json", "list", "--topic", dlq, "--status", "all")
        assert code == 0 and "{" not in out


async def test_cli_errors_are_plain_and_a_record_that_cannot_succeed_is_not_replayed(
    kafka_bootstrap, redis_url, harness
):
    async def behaviour(sku: str) -> None:
        return None

    async with harness.start(kafka_bootstrap, redis_url, behaviour, [], RetryPolicy()) as h:
        code, out = await cli(h, "show", "abc")
        assert code == 2 and "invalid record id 'abc'" in out and "Traceback" not in out
        code, out = await cli(h, "list", "--topic", "no.such.topic")
        assert code == 2 and "no DLQ topic 'no.such.topic'" in out and "Traceback" not in out
        # a record that is not an event: dead-lettered for its schema
        await h.producer.send_and_wait(h.topic, b"not an event", key=b"junk")
        dlq = dlq_topic(h.topic, h.group)

        async def listed():
            code, out = await cli(h, "list", "--topic", dlq, "--json")
            rows = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
            return (code == 0 and rows) or None

        (row,) = await await_for("the schema dead letter", listed, 60)
        assert row["reason"].startswith("schema") and row["replayable"] is False
        code, out = await cli(h, "replay", row["id"])
        assert code == 1 and "refused" in out and "fails to parse again" in out
        code, out = await cli(h, "replay", "--topic", dlq, "--all", "--json")
        summary = orjson.loads(out[out.index("{") :])
        assert code == 1 and summary["replayed"] == 0 and list(summary["refused"]) == [row["id"]]
        code, out = await cli(h, "list", "--topic", dlq, "--json")
        (again,) = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert again["status"] == "pending"  # nothing was sent: no new dead letter either
