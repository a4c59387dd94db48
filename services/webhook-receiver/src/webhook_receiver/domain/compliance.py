"""Shopify's mandatory compliance webhooks, reduced to the identifiers needed to act on them.

:func:`compliance_request` reads a body leniently: a field that is missing or oddly typed
becomes ``None`` or is left out. Before that, the edge checks the body strictly against the
topic's published shape (:func:`shape_problem`): the signature covers the body, not the topic
header, so an order body relabelled ``shop/redact`` must not erase a shop. A refused body is
kept in the receiver's DLQ with the reason, so a real request Shopify changed the shape of is
not lost. The customer's email and phone are deliberately not kept (the dead letters'
redaction list holds a digest of the email, never the email: stocksync_common.dlq.redaction).
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


# What Shopify sends on each compliance topic, field by field (its published payloads):
# a body with any other top-level field, or a field of another type, is not that topic's.
_CUSTOMER = {"id": int, "email": (str, type(None)), "phone": (str, type(None))}
_SHAPES: dict[str, dict[str, Any]] = {
    "shop/redact": {"shop_id": int, "shop_domain": str},
    "customers/redact": {
        "shop_id": int,
        "shop_domain": str,
        "customer": _CUSTOMER,
        "orders_to_redact": [int],
    },
    "customers/data_request": {
        "shop_id": int,
        "shop_domain": str,
        "customer": _CUSTOMER,
        "orders_requested": [int],
        "data_request": {"id": int},
    },
}


def shape_problem(topic: str, shop: str, body: dict[str, Any]) -> str | None:
    """Why ``body`` is not a ``topic`` request for ``shop`` (None: it is one). Checked
    strictly at the edge: Shopify's signature covers the body, not the topic header, so a
    signed order body relabelled ``shop/redact`` must not erase the shop."""
    shape = _SHAPES[topic]
    problem = _mismatch(shape, body, "body")
    if problem is None and str(body["shop_domain"]).strip().lower() != shop:
        return "shop_domain is not the shop that sent it"
    return problem


def _mismatch(shape: Any, value: Any, where: str) -> str | None:
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{where} is not an object"
        extra = sorted(set(value) - set(shape))
        if extra:
            return f"{where} has fields this topic does not send: {', '.join(extra[:5])}"
        for name, inner in shape.items():
            if name not in value:
                if isinstance(inner, tuple) and type(None) in inner:
                    continue  # optional
                return f"{where}.{name} is missing"
            problem = _mismatch(inner, value[name], f"{where}.{name}")
            if problem is not None:
                return problem
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{where} is not a list"
        for i, item in enumerate(value):
            problem = _mismatch(shape[0], item, f"{where}[{i}]")
            if problem is not None:
                return problem
        return None
    if isinstance(value, bool) or not isinstance(value, shape):
        return f"{where} has the wrong type"
    return None
