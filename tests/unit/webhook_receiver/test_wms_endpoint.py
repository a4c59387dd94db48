import uuid
from datetime import UTC, datetime

import orjson
import pytest
from unit.webhook_receiver.harness import FakeProducer, running_edge

from stocksync_common.events import WmsWebhookReceived
from stocksync_common.topics import WEBHOOKS_WMS, dlq_topic


def receipt(event_id: str | None = None, quantity: int = 5) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id or str(uuid.uuid4()),
            "event_type": "receipt",
            "occurred_at": datetime.now(UTC).isoformat(),
            "warehouse_id": "WH1",
            "lines": [{"sku": "TEE", "quantity": quantity, "location": "wh-1"}],
        }
    )


async def test_signed_event_is_published_once():
    body = receipt()
    async with running_edge() as edge:
        first = await edge.wms(body, X_WMS_Event_Type="receipt")
        again = await edge.wms(body)
        assert (first.status_code, again.status_code) == (200, 200)
        assert again.json()["status"] == "duplicate"
        (sent,) = edge.producer.sent
        assert sent.topic == WEBHOOKS_WMS
        event = sent.event()
        assert isinstance(event, WmsWebhookReceived)
        assert event.payload.lines[0].quantity == 5


@pytest.mark.parametrize(("signature", "status"), [("00" * 32, 401), ("not hex", 401), ("", 401)])
async def test_bad_signature(signature, status):
    async with running_edge() as edge:
        r = await edge.client.post(
            "/webhooks/wms",
            content=receipt(),
            headers={"Content-Type": "application/json", "X-WMS-Signature": signature},
        )
        assert r.status_code == status
        assert edge.producer.sent == []


async def test_schema_violation_per_type_is_400_with_reasons_and_kept():
    body = receipt(quantity=0)
    async with running_edge() as edge:
        r = await edge.wms(body)
        assert r.status_code == 400
        assert any("quantity" in e for e in r.json()["errors"])
        (sent,) = edge.producer.sent
        assert sent.topic == dlq_topic(WEBHOOKS_WMS, "webhook-receiver")
        assert orjson.loads(sent.value)["value"] == body.decode()


async def test_event_type_header_must_match_the_body():
    async with running_edge() as edge:
        r = await edge.wms(receipt(), X_WMS_Event_Type="shipment")
        assert r.status_code == 400
        assert edge.producer.sent == []


async def test_broker_down_is_503_and_not_recorded():
    async with running_edge(FakeProducer(mode="fail")) as edge:
        assert (await edge.wms(receipt())).status_code == 503
        assert edge.ledger.values == {}
