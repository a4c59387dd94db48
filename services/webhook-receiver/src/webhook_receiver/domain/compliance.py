"""Shopify's mandatory compliance webhooks, reduced to the identifiers needed to act on them.

The body is read leniently: a field that is missing or oddly typed becomes ``None`` or is
left out, because a compliance request must never be refused for its shape (it would be lost
after Shopify's retries). The customer's email and phone are deliberately not kept.
"""

from __future__ import annotations

from typing import Any, get_args

from stocksync_common.events import ComplianceRequest, ComplianceTopic

COMPLIANCE_TOPICS: frozenset[str] = frozenset(get_args(ComplianceTopic))


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        return None
    return str(value)


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [i for i in (_id(v) for v in value) if i is not None]


def compliance_request(
    topic: ComplianceTopic,
    shop: str,
    webhook_id: str,
    body: dict[str, Any],
    *,
    event_id: str | None = None,
    triggered_at: str | None = None,
    api_version: str | None = None,
) -> ComplianceRequest:
    customer = body.get("customer")
    data_request = body.get("data_request")
    orders = body.get("orders_to_redact", body.get("orders_requested"))
    return ComplianceRequest(
        topic=topic,
        shop=shop,
        webhook_id=webhook_id,
        shop_id=_id(body.get("shop_id")),
        customer_id=_id(customer.get("id")) if isinstance(customer, dict) else None,
        order_ids=_ids(orders),
        data_request_id=_id(data_request.get("id")) if isinstance(data_request, dict) else None,
        event_id=event_id,
        triggered_at=triggered_at,
        api_version=api_version,
    )
