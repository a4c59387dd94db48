"""The DLQ record format, ids, and what a replay sends."""

import base64

import orjson
import pytest

from stocksync_common.dlq import DlqRecord, dead_letter_body, parse_record_id, split_dlq_topic
from stocksync_common.dlq.admin import replay_headers, replay_target, resolve_groups
from stocksync_common.retry import ATTEMPT, NOT_BEFORE, ORIGIN, REPLAY_OF, Origin

DLQ = "inventory.commands.v1.dlq.inventory-adjuster"


def body(**extra):
    try:
        raise ValueError("bad")
    except ValueError as exc:
        return dead_letter_body(
            Origin("inventory.commands.v1", 3, 41),
            b"SKU-1",
            extra.pop("value", b'{"correlation_id": "c-9"}'),
            [("type", b"inventory.command"), (ATTEMPT, b"4")],
            group="inventory-adjuster",
            exc=exc,
            attempts=5,
            reason="exhausted",
            failed_at_ms=1_700_000_000_000,
        )


def test_body_has_every_contract_field():
    b = body()
    for name in (
        "original_topic", "partition", "offset", "key", "headers", "group", "error", "reason",
        "stack", "attempts", "failed_at", "correlation_id", "value",
    ):  # fmt: skip
        assert name in b, name
    assert b["headers"] == {"type": "inventory.command"}
    assert b["correlation_id"] == "c-9" and b["error"] == "ValueError: bad"
    assert "value_b64" not in b


def test_binary_values_are_kept_exactly_in_base64():
    raw = b"\xff\x00bin"
    rec = DlqRecord.parse(DLQ, 0, 1, orjson.dumps(body(value=raw)))
    assert base64.b64decode(rec.body["value_b64"]) == raw
    assert rec.original_value() == raw


def test_ids_round_trip_and_reject_non_dlq_topics():
    assert parse_record_id(f"{DLQ}:2:77") == (DLQ, 2, 77)
    assert split_dlq_topic(DLQ) == ("inventory.commands.v1", "inventory-adjuster")
    with pytest.raises(ValueError):
        parse_record_id("orders.v1:0:1")


def test_parse_normalises_seconds_and_unreadable_records():
    old = DlqRecord.parse(DLQ, 0, 5, orjson.dumps({"failed_at": 1_700_000_000.5, "reason": "x"}))
    assert old.body["failed_at"] == 1_700_000_000_500
    junk = DlqRecord.parse(DLQ, 0, 6, b"not json")
    assert junk.reason == "unreadable" and junk.summary()["id"] == f"{DLQ}:0:6"
    full = junk.full()
    assert full["headers"] == {} and full["stack"] == [] and full["value"] == "not json"


def test_summary_and_full_shapes():
    rec = DlqRecord.parse(DLQ, 1, 9, orjson.dumps(body())).with_status("replayed")
    s = rec.summary()
    assert set(s) == {
        "id", "topic", "original_topic", "partition", "offset", "key", "reason", "error",
        "attempts", "failed_at", "correlation_id", "status", "replayable", "redacted",
    }  # fmt: skip
    assert s["status"] == "replayed" and s["offset"] == 41 and s["topic"] == DLQ
    assert {"headers", "value", "stack"} <= set(rec.full())


def test_replay_goes_to_the_groups_retry_topic_with_original_headers():
    rec = DlqRecord.parse(DLQ, 1, 9, orjson.dumps(body()))
    assert replay_target(rec) == "inventory.commands.v1.retry.inventory-adjuster"
    headers = dict(replay_headers(rec, 123))
    assert headers["type"] == b"inventory.command"
    assert headers["correlation-id"] == b"c-9"
    assert headers[ATTEMPT] == b"0" and headers[NOT_BEFORE] == b"123"
    assert headers[ORIGIN] == b"3:41:inventory.commands.v1"
    assert headers[REPLAY_OF] == f"{DLQ}:1:9".encode()


def test_webhook_receiver_dead_letters_replay_to_the_original_topic():
    rec = DlqRecord.parse(
        "webhooks.wms.v1.dlq.webhook-receiver", 0, 0, orjson.dumps({"original_topic": "x"})
    )
    assert replay_target(rec) == "x"


def test_groups_resolve_from_the_catalog_or_explicitly():
    assert resolve_groups(["notifier"]) == {"notifier": ("inventory.changed.v1", "orders.v1")}
    assert resolve_groups({"it-g": ["t.v1"]}) == {"it-g": ("t.v1",)}
    assert resolve_groups(["nobody"]) == {"nobody": ()}


@pytest.mark.parametrize(
    ("reason", "replayable"),
    [
        ("invalid_body", False),
        ("schema", False),
        ("schema: 1 validation error", False),
        ("unreadable", False),
        ("poison", True),
        ("dependency: ConnectionError", True),
        ("retries exhausted", True),
        ("", True),
    ],
)
def test_a_record_that_cannot_succeed_is_not_replayable(reason: str, replayable: bool) -> None:
    rec = DlqRecord.parse(DLQ, 0, 1, orjson.dumps({**body(), "reason": reason}))
    assert (rec.replay_refusal is None) == replayable
    assert rec.summary()["replayable"] == replayable
