"""The velocity window in Redis, and digests for noisy SKUs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from integration.notifier.harness import changed, feed, notifier, outbox_empty, settings_for

from notifier.adapters.state import VelocityWindow
from notifier.domain.rules import Rule, RuleSet
from support.poll import await_for

pytestmark = pytest.mark.integration


async def test_velocity_window_counts_each_change_once_and_slides(redis):
    sku = f"VEL-{uuid.uuid4().hex[:8]}"
    window = VelocityWindow(redis, window_s=60)
    assert await window.record(sku, 1, 1000, 2) == 2
    assert await window.record(sku, 1, 1000, 2) == 2  # redelivered: counted once
    assert await window.record(sku, 2, 1030, 3) == 5
    assert await window.record(sku, 3, 1061, 1) == 4  # the first bucket left the window
    assert await window.record(sku, 4, 1200, 0) == 0


async def test_selling_faster_than_the_limit_alerts_once(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    sku = f"FAST-{uuid.uuid4().hex[:8]}"
    rules = RuleSet(default=Rule(velocity_per_minute=3, channels={"velocity": ["slack"]}))
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    async with notifier(settings, producer, rules) as c:
        sales = [changed(sku, v, 100 - v, 99 - v) for v in range(1, 7)]
        await feed(c, *sales)
        await await_for("the alert", lambda: _some(receiver.messages("/slack", sku)))
        await await_for("outboxes drained", lambda: outbox_empty(c))
    [msg] = await receiver.messages("/slack", sku)
    assert f"{sku} sells fast: 4/min" in msg["json"]["text"]


async def test_a_velocity_alert_re_arms_with_time_not_only_with_a_change(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    """ADR 0022 (f): after a burst, no change came to find the rate low again; a burst two
    minutes later (its first change alone above the limit) alerts again, while a change
    inside the first burst does not."""
    sku = f"AGAIN-{uuid.uuid4().hex[:8]}"
    rules = RuleSet(default=Rule(velocity_per_minute=3, channels={"velocity": ["slack"]}))
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    t0 = datetime.now(UTC) - timedelta(minutes=5)

    def sale(version: int, at_s: int) -> Any:  # 5 units in one order
        event = changed(sku, version, 100 - 5 * version, 95 - 5 * version)
        return event.model_copy(update={"occurred_at": t0 + timedelta(seconds=at_s)})

    async with notifier(settings, producer, rules) as c:
        await feed(c, sale(1, 0), sale(2, 1))  # one burst: one alert
        await feed(c, sale(3, 120))  # the next, after the window emptied
        await await_for("two alerts", lambda: _at_least(receiver.messages("/slack", sku), 2))
        await await_for("outboxes drained", lambda: outbox_empty(c))
    texts = sorted(m["json"]["text"] for m in await receiver.messages("/slack", sku))
    assert len(texts) == 2
    assert f"{sku} sells fast: 10/min" not in "".join(texts)  # the burst's second sale
    assert all(f"{sku} sells fast: 5/min" in t for t in texts)


async def _at_least(coro: Any, n: int) -> Any:
    found = await coro
    return found if len(found) >= n else None


async def test_a_noisy_sku_gets_one_alert_then_a_digest(
    kafka_bootstrap, redis_url, receiver, smtp, producer
):
    sku = f"NOISY-{uuid.uuid4().hex[:8]}"
    rules = RuleSet(
        default=Rule(low_stock=5, quiet_period_s=600, channels={"low_stock": ["slack"]})
    )
    settings = settings_for(kafka_bootstrap, redis_url, receiver, smtp[1])
    t0 = datetime.now(UTC)
    flapping = [(6, 4), (4, 7), (7, 3), (3, 8), (8, 2)]
    events = [
        changed(sku, v, b, a).model_copy(update={"occurred_at": t0 + timedelta(seconds=v)})
        for v, (b, a) in enumerate(flapping, 1)
    ]
    async with notifier(settings, producer, rules) as c:
        await feed(c, *events)
        await await_for("the first alert", lambda: _some(receiver.messages("/slack", sku)))
        assert c.digest_worker is not None
        assert await c.digest_worker.flush(t0.timestamp()) == 0  # quiet period not over
        assert await c.digest_worker.flush(t0.timestamp() + 601) == 1
        await await_for("outboxes drained", lambda: outbox_empty(c))
    first, digest = await receiver.messages("/slack", sku)
    assert f"{sku} is low" in first["json"]["text"]
    assert f"{sku}: 2 more alerts during the quiet period" in digest["json"]["text"]


async def _some(coro):
    return (await coro) or None
