from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from unit.webhook_receiver.harness import running_edge

from webhook_receiver.domain.wms import InvalidWmsEvent, parse_wms_event
from webhook_receiver.settings import Settings

# The transport is not the subject here (tests/unit/common/test_transport.py).
PRODUCTION = {"environment": "production", "allow_insecure_transport": True}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dedupe_ttl_s": 24 * 3600}, "48 hours"),
        ({"publish_timeout_s": 4.5}, "5 s deadline"),
        ({"max_body_bytes": 5 * 1024 * 1024}, "cannot be published"),
        ({"claim_ttl_s": 2.0}, "claim_ttl_s"),
        ({**PRODUCTION, "admin_token": "t" * 32}, "WMS_WEBHOOK_SECRET"),
        (
            {**PRODUCTION, "admin_token": "t" * 32, "wms_webhook_secret": "short"},
            "WMS_WEBHOOK_SECRET must be at least 32",
        ),
    ],
)
def test_settings_refuse_what_would_break_the_edge(overrides, message):
    with pytest.raises(ValidationError, match=message):
        Settings(**overrides)


def test_defaults_hold_the_bounds():
    s = Settings()
    assert s.dedupe_ttl_s >= 48 * 3600
    assert s.publish_timeout_s + 2 * s.redis_timeout_s < 5


async def test_openapi_describes_both_endpoints():
    async with running_edge() as edge:
        doc = (await edge.client.get("/openapi.json")).json()
    shopify = doc["paths"]["/webhooks/shopify"]["post"]
    required = {p["name"] for p in shopify["parameters"] if p["required"]}
    assert required == {
        "X-Shopify-Shop-Domain",
        "X-Shopify-Hmac-Sha256",
        "X-Shopify-Topic",
        "X-Shopify-Webhook-Id",
    }
    assert {"200", "400", "401", "413", "415", "429", "503"} <= set(shopify["responses"])
    wms = doc["paths"]["/webhooks/wms"]["post"]
    ref = wms["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["discriminator"]["mapping"]) == {
        "receipt",
        "adjustment",
        "cycle_count",
        "shipment",
    }
    assert "order_id" in doc["components"]["schemas"]["Shipment"]["required"]


@settings(max_examples=300)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_wms_parser_only_ever_raises_its_own_error(body):
    try:
        parse_wms_event(body)
    except InvalidWmsEvent as exc:
        assert exc.errors


def test_the_dlq_api_is_off_in_production_unless_turned_on():
    secrets: dict[str, Any] = {
        **PRODUCTION, "admin_token": "t" * 32, "wms_webhook_secret": "w" * 32
    }  # fmt: skip
    assert Settings.model_validate(secrets).dlq_api is False
    assert Settings.model_validate({**secrets, "dlq_api_enabled": True}).dlq_api is True
    assert Settings().dlq_api is True
    assert Settings(dlq_api_enabled=False).dlq_api is False


@pytest.mark.parametrize(("enabled", "status"), [(None, 401), (False, 404)])
async def test_the_receiver_mounts_the_dlq_api_only_when_enabled(enabled, status):
    async with running_edge(dlq_api_enabled=enabled) as edge:
        assert (await edge.client.get("/admin/dlq")).status_code == status
        paths = (await edge.client.get("/openapi.json")).json()["paths"]
        assert ("/admin/dlq" in paths) is (enabled is None)
