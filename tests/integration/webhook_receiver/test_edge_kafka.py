"""The edge against the real broker and Redis: exactly one record per delivery, whatever
Shopify repeats, and the raw body of a signed invalid delivery kept in the DLQ."""

import asyncio
import base64
import uuid

import orjson
import pytest
from integration.webhook_receiver.edge import (
    count_until,
    post_shopify,
    reader,
    retry_until_acknowledged,
    running_receiver,
    write_stores,
)
from pydantic import SecretStr
from unit.webhook_receiver.harness import order_body, sample_body, shopify_headers

from stocksync_common.events import stable_id
from stocksync_common.topics import COMPLIANCE, WEBHOOKS_SHOPIFY, dlq_topic
from webhook_receiver.settings import Settings

pytestmark = pytest.mark.integration
SECRET = "edge-secret"


@pytest.fixture
def settings(tmp_path, kafka_bootstrap, redis_url, topics):
    shop = write_stores(tmp_path / "stores.yaml", SECRET)
    s = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        redis_url=redis_url,
        stores_file=str(tmp_path / "stores.yaml"),
        publish_timeout_s=2.0,
    )
    return s, shop


async def test_repeated_and_concurrent_copies_are_published_once(settings, kafka_bootstrap):
    s, shop = settings
    deliveries = [(order_body(), str(uuid.uuid4())) for _ in range(20)]
    async with (
        reader(kafka_bootstrap, WEBHOOKS_SHOPIFY) as consumer,
        running_receiver(s) as client,
    ):
        # Each delivery three times at once (Shopify's double delivery), then retried the
        # way Shopify retries until each one was acknowledged, then once more.
        first = await asyncio.gather(
            *(post_shopify(client, shop, SECRET, b, w) for b, w in deliveries for _ in range(3))
        )
        assert {r.status_code for r in first} <= {200, 503}
        # 503 (the dedupe ledger's Redis too slow to answer on a loaded machine) is a valid
        # answer: Shopify retries it, as the loop below does
        assert any(r.status_code == 200 for r in first)
        await retry_until_acknowledged(client, shop, SECRET, deliveries)
        again = await retry_until_acknowledged(client, shop, SECRET, deliveries)
        assert again == {"duplicate": len(deliveries)}
        wanted = {stable_id("shopify", shop, w) for _, w in deliveries}
        counts = await count_until(consumer, wanted, "event-id", timeout_s=20, settle_s=1.0)
    assert {e: n for e, n in counts.items() if e in wanted} == dict.fromkeys(wanted, 1)


async def test_compliance_goes_to_its_topic(settings, kafka_bootstrap):
    s, shop = settings
    body = sample_body("customers/redact", shop=shop)
    wid = str(uuid.uuid4())
    async with reader(kafka_bootstrap, COMPLIANCE) as consumer, running_receiver(s) as client:
        headers = shopify_headers(
            body, "customers/redact", webhook_id=wid, shop=shop, secret=SECRET.encode()
        )
        r = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 200
        counts = await count_until(consumer, {r.json()["event_id"]}, "event-id", 20, 0.2)
    assert counts[r.json()["event_id"]] == 1
    assert counts.keys() >= {stable_id("shopify", shop, wid)}


async def test_signed_invalid_json_keeps_the_exact_bytes(settings, kafka_bootstrap):
    s, shop = settings
    body = b'{"id": 1, "broken": \xff'
    wid = str(uuid.uuid4())
    dlq = dlq_topic(WEBHOOKS_SHOPIFY, "webhook-receiver")
    async with reader(kafka_bootstrap, dlq) as consumer, running_receiver(s) as client:
        headers = shopify_headers(
            body, "orders/create", webhook_id=wid, shop=shop, secret=SECRET.encode()
        )
        r = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 400
        found = None
        for _ in range(100):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for rec in records:
                    doc = orjson.loads(rec.value)
                    if doc["headers"].get("x-shopify-webhook-id") == wid:
                        found = doc
            if found:
                break
    assert found is not None
    assert base64.b64decode(found["value_b64"]) == body
    assert found["error"].startswith("body is not valid JSON")


async def test_parked_deliveries_are_counted_and_the_newest_listed(settings):
    s, shop = settings
    s = s.model_copy(update={"admin_token": SecretStr("edge-admin-token")})
    admin = {"Authorization": "Bearer edge-admin-token"}
    wid = str(uuid.uuid4())
    body = b'{"id": 7, "token": "cart-1", "email": "someone@example.test"}'
    headers = shopify_headers(
        body, "carts/create", webhook_id=wid, shop=shop, secret=SECRET.encode()
    )
    async with running_receiver(s) as client:
        before = (await client.get("/admin/parked", headers=admin)).json()
        posted = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert posted.status_code == 200
        doc = (await client.get("/admin/parked", params={"limit": 50}, headers=admin)).json()
        refused = await client.get("/admin/parked")
    assert doc["topic"] == "webhooks.parked.v1"
    assert doc["counts"]["carts/create"] >= before["counts"].get("carts/create", 0) + 1
    (mine,) = [r for r in doc["recent"] if r["webhook_id"] == wid]
    assert (mine["shop"], mine["shopify_topic"]) == (shop, "carts/create")
    assert mine["at"] > 0 and mine["record_bytes"] > len(body) // 2
    assert "someone@example.test" not in str(doc)  # never the body
    times = [r["at"] for r in doc["recent"]]
    assert times == sorted(times, reverse=True)
    assert refused.status_code == 401


def big_product(shop: str, variants: int) -> bytes:
    """Shopify's products/update sample grown to ``variants`` variants (Shopify allows 2,048):
    about 1.4 MB, more than Kafka's 1 MiB record limit uncompressed."""
    doc = orjson.loads(sample_body("products/update", shop=shop))
    model = doc["variants"][0]
    doc["variants"] = [
        {**model, "id": 10**12 + i, "sku": f"BIG-{i:05d}", "barcode": f"{4006381333931 + i}",
         "title": f"Size {i % 64} / Colour {i // 64} / Organic cotton blend",
         "option1": f"Size {i % 64}", "option2": f"Colour {i // 64}",
         "option3": "Organic cotton blend", "inventory_item_id": 2 * 10**12 + i,
         "admin_graphql_api_id": f"gid://shopify/ProductVariant/{10**12 + i}"}
        for i in range(variants)
    ]  # fmt: skip
    return orjson.dumps(doc)


async def test_a_product_with_2048_variants_is_published_whole(settings, kafka_bootstrap):
    """Records are compressed (lz4): a products webhook of Shopify's largest product, above
    1 MiB as JSON, fits the broker's record limit and reaches the topic whole."""
    s, shop = settings
    body = big_product(shop, 2048)
    assert len(body) > 1024 * 1024
    wid = str(uuid.uuid4())
    headers = shopify_headers(
        body, "products/update", webhook_id=wid, shop=shop, secret=SECRET.encode()
    )
    async with reader(kafka_bootstrap, WEBHOOKS_SHOPIFY) as consumer, running_receiver(s) as c:
        r = await c.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 200, r.text
        found = None
        for _ in range(150):
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for rec in records:
                    if dict(rec.headers).get("event-id") == r.json()["event_id"].encode():
                        found = rec
            if found:
                break
    assert found is not None and found.value is not None
    assert b'"BIG-02047"' in found.value and len(found.value) > len(body)  # the whole body
