"""The Shopify endpoint's HTTP contract, in process with a recording producer and ledger."""

import base64
import json
import uuid

import orjson
import pytest
from redis.exceptions import RedisClusterException
from unit.webhook_receiver.harness import (
    ISSUE_TOPICS,
    OLD_SECRET,
    OTHER_SECRET,
    OTHER_SHOP,
    SHOP,
    FakeLedger,
    FakeProducer,
    order_body,
    running_edge,
    sample_body,
    shopify_headers,
    sign,
)

from stocksync_common.events import ComplianceRequestReceived, ShopifyWebhookReceived, stable_id
from stocksync_common.pii import without_pii
from stocksync_common.topics import COMPLIANCE, WEBHOOKS_PARKED, WEBHOOKS_SHOPIFY, dlq_topic
from support.redis_errors import cluster_refusal, cluster_unreachable
from webhook_receiver.domain.routing import route_for


async def metric(edge, sample: str) -> float:
    """The value of one sample line of /metrics (0 when absent)."""
    for line in (await edge.client.get("/metrics")).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


DLQ = dlq_topic(WEBHOOKS_SHOPIFY, "webhook-receiver")


@pytest.mark.parametrize("topic", ISSUE_TOPICS)
async def test_real_sample_of_every_topic_is_verified_and_routed(topic):
    body = sample_body(topic)
    webhook_id = str(uuid.uuid4())
    async with running_edge() as edge:
        r = await edge.shopify(body, topic, webhook_id=webhook_id)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "status": "accepted",
            "event_id": stable_id("shopify", SHOP, webhook_id),
        }
        (sent,) = edge.producer.sent
        route = route_for(topic)
        assert sent.topic == route.kafka_topic
        event = sent.event()
        assert event.id == r.json()["event_id"]
        assert dict(sent.headers)["type"] == event.type.encode()
        if route.compliance:
            assert isinstance(event, ComplianceRequestReceived)
            assert event.payload.topic == topic
            assert sent.key == SHOP
        else:
            assert isinstance(event, ShopifyWebhookReceived)
            assert event.payload.topic == topic
            # as signed, but for customer data on order-family and parked topics (#22)
            minimise = route.handler == "order-consumer" or route.parked
            expected = without_pii(json.loads(body))[0] if minimise else json.loads(body)
            assert event.payload.body == expected
            assert sent.key == SHOP if not route.key_path else sent.key.startswith(f"{SHOP}/")
        recorded = any(k.endswith(webhook_id) for k in edge.ledger.done())
        assert recorded == (topic != "shop/redact")  # shop/redact erases the shop's records
        # The same sample, tampered with by one byte, is refused and publishes nothing.
        tampered = body[:-1] + bytes([body[-1] ^ 1])
        forged = await edge.shopify(body, topic, X_Shopify_Hmac_Sha256=sign(tampered))
        assert forged.status_code == 401
        assert len(edge.producer.sent) == 1


async def test_unknown_topic_is_accepted_counted_and_parked():
    async with running_edge() as edge:
        parked = 'stocksync_webhooks_parked_total{topic="carts/create"}'
        before = await metric(edge, parked)
        r = await edge.shopify(b'{"id": 7}', "carts/create")
        assert r.status_code == 200
        (sent,) = edge.producer.sent
        assert sent.topic == WEBHOOKS_PARKED
        assert sent.event().payload.topic == "carts/create"
        assert await metric(edge, parked) == before + 1


async def test_duplicate_delivery_is_acknowledged_without_a_second_publish():
    body, wid = order_body(), str(uuid.uuid4())
    async with running_edge() as edge:
        first = await edge.shopify(body, webhook_id=wid)
        again = await edge.shopify(body, webhook_id=wid)
        assert (first.status_code, again.status_code) == (200, 200)
        assert again.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
        assert len(edge.producer.sent) == 1
        (value,) = edge.ledger.done().values()
        assert value.startswith(f"done:{first.json()['event_id']}:")


async def test_rotation_old_secret_accepted_other_shops_secret_refused():
    async with running_edge() as edge:
        assert (await edge.shopify(order_body(), secret=OLD_SECRET)).status_code == 200
        # A valid signature by another shop's secret is still a forgery for this shop.
        assert (await edge.shopify(order_body(), secret=OTHER_SECRET)).status_code == 401
        assert (
            await edge.shopify(order_body(), secret=OTHER_SECRET, shop=OTHER_SHOP)
        ).status_code == 200
        assert len(edge.producer.sent) == 2


@pytest.mark.parametrize(
    ("overrides", "status", "detail"),
    [
        ({"X_Shopify_Shop_Domain": "nobody.myshopify.com"}, 401, "unknown shop"),
        ({"X_Shopify_Shop_Domain": None}, 401, "unknown shop"),
        ({"X_Shopify_Hmac_Sha256": None}, 401, "missing signature"),
        ({"X_Shopify_Hmac_Sha256": "AAAA"}, 401, "invalid webhook signature"),
        ({"X_Shopify_Topic": None}, 400, "missing header X-Shopify-Topic"),
        ({"X_Shopify_Webhook_Id": None}, 400, "missing header X-Shopify-Webhook-Id"),
        ({"X_Shopify_Webhook_Id": "x" * 300}, 400, "invalid header X-Shopify-Webhook-Id"),
        ({"Content_Type": "text/plain"}, 415, "Content-Type"),
        ({"Content_Type": None}, 415, "Content-Type"),
    ],
)
async def test_refusals_publish_and_record_nothing(overrides, status, detail):
    async with running_edge() as edge:
        r = await edge.shopify(order_body(), **overrides)
        assert r.status_code == status
        assert detail in r.json()["detail"]
        assert edge.producer.sent == [] and edge.ledger.values == {}


async def test_json_content_type_with_charset_is_fine():
    async with running_edge() as edge:
        r = await edge.shopify(order_body(), Content_Type="application/json; charset=utf-8")
        assert r.status_code == 200


async def test_oversized_body_is_413_declared_or_not():
    big = orjson.dumps({"id": 1, "pad": "x" * 70_000})
    async with running_edge() as edge:
        assert (await edge.shopify(big)).status_code == 413

        async def chunks():
            yield big[:40_000]
            yield big[40_000:]

        r = await edge.client.post(
            "/webhooks/shopify", content=chunks(), headers=shopify_headers(big, "orders/create")
        )
        assert r.status_code == 413
        assert edge.producer.sent == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe{}", b""])
async def test_signed_invalid_json_is_400_and_the_raw_body_is_kept(body):
    wid = str(uuid.uuid4())
    async with running_edge() as edge:
        r = await edge.shopify(body, webhook_id=wid)
        assert r.status_code == 400
        (sent,) = edge.producer.sent
        assert sent.topic == DLQ
        doc = orjson.loads(sent.value)
        assert base64.b64decode(doc["value_b64"]) == body
        assert doc["headers"]["x-shopify-webhook-id"] == wid
        assert "x-shopify-hmac-sha256" not in doc["headers"]
        assert doc["original_topic"] == WEBHOOKS_SHOPIFY
        assert edge.ledger.values == {}


async def test_invalid_json_when_the_dlq_cannot_take_it_is_503():
    async with running_edge(FakeProducer(mode="fail")) as edge:
        assert (await edge.shopify(b"{oops")).status_code == 503


async def test_per_shop_rate_guard():
    clock = [1_000_000.0]
    async with running_edge(shop_rate_limit_per_s=3) as edge:
        edge.container.intake.clock = lambda: clock[0]
        codes = [(await edge.shopify(order_body())).status_code for _ in range(5)]
        other = await edge.shopify(order_body(), secret=OTHER_SECRET, shop=OTHER_SHOP)
        clock[0] += 1
        later = await edge.shopify(order_body())
        assert codes == [200, 200, 200, 429, 429]
        assert other.status_code == 200 and later.status_code == 200
        assert len(edge.producer.sent) == 5


async def test_broker_refusing_is_503_and_nothing_is_recorded():
    async with running_edge(FakeProducer(mode="fail")) as edge:
        r = await edge.shopify(order_body())
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert edge.ledger.values == {}


async def test_record_too_large_for_kafka_is_413_not_a_retry_loop():
    async with running_edge(FakeProducer(mode="too_large")) as edge:
        assert (await edge.shopify(order_body())).status_code == 413
        assert edge.ledger.values == {}


async def test_ledger_down_is_503_and_nothing_is_published():
    async with running_edge(ledger=FakeLedger(down=True)) as edge:
        r = await edge.shopify(order_body())
        assert r.status_code == 503 and edge.producer.sent == []


class RaisingLedger(FakeLedger):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def _call(self, op: str) -> None:
        self.calls.append(op)
        raise self.error


async def test_no_node_of_a_redis_cluster_answering_is_503_like_one_redis_down():
    async with running_edge(ledger=RaisingLedger(cluster_unreachable())) as edge:
        r = await edge.shopify(order_body())
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert edge.producer.sent == []


async def test_a_call_the_cluster_client_refuses_is_a_bug_not_redis_down():
    async with running_edge(ledger=RaisingLedger(cluster_refusal())) as edge:
        with pytest.raises(RedisClusterException, match="same key slot"):
            await edge.shopify(order_body())  # a 500: loud, never a retry loop
        assert edge.producer.sent == []


async def test_request_path_is_one_ledger_call_one_publish_one_record():
    async with running_edge() as edge:
        await edge.shopify(order_body())
        assert edge.ledger.calls == ["begin", "record"]
        assert len(edge.producer.sent) == 1


async def test_shop_redact_erases_that_shops_delivery_records_only():
    async with running_edge() as edge:
        erased = 'stocksync_compliance_erased_records_total{topic="shop/redact"}'
        before = await metric(edge, erased)
        for _ in range(3):
            await edge.shopify(order_body())
        await edge.shopify(order_body(), secret=OTHER_SECRET, shop=OTHER_SHOP)
        r = await edge.shopify(sample_body("shop/redact"), "shop/redact")
        assert r.status_code == 200
        remaining = list(edge.ledger.values)
        assert remaining and all(OTHER_SHOP in k for k in remaining)
        (sent,) = edge.producer.on(COMPLIANCE)
        assert sent.event().payload.topic == "shop/redact"
        # Three orders and the shop/redact delivery itself, recorded before the erasure ran.
        assert await metric(edge, erased) == before + 4


async def test_customers_redact_erases_no_receiver_records():
    async with running_edge() as edge:
        await edge.shopify(order_body())
        r = await edge.shopify(sample_body("customers/redact"), "customers/redact")
        assert r.status_code == 200
        assert len(edge.ledger.done()) == 2
        assert "erase" not in edge.ledger.calls


async def test_a_parked_delivery_is_noted_for_the_console_without_its_body():
    async with running_edge() as edge:
        wid = str(uuid.uuid4())
        r = await edge.shopify(b'{"id": 7, "email": "a@b.test"}', "carts/create", webhook_id=wid)
        assert r.status_code == 200
        token = edge.container.settings.admin_token.get_secret_value()
        admin = {"Authorization": f"Bearer {token}"}
        doc = (await edge.client.get("/admin/parked", headers=admin)).json()
    assert doc["counts"] == {"carts/create": 1}
    (note,) = doc["recent"]
    assert (note["shopify_topic"], note["webhook_id"]) == ("carts/create", wid)
    assert "a@b.test" not in str(doc)
