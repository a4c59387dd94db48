"""Compliance requests erase or report what order-consumer keeps (real Redis)."""

import uuid

import orjson
import pytest

from order_consumer.adapters.redis_orders import erased_shop_key, order_key
from order_consumer.compliance import ComplianceHandler, report_key
from stocksync_common.events import ComplianceRequest

pytestmark = pytest.mark.integration


def request(topic: str, shop: str, order_ids: list[str]) -> ComplianceRequest:
    return ComplianceRequest(
        topic=topic,  # type: ignore[arg-type]
        shop=shop,
        webhook_id=uuid.uuid4().hex,
        customer_id="207119551",
        order_ids=order_ids,
    )


@pytest.fixture
async def orders(redis):
    shop = f"s{uuid.uuid4().hex[:8]}.myshopify.com"
    for oid in ("1", "2", "3"):
        await redis.hset(order_key(shop, oid), mapping={"rev": 1, "doc": orjson.dumps({"id": oid})})
    await redis.set(f"webhook:seen:{{{shop}}}:w1", "x")
    return shop


async def docs(redis, shop: str, *oids: str) -> list[bytes | None]:
    return [await redis.hget(order_key(shop, oid), "doc") for oid in oids]


async def test_customer_redact_erases_only_the_orders_named(redis, orders):
    handler = ComplianceHandler(redis)
    assert await handler.handle(request("customers/redact", orders, ["1", "3", "404"]), "r1") == 2
    assert await docs(redis, orders, "1", "3") == [None, None]
    assert await docs(redis, orders, "2") != [None]
    # each order named keeps a tombstone only (ADR 0022, d), the one never seen too
    for oid in ("1", "3", "404"):
        tomb = await redis.hgetall(order_key(orders, oid))
        assert set(tomb) == {b"rev", b"erased"} and await redis.ttl(order_key(orders, oid)) > 0
    assert await handler.handle(request("customers/redact", orders, ["1"]), "r1") == 0  # idempotent


async def test_shop_redact_erases_every_order_of_the_shop_and_its_deliveries(redis, orders):
    other = f"o{uuid.uuid4().hex[:8]}.myshopify.com"
    await redis.hset(order_key(other, "1"), mapping={"rev": 1, "doc": b"{}"})
    assert await ComplianceHandler(redis).handle(request("shop/redact", orders, []), "r2") == 3
    assert await docs(redis, orders, "1", "2", "3") == [None, None, None]
    assert await redis.exists(erased_shop_key(orders)) == 1  # the shop's tombstone
    assert await redis.exists(f"webhook:seen:{{{orders}}}:w1") == 0
    assert await docs(redis, other, "1") == [b"{}"]  # another shop is untouched
    assert await redis.exists(erased_shop_key(other)) == 0


async def test_data_request_reports_what_is_kept(redis, orders):
    rid = uuid.uuid4().hex
    assert (
        await ComplianceHandler(redis).handle(request("customers/data_request", orders, ["2"]), rid)
        == 1
    )
    report = orjson.loads(await redis.get(report_key(rid)))
    assert report["orders"] == {"2": {"id": "2"}} and report["customer_id"] == "207119551"
    assert await redis.exists(order_key(orders, "2")) == 1  # nothing erased
