"""No Redis answering the receiver: every delivery is answered 503 with Retry-After (Shopify
sends it again), never 500, and the readiness probe says not ready. On one Redis and on a
Redis Cluster alike: the cluster client's "no node answers" is a ``RedisClusterException``,
not a ``RedisError`` (docs/decisions/0029-redis-cluster.md), and it used to escape as a 500.

Redis here is a port where nothing listens, whatever Redis the suite runs on; Kafka is the
suite's broker (the receiver's producer starts with the app)."""

from __future__ import annotations

import uuid

import pytest
from integration.webhook_receiver.edge import post_shopify, running_receiver, write_stores
from unit.webhook_receiver.harness import sample_body, shopify_headers

from webhook_receiver.settings import Settings

pytestmark = pytest.mark.integration
SECRET = "unanswered-secret"
NOBODY = "127.0.0.1:1"  # connection refused at once


@pytest.fixture(params=["redis", "redis+cluster"])
def settings(request, tmp_path, kafka_bootstrap, topics):
    shop = write_stores(tmp_path / "stores.yaml", SECRET)
    s = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        redis_url=f"{request.param}://{NOBODY}/0",
        redis_timeout_s=1.0,
        stores_file=str(tmp_path / "stores.yaml"),
        publish_timeout_s=2.0,
    )
    return s, shop


def assert_retry_later(r) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert "retry later" in r.json()["detail"]


async def test_an_order_delivery_is_answered_503_retry_later(settings):
    s, shop = settings
    async with running_receiver(s) as client:
        body = b'{"id": 4242, "line_items": []}'
        r = await post_shopify(client, shop, SECRET, body, str(uuid.uuid4()))
        assert_retry_later(r)


async def test_a_redact_request_is_answered_503_retry_later(settings):
    s, shop = settings
    body = sample_body("customers/redact", shop=shop)
    headers = shopify_headers(body, "customers/redact", shop=shop, secret=SECRET.encode())
    async with running_receiver(s) as client:
        r = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert_retry_later(r)


async def test_readiness_says_redis_is_not_ready(settings):
    s, _ = settings
    async with running_receiver(s) as client:
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "not-ready"
        assert r.json()["checks"]["redis"] is False
