"""The simulators' webhook Deliverer: a bounded number of POSTs in flight, retries kept."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from unit.simulators.shopify_harness import Sleeps

from stocksync_sim.delivery import MAX_IN_FLIGHT, Deliverer, Delivery, RetryPolicy

URL = "http://receiver.test/webhooks"


@dataclass
class GatedReceiver:
    """Holds every request until ``gate`` opens, counting how many are held at once."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    peak: int = 0
    bodies: list[bytes] = field(default_factory=list)
    failures_left: int = 0

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.gate.wait()
            if self.failures_left > 0:
                self.failures_left -= 1
                return httpx.Response(503)
            self.bodies.append(request.content)
            return httpx.Response(200)
        finally:
            self.in_flight -= 1


def deliveries(count: int) -> list[Delivery]:
    return [Delivery(f"d{n}", URL, {}, f"body-{n}".encode()) for n in range(count)]


async def held_peak(receiver: GatedReceiver) -> int:
    """Lets the event loop run until the held requests stop growing, then opens the gate."""
    last = -1
    while receiver.in_flight != last:
        last = receiver.in_flight
        for _ in range(20):
            await asyncio.sleep(0)
    receiver.gate.set()
    return receiver.peak


async def test_posts_in_flight_are_bounded_and_all_arrive() -> None:
    receiver = GatedReceiver()
    sent = deliveries(200)
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver.handler)) as client:
        deliverer = Deliverer(client, RetryPolicy(), Sleeps())
        for delivery in sent:
            await deliverer.send(delivery)
        assert await held_peak(receiver) == MAX_IN_FLIGHT
        await deliverer.drain()
    assert receiver.peak <= MAX_IN_FLIGHT
    assert sorted(receiver.bodies) == sorted(d.body for d in sent)
    assert {d.status for d in sent} == {"delivered"}


async def test_bound_is_configurable_and_retries_still_happen() -> None:
    receiver = GatedReceiver(failures_left=30)
    sent = deliveries(50)
    sleeps = Sleeps()
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver.handler)) as client:
        deliverer = Deliverer(client, RetryPolicy(max_attempts=3), sleeps, max_in_flight=4)
        for delivery in sent:
            await deliverer.send(delivery)
        assert await held_peak(receiver) == 4
        await deliverer.drain()
    assert receiver.peak <= 4
    assert {d.status for d in sent} == {"delivered"}
    assert sum(len(d.attempts) for d in sent) == 50 + 30
    assert len(sleeps.waits) == 30
    assert sorted(receiver.bodies) == sorted(d.body for d in sent)
