"""The intake's durability rules: nothing is recorded as seen before Kafka acknowledged it,
and a publish that outlived its answer keeps its claim until it settles."""

import asyncio
import uuid

import pytest
from unit.webhook_receiver.harness import FakeLedger, FakeProducer, order_body, running_edge

from support.poll import await_for
from webhook_receiver.adapters.ledger import PENDING, seen_key


def key_of(shop: str, wid: str) -> str:
    return seen_key(shop, wid)


async def test_ack_before_record_record_only_after_ack():
    producer = FakeProducer(mode="hang")
    wid = str(uuid.uuid4())
    async with running_edge(producer, publish_timeout_s=2.0) as edge:
        shop = "fake-shop.myshopify.com"
        pending = asyncio.create_task(edge.shopify(order_body(), webhook_id=wid))
        await await_for("record held by the producer", lambda: _held(producer))
        # In flight: claimed, not seen; a concurrent copy is told to retry, not acknowledged.
        assert edge.ledger.values[key_of(shop, wid)].startswith(PENDING)
        copy = await edge.shopify(order_body(), webhook_id=wid)
        assert copy.status_code == 503 and "being published" in copy.json()["detail"]
        producer.release(landed=True)
        assert (await pending).status_code == 200
        assert edge.ledger.values[key_of(shop, wid)].startswith("done:")
        assert len(producer.sent) == 1


async def _held(producer: FakeProducer) -> bool:
    return bool(producer.held)


@pytest.mark.parametrize("landed", [True, False])
async def test_publish_outliving_the_answer_is_in_doubt_until_it_settles(landed):
    producer = FakeProducer(mode="hang")
    wid = str(uuid.uuid4())
    shop = "fake-shop.myshopify.com"
    async with running_edge(producer, publish_timeout_s=0.05) as edge:
        first = await edge.shopify(order_body(), webhook_id=wid)
        assert first.status_code == 503
        key = key_of(shop, wid)
        assert edge.ledger.values[key].startswith(PENDING)  # claimed, never "seen"
        assert edge.container.intake.in_doubt == {key: edge.ledger.values[key][len(PENDING) :]}
        retry = await edge.shopify(order_body(), webhook_id=wid)
        assert retry.status_code == 503  # still in doubt: no second publish
        assert len(producer.held) == 1

        producer.release(landed=landed)

        async def settled() -> bool:
            return not edge.container.intake.in_doubt

        await await_for("in-doubt record settled", settled, timeout_s=5)
        producer.mode = "ack"
        final = await edge.shopify(order_body(), webhook_id=wid)
        assert final.status_code == 200
        if landed:  # the late record counts: the retry is a duplicate
            assert final.json()["status"] == "duplicate"
            assert len(producer.sent) == 1
        else:  # it failed: the claim was released and the retry publishes
            assert final.json()["status"] == "accepted"
            assert len(producer.sent) == 1
        assert edge.ledger.values[key].startswith("done:")


async def test_in_doubt_claims_are_refreshed_while_held():
    producer = FakeProducer(mode="hang")
    ledger = FakeLedger()
    async with running_edge(producer, ledger, publish_timeout_s=0.05, claim_ttl_s=0.3) as edge:
        assert (await edge.shopify(order_body())).status_code == 503

        async def refreshed() -> bool:
            return ledger.calls.count("keep") >= 2

        await await_for("claims refreshed", refreshed, timeout_s=5)
        producer.release(landed=False)
