"""How old a delivery may be (domain/freshness.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from webhook_receiver.domain.freshness import parse_instant, staleness

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_shopify_stamps_with_nanoseconds_or_offsets_parse() -> None:
    at = parse_instant("2026-12-06T11:59:58.964837436Z")
    assert at == datetime(2026, 12, 6, 11, 59, 58, 964837, tzinfo=UTC)
    assert parse_instant("2026-12-06T13:00:00+01:00") == NOW
    assert parse_instant("2026-12-06T12:00:00") is None  # no zone: not an instant
    assert parse_instant("yesterday") is None


def test_the_window_and_the_skew_bound_a_stamp() -> None:
    day = 24 * 3600.0
    assert staleness(NOW - timedelta(hours=47), NOW, 2 * day, 300) is None
    assert "old" in (staleness(NOW - timedelta(hours=49), NOW, 2 * day, 300) or "")
    assert staleness(NOW + timedelta(seconds=200), NOW, 2 * day, 300) is None
    assert "future" in (staleness(NOW + timedelta(seconds=400), NOW, 2 * day, 300) or "")
    naive = datetime(2026, 12, 6, 11, 0)  # noqa: DTZ001 - a WMS stamp without a zone
    assert staleness(naive, NOW, 2 * day, 300) is None  # taken as UTC
    assert staleness(datetime.min.replace(tzinfo=UTC), NOW, 2 * day, 300) is not None
