"""customers/redact and shop/redact put what they erase on the dead letters' redaction list
(stocksync_common.dlq.redaction) before the receiver answers: when the list cannot be
written the request is refused with 503 (Shopify sends it again), and nothing is published."""

from __future__ import annotations

import json
from collections.abc import Iterable

from redis.exceptions import ConnectionError as RedisConnectionError
from unit.webhook_receiver.harness import SHOP, running_edge, sample_body

from stocksync_common.dlq.redaction import MemoryRedactions, email_subject
from stocksync_common.topics import COMPLIANCE


class Unreachable(MemoryRedactions):
    async def add(self, subjects: Iterable[str]) -> None:
        raise RedisConnectionError("gone")


async def test_customers_redact_lists_the_customer_their_email_digest_and_orders() -> None:
    async with running_edge() as edge:
        body = sample_body("customers/redact")
        assert (await edge.shopify(body, "customers/redact")).status_code == 200
        doc = json.loads(body)
        listed = await edge.container.redactions.current()
        assert listed == {
            f"customer:{doc['customer']['id']}",
            email_subject(doc["customer"]["email"]),
            *(f"order:{o}" for o in doc["orders_to_redact"]),
        }
        assert (await edge.shopify(sample_body("shop/redact"), "shop/redact")).status_code == 200
        assert f"shop:{SHOP}" in await edge.container.redactions.current()


async def test_an_erasure_that_cannot_be_listed_is_refused_and_not_published() -> None:
    async with running_edge() as edge:
        edge.container.redactions = Unreachable()
        r = await edge.shopify(sample_body("customers/redact"), "customers/redact")
        assert r.status_code == 503 and edge.producer.on(COMPLIANCE) == []
        # an order webhook lists nothing and is not held up by the list
        assert (await edge.shopify(sample_body("orders/create"))).status_code == 200
