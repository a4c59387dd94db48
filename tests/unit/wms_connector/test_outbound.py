"""OrderForwarder with a fake WMS (httpx.MockTransport) and in-memory order state."""

import json

import httpx
import pytest
from aiokafka.structs import TopicPartition

from stocksync_common.breaker import CircuitBreaker, State
from stocksync_common.consumer import PoisonMessage
from stocksync_common.events import (
    Order,
    OrderCancellation,
    OrderLine,
    OrderReceived,
    OrderRouted,
)
from stocksync_common.topics import ORDERS
from support.records import incoming
from wms_connector.adapters.wms_client import WmsClient, WmsUnavailable
from wms_connector.outbound import CircuitOpen, OrderForwarder
from wms_connector.status import OutboundStatus

TP = TopicPartition(ORDERS, 0)


class MemoryState:
    def __init__(self):
        self.data = {}

    async def get(self, ref):
        return self.data.get(ref, (None, None))

    async def set(self, ref, status, wms_id):
        self.data[ref] = (status, wms_id)

    async def remember_lines(self, ref, lines):
        self.lines = {ref: dict(lines)}

    async def add_follow_up(self, ref, follow_up):
        self.parts = {*getattr(self, "parts", ()), (ref, follow_up)}

    async def follow_ups(self, ref):
        return sorted(p for r, p in getattr(self, "parts", ()) if r == ref)


class FakeWms:
    def __init__(self, outcomes=()):
        self.outcomes = list(outcomes)
        self.requests = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else 200
        if isinstance(outcome, Exception):
            raise outcome
        if outcome >= 300:
            return httpx.Response(outcome, headers={"Retry-After": "0"})
        return httpx.Response(outcome, json={"id": "FO-1", "status": "open"})


def forwarder(wms: FakeWms, threshold: int = 5, backoff=(0.0, 0.0, 0.0)):
    sleeps = []

    async def sleep(s):
        sleeps.append(s)

    http = httpx.AsyncClient(transport=httpx.MockTransport(wms.handler))
    breaker = CircuitBreaker(failure_threshold=threshold, open_s=60.0)
    client = WmsClient(http, "http://wms.test", "key")
    f = OrderForwarder(client, MemoryState(), breaker, OutboundStatus(breaker), backoff, sleep)
    return f, sleeps


def order(order_id="1", lines=None):
    lines = lines or [OrderLine(line_id="l1", sku="A", quantity=2, location="wh-1")]
    return Order(shop="s.test", order_id=order_id, lines=lines)


async def test_create_sends_mapped_lines_with_the_api_key_and_remembers_it():
    wms = FakeWms()
    f, _ = forwarder(wms)
    unmapped = OrderLine(line_id="l2", sku=None, quantity=1, location="wh-1")
    await f.create(order(lines=[*order().lines, unmapped]))
    await f.create(order())  # redelivered: nothing sent
    (req,) = wms.requests
    assert req.headers["X-API-Key"] == "key"
    body = json.loads(req.content)
    assert body["external_ref"] == "s.test:1"
    assert body["lines"] == [{"sku": "A", "location": "wh-1", "quantity": 2}]
    assert f.status.counts == {"create:duplicate": 1, "create:ok": 1}


async def test_two_failures_are_retried_with_backoff_and_the_third_try_lands():
    wms = FakeWms([503, httpx.ConnectError("down"), 201])
    f, sleeps = forwarder(wms, backoff=(0.2, 0.5, 1.0))
    await f.create(order())
    assert len(wms.requests) == 3 and sleeps == [0.2, 0.5]
    assert f.breaker.state == State.CLOSED


async def test_exhausted_retries_raise_for_the_dlq_and_are_visible_to_ops():
    wms = FakeWms([503] * 10)
    f, _ = forwarder(wms)
    with pytest.raises(WmsUnavailable):
        await f.create(order())
    assert len(wms.requests) == 4
    (failure,) = f.status.to_json()["recent_failures"]
    assert failure["ref"] == "s.test:1" and "503" in failure["error"]


async def test_an_open_circuit_sends_nothing():
    wms = FakeWms([503] * 10)
    f, _ = forwarder(wms, threshold=2)
    with pytest.raises(CircuitOpen):
        await f.create(order())
    assert len(wms.requests) == 2 and f.status.to_json()["circuit"] == "open"


async def test_a_probe_that_ends_in_our_own_error_does_not_hold_the_circuit():
    wms = FakeWms([503, 503, 201])
    f, _ = forwarder(wms, threshold=2)
    with pytest.raises(CircuitOpen):
        await f.create(order("1"))
    f.breaker.retry_at = 0.0  # the open period is over: the next call is the probe

    async def broken():
        raise RuntimeError("a bug of ours")

    with pytest.raises(RuntimeError):
        await f._call("create", "s.test:2", broken)
    assert f.breaker.allow(), "the probe was released, the next call may go"
    f.breaker.release()
    await f.create(order("3"))
    assert f.breaker.state == State.CLOSED and len(wms.requests) == 3


async def test_a_refusal_is_poison_not_retried():
    wms = FakeWms([422])
    f, _ = forwarder(wms)
    with pytest.raises(PoisonMessage):
        await f.create(order())
    assert len(wms.requests) == 1


async def test_cancel_after_create_cancels_at_the_wms_and_before_create_blocks_it():
    wms = FakeWms()
    f, _ = forwarder(wms)
    await f.create(order("1"))
    await f.cancel(OrderCancellation(shop="s.test", order_id="1"))
    assert wms.requests[-1].url.path == "/api/v1/fulfillment-orders/FO-1/cancel"
    await f.cancel(OrderCancellation(shop="s.test", order_id="2"))
    await f.create(order("2"))  # a late create of a cancelled order sends nothing
    assert len(wms.requests) == 2


async def test_a_routed_order_goes_to_the_wms_from_order_routed_not_order_received():
    wms = FakeWms()
    f, _ = forwarder(wms)
    received = order("7").model_copy(update={"routing": True})
    lines = [OrderLine(line_id="l1", sku="A", quantity=2, location="wh-2")]
    routed = order("7", lines).model_copy(update={"routing": True})
    await f.handle_batch(TP, incoming(ORDERS, [OrderReceived(source="t", payload=received)]))
    assert wms.requests == []
    await f.handle_batch(TP, incoming(ORDERS, [OrderRouted(source="t", payload=routed)]))
    (sent,) = wms.requests
    assert json.loads(sent.content)["lines"] == [{"sku": "A", "location": "wh-2", "quantity": 2}]
    assert f.state.lines == {"s.test:7": {("A", "wh-2"): "l1"}}  # for its shipments
