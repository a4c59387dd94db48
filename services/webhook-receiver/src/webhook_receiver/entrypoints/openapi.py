"""The OpenAPI description of the two webhook endpoints.

The routes read the raw body themselves (the signature covers the exact bytes, so nothing
may parse it first), which is why headers and bodies are described here rather than derived
from typed parameters.
"""

from __future__ import annotations

from typing import Any

from webhook_receiver.domain.wms import WMS_EVENT
from webhook_receiver.entrypoints.edge import WebhookAck, WebhookError

REF = "#/components/schemas/{model}"


def _header(name: str, description: str, *, required: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


def _error(description: str) -> dict[str, Any]:
    return {"model": WebhookError, "description": description}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    known: dict[int, dict[str, Any]] = {
        200: {"model": WebhookAck, "description": "Published durably (or already was)"},
        400: _error("Missing header, or a signed body that is not valid (kept in the DLQ)"),
        401: _error("Unknown shop, or a missing or wrong signature; nothing published"),
        413: _error("Body too large"),
        415: _error("Content-Type is not application/json"),
        429: _error("Too many deliveries from this sender this second; retry"),
        503: _error("The event log could not take the delivery in time; retry"),
    }
    return {code: known[code] for code in codes}


SHOPIFY_OPENAPI: dict[str, Any] = {
    "parameters": [
        _header("X-Shopify-Shop-Domain", "The shop, e.g. example.myshopify.com"),
        _header(
            "X-Shopify-Hmac-Sha256",
            "Base64 HMAC-SHA256 of the raw body with the shop's webhook secret",
        ),
        _header("X-Shopify-Topic", "The webhook topic, e.g. orders/create"),
        _header("X-Shopify-Webhook-Id", "The delivery id; retries of a delivery repeat it"),
        _header("X-Shopify-Event-Id", "The event the delivery is about", required=False),
        _header("X-Shopify-Triggered-At", "When the event happened", required=False),
        _header("X-Shopify-API-Version", "The API version of the body", required=False),
    ],
    "requestBody": {
        "required": True,
        "description": "The webhook body exactly as Shopify sent it (a JSON object)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}

WMS_OPENAPI: dict[str, Any] = {
    "parameters": [
        _header("X-WMS-Signature", "Hex HMAC-SHA256 of the raw body with the WMS secret"),
        _header(
            "X-WMS-Event-Type",
            "Optional; when sent, must equal the body's event_type",
            required=False,
        ),
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="WmsEvent")}}},
    },
}


def wms_schemas() -> dict[str, Any]:
    """The WMS event schema and its parts, for ``components.schemas``."""
    schema = WMS_EVENT.json_schema(ref_template=REF)
    defs: dict[str, Any] = schema.pop("$defs", {})
    return {**defs, "WmsEvent": schema}
