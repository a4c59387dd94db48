"""Masking customer data in what non-admins read of a dead letter (stocksync_common.pii,
stocksync_common.dlq.masked_view): JSON field by field at any depth (JSON inside its strings
too), other text withheld or with its emails and quoted PII fields masked, headers by name,
and the record itself never changed (replay sends it as it was)."""

from __future__ import annotations

import base64
import json

import orjson

from stocksync_common.dlq import DlqRecord, masked_view
from stocksync_common.pii import MASK, masked_headers, masked_text

ORDER = {
    "id": 820982911946154500,
    "name": "#9999",
    "email": "jon@example.com",
    "billing_address": {"first_name": "Jon", "address1": "123 Billing Street", "zip": "K2P0B0"},
    "line_items": [{"sku": "TEE-1", "quantity": 1, "properties": [{"name": "gift", "value": "x"}]}],
    "note": "leave at the door, call 555-0100",
}


def test_json_is_masked_field_by_field_at_any_depth_keeping_what_names_no_one() -> None:
    envelope = {"type": "shopify.webhook_received", "payload": {"body": ORDER}}
    shown = json.loads(masked_text(json.dumps(envelope)))
    body = shown["payload"]["body"]
    assert body["email"] == body["billing_address"] == body["note"] == MASK
    assert body["line_items"] == [{"sku": "TEE-1", "quantity": 1, "properties": MASK}]
    assert body["name"] == "#9999" and body["id"] == ORDER["id"]
    # a body kept as a JSON string inside the record, and an email in a field not on the list
    nested = {"value": json.dumps(ORDER), "comment": "from jon@example.com"}
    text = masked_text(json.dumps(nested))
    assert "jon@example.com" not in text and "123 Billing" not in text and "#9999" in text


def test_text_that_is_not_json_is_withheld_or_has_its_emails_and_quoted_fields_masked() -> None:
    body = "first_name=Jon&email=jon@example.com"
    assert masked_text(body) == f"[withheld: {len(body)} bytes that are not JSON; admins see them]"
    error = "ValidationError: input_value={'phone': '+1 555 0100', 'sku': 'A', 'x': 'jo@ex.io'}"
    shown = masked_text(error, withhold=False)
    assert shown == f"ValidationError: input_value={{'phone': '{MASK}', 'sku': 'A', 'x': '{MASK}'}}"


def test_headers_named_for_customer_data_are_masked_whole() -> None:
    shown = masked_headers(
        {"X-Customer-Email": "a@b.co", "x-phone": "555", "type": "orders/create",
         "x-shopify-shop-domain": "parent.myshopify.com", "note": "see jon@example.com"}
    )  # fmt: skip
    assert shown == {
        "X-Customer-Email": MASK, "x-phone": MASK, "type": "orders/create",
        "x-shopify-shop-domain": "parent.myshopify.com", "note": MASK,
    }  # fmt: skip


def test_a_dead_letter_is_shown_masked_and_kept_as_it_was() -> None:
    raw = orjson.dumps(ORDER)
    body = {
        "original_topic": "webhooks.shopify.v1", "key": "shop/1", "reason": "schema",
        "error": "bad order from jon@example.com", "headers": {"x-email": "jon@example.com"},
        "stack": ["  File x, in parse: jon@example.com"], "value": raw.decode(),
        "value_b64": base64.b64encode(raw).decode(),
    }  # fmt: skip
    record = DlqRecord.parse("webhooks.shopify.v1.dlq.g", 0, 7, orjson.dumps(body))
    shown = masked_view(record.full())
    assert shown["masked"] is True and "jon@example.com" not in json.dumps(shown)
    assert "123 Billing" not in json.dumps(shown) and shown["key"] == "shop/1"
    assert "withheld" in shown["value_b64"]
    summary = masked_view(record.summary())
    assert summary["error"] == f"bad order from {MASK}" and "value" not in summary
    assert record.original_value() == raw  # replay sends the record as it is
