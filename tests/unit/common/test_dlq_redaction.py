"""Compliance erasures applied to dead letters (stocksync_common.dlq.redaction): what a
redact request erases, what a dead letter names, and a record read without the data."""

from __future__ import annotations

import base64
import json

from stocksync_common.dlq import DlqRecord
from stocksync_common.dlq.redaction import (
    REDACTED_UNREADABLE,
    email_subject,
    subjects_of_record,
    subjects_of_request,
)

EMAIL = "Ann.Buyer@Example.com"
ORDER = {
    "id": 9001,
    "email": EMAIL,
    "customer": {"id": 42, "first_name": "Ann", "phone": "+44 20 7946 0958"},
    "shipping_address": {"address1": "1 Secret Lane"},
    "line_items": [{"sku": "TEE-1", "quantity": 2}],
}


def dead_letter(value: str, **extra: object) -> dict[str, object]:
    return {"original_topic": "t", "partition": 0, "offset": 5, "key": "k", "reason": "poison",
            "error": f"PoisonMessage: bad order for {EMAIL}", "headers": {}, "stack": [],
            "value": value, **extra}  # fmt: skip


def test_a_redact_request_names_the_customer_their_email_and_orders_never_the_email() -> None:
    body = {"shop_id": 1, "shop_domain": "s.myshopify.com",
            "customer": {"id": 42, "email": EMAIL, "phone": None},
            "orders_to_redact": [9001, 9002]}  # fmt: skip
    found = subjects_of_request("customers/redact", "s.myshopify.com", body)
    assert found == ["customer:42", email_subject("ann.buyer@example.com"), "order:9001",
                     "order:9002"]  # fmt: skip
    assert not any(EMAIL.lower() in s for s in found)
    assert subjects_of_request("shop/redact", "s.myshopify.com", {}) == ["shop:s.myshopify.com"]
    assert subjects_of_request("customers/data_request", "s.myshopify.com", body) == []


def test_a_dead_letter_names_its_shop_customer_orders_and_emails_at_any_depth() -> None:
    envelope = {"type": "shopify.webhook.received",
                "payload": {"shop": "S.myshopify.com", "body": ORDER}}  # fmt: skip
    found = subjects_of_record(dead_letter(json.dumps(envelope)))
    assert {"shop:s.myshopify.com", "customer:42", "order:9001",
            email_subject(EMAIL)} <= found  # fmt: skip
    # JSON inside a string, a header, free text
    nested = dead_letter(json.dumps({"raw": json.dumps({"customer_id": 7})}),
                         headers={"X-Shopify-Shop-Domain": "other.myshopify.com"})  # fmt: skip
    assert {"customer:7", "shop:other.myshopify.com"} <= subjects_of_record(nested)
    assert email_subject("x@y.example") in subjects_of_record(dead_letter("mail x@y.example"))


def test_a_record_of_an_erased_customer_is_read_without_their_data_and_replays_stripped() -> None:
    rec = DlqRecord.parse("t.dlq.g", 0, 5, json.dumps(dead_letter(json.dumps(ORDER))).encode())
    assert rec.redacted_if(frozenset({"customer:41"})) is rec  # not named: as it is
    gone = rec.redacted_if(frozenset({"customer:42"}))
    text = json.dumps(gone.full())
    assert gone.summary()["redacted"] is True and gone.replay_refusal is None
    assert EMAIL not in text and "Ann" not in text and "Secret Lane" not in text
    sent = json.loads(gone.original_value())  # what a replay sends
    assert sent == {"id": 9001, "line_items": [{"sku": "TEE-1", "quantity": 2}]}


def test_a_value_that_is_not_json_is_withheld_and_never_replayed() -> None:
    raw = json.dumps(dead_letter(f"name=Ann;email={EMAIL}")).encode()
    gone = DlqRecord.parse("t.dlq.g", 0, 6, raw).redacted_if(frozenset({email_subject(EMAIL)}))
    assert EMAIL not in json.dumps(gone.full()) and "Ann" not in gone.full()["value"]
    assert gone.replay_refusal == REDACTED_UNREADABLE and gone.summary()["replayable"] is False
    binary = dead_letter("\ufffd", value_b64=base64.b64encode(b"\xff" + EMAIL.encode()).decode())
    rec = DlqRecord.parse("t.dlq.g", 0, 7, json.dumps(binary).encode())
    gone = rec.redacted_if(frozenset({email_subject(EMAIL)}))
    assert "value_b64" not in gone.full() and gone.replay_refusal == REDACTED_UNREADABLE
