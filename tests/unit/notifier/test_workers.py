"""A channel worker and its circuit: a trial the worker lets through but never sends (no alert
due, or a permanent refusal) must not hold a half-open circuit shut."""

from __future__ import annotations

import asyncio
from typing import Any

from notifier.adapters.channels import DeliveryError
from notifier.adapters.outbox import Item
from notifier.domain.alerts import Alert
from notifier.workers import ChannelWorker, DeliveryPolicy
from stocksync_common.breaker import CircuitBreaker, State
from support.poll import await_for


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def half_open_soon() -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, open_s=5.0, clock=clock)
    breaker.failure()
    clock.now = 5.0  # the open period is over: the next call is the trial
    return breaker, clock


class EmptyOutbox:
    def __init__(self) -> None:
        self.claims = 0

    async def claim(self, now: float, lease_s: float) -> Item | None:
        self.claims += 1
        return None

    async def next_due(self) -> float | None:
        return None


class Recorder:
    """Stands for the alert log, the dead letters and the outbox's other calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        async def record(*_args: object) -> None:
            self.calls.append(name)

        return record


class Refusing:
    name = "webhook"

    async def send(self, alert: Alert) -> None:
        raise DeliveryError("410 gone", permanent=True)


def channel_worker(outbox: Any, breaker: CircuitBreaker, recorder: Any) -> ChannelWorker:
    """The worker with fakes for its Redis-backed parts."""
    return ChannelWorker(
        Refusing(), outbox, recorder, recorder, breaker, DeliveryPolicy(poll_s=0.01)
    )


async def test_no_alert_due_releases_the_trial_so_the_worker_keeps_polling() -> None:
    breaker, _ = half_open_soon()
    outbox = EmptyOutbox()
    worker = channel_worker(outbox, breaker, Recorder())
    task = asyncio.create_task(worker.run())
    try:
        await await_for("three polls", lambda: _async(outbox.claims >= 3 or None), 5)
    finally:
        worker.stop()
        await task
    assert breaker.state == State.HALF_OPEN and breaker.allow(), "the trial is still free"


async def test_a_permanent_refusal_neither_opens_nor_holds_the_circuit() -> None:
    breaker, _ = half_open_soon()
    recorder = Recorder()
    worker = channel_worker(recorder, breaker, recorder)
    assert breaker.allow()  # the worker's trial
    await worker.deliver(Item(alert=Alert(id="a1", kind="out_of_stock", sku="S")))
    assert "publish" in recorder.calls, "dead-lettered at once"
    assert breaker.state == State.HALF_OPEN and breaker.allow(), "the next trial may go"


async def _async(value: object) -> object:
    return value
