"""shopify-sync's own dead letters (changes a store rejected) are events its consumer
understands: replayed, the change is pending again for that one shop, latest version wins."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition
from unit.shopify_sync.fakes import MemorySyncState

from shopify_sync.adapters.dead_letters import KafkaDeadLetters
from shopify_sync.domain.quantities import ItemKey, Pending
from shopify_sync.handlers import ChangeRecorder
from shopify_sync.lanes import Lanes
from shopify_sync.own_events import SyncChangeRejected, decode
from stocksync_common.consumer import Incoming
from stocksync_common.stores import Store, StoresConfig

A, B = "a.myshopify.com", "b.myshopify.com"
TOPIC, GROUP = "inventory.changed.v1", "shopify-sync"
RETRY = f"{TOPIC}.retry.{GROUP}"


class CapturingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future[Any]:
        self.sent.append((topic, value, key))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def _store(shop: str) -> Store:
    return Store.model_validate(
        {"shop": shop, "access_token": "t", "webhook_secret": "s", "locations": {"wh-1": "L1"}}
    )


def _recorder(state: MemorySyncState) -> ChangeRecorder:
    return ChangeRecorder(StoresConfig(stores=[_store(A), _store(B)]), state, Lanes())


async def _dead_letters(rejected: dict[ItemKey, tuple[Pending, str]]) -> list[dict[str, Any]]:
    producer = CapturingProducer()
    dead = KafkaDeadLetters(cast(AIOKafkaProducer, producer), TOPIC, GROUP)
    await dead.reject(A, rejected, "INVALID_LOCATION")
    assert {topic for topic, _, _ in producer.sent} == {f"{TOPIC}.dlq.{GROUP}"}
    return [orjson.loads(value) for _, value, _ in producer.sent]


def _replayed(bodies: Sequence[dict[str, Any]]) -> list[Incoming]:
    """What the DLQ API's replay hands the consumer: each dead letter's ``value`` as is."""
    out = []
    for offset, body in enumerate(bodies):
        raw = str(body["value"]).encode()
        record = ConsumerRecord(
            RETRY, 0, offset, 0, 0, str(body["key"]).encode(), raw, None, 0, len(raw), []
        )
        out.append(Incoming(record, decode(raw)))
    return out


async def test_dead_letter_value_is_a_rejected_change_event() -> None:
    [body] = await _dead_letters({("SKU-1", "wh-1"): (Pending(7, 12), "INVALID_LOCATION: x")})
    event = decode(str(body["value"]).encode())
    assert isinstance(event, SyncChangeRejected)
    assert event.shop == A and event.source == "shopify-sync"
    assert event.payload.model_dump() == {
        "shop": A, "sku": "SKU-1", "location": "wh-1", "version": 7, "quantity": 12,
    }  # fmt: skip
    assert body["change"] == event.payload.model_dump()
    assert body["original_topic"] == TOPIC and body["reason"] == "INVALID_LOCATION"
    [again] = await _dead_letters({("SKU-1", "wh-1"): (Pending(7, 12), "INVALID_LOCATION: x")})
    assert decode(str(again["value"]).encode()).id == event.id  # same change, same event id


async def test_replay_records_the_change_for_its_shop_only_and_once() -> None:
    state = MemorySyncState()
    bodies = await _dead_letters(
        {("SKU-1", "wh-1"): (Pending(7, 12), "e"), ("SKU-2", "wh-1"): (Pending(3, 4), "e")}
    )
    recorder = _recorder(state)
    await recorder.handle_batch(TopicPartition(RETRY, 0), _replayed(bodies))
    assert await state.pending(A) == {
        ("SKU-1", "wh-1"): Pending(7, 12),
        ("SKU-2", "wh-1"): Pending(3, 4),
    }
    assert await state.pending(B) == {}
    # Replaying again changes nothing: the same versions are already pending.
    assert await state.record(A, {("SKU-1", "wh-1"): Pending(7, 12)}) == 0
    await recorder.handle_batch(TopicPartition(RETRY, 0), _replayed(bodies))
    assert await state.pending_count(A) == 2


async def test_replay_never_overrides_a_newer_change() -> None:
    state = MemorySyncState()
    [old] = await _dead_letters({("SKU-1", "wh-1"): (Pending(5, 1), "e")})
    # A newer change is pending, and another key has already been pushed at a newer version.
    await state.record(A, {("SKU-1", "wh-1"): Pending(9, 30)})
    recorder = _recorder(state)
    await recorder.handle_batch(TopicPartition(RETRY, 0), _replayed([old]))
    assert await state.pending(A) == {("SKU-1", "wh-1"): Pending(9, 30)}
    await state.applied(A, {("SKU-1", "wh-1"): (Pending(9, 30), 30)})
    await recorder.handle_batch(TopicPartition(RETRY, 0), _replayed([old]))
    assert await state.pending(A) == {}


async def test_a_location_the_shop_no_longer_maps_is_not_recorded() -> None:
    state = MemorySyncState()
    [body] = await _dead_letters({("SKU-1", "wh-gone"): (Pending(2, 8), "e")})
    await _recorder(state).handle_batch(TopicPartition(RETRY, 0), _replayed([body]))
    assert await state.pending(A) == {} and await state.pending(B) == {}
