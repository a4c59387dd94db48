"""shopify-sync's own events (``catalog.product_changed``, ``catalog.collection_changed``,
``sync.change.rejected``) live in shopify-sync: the same bytes as when they were shared
events, parsed by its consumers' own decoder (the shared one does not know them), and the
loops of the groups that meet them (propagation, changes) are built with that decoder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from shopify_sync.bootstrap import service
from shopify_sync.catalog_handlers import collection_change
from shopify_sync.own_events import (
    CatalogCollectionChanged,
    CatalogProductChange,
    CatalogProductChanged,
    RejectedChange,
    SyncChangeRejected,
)
from shopify_sync.own_events import decode as decode_own
from shopify_sync.settings import Settings
from stocksync_common.events import (
    Envelope,
    InventoryCommand,
    InventoryCommandRequested,
    ShopifyWebhook,
    ShopifyWebhookReceived,
    decode,
    encode,
)
from stocksync_common.runtime import consumer_loop
from stocksync_common.stores import Store

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
# The values the shared event models wrote before the move (byte for byte).
CATALOG_WIRE = (
    b'{"id":"id-1","type":"catalog.product_changed","schema_version":1,'
    b'"occurred_at":"2026-01-02T03:04:05Z","correlation_id":"c-1","causation_id":"w-1",'
    b'"source":"shopify-sync","shop":"p.myshopify.com","payload":{"shop":"p.myshopify.com",'
    b'"role":"parent","topic":"products/update","product_id":"gid://shopify/Product/7",'
    b'"updated_at":"2026-01-02T03:04:05Z","webhook_id":"wh-1","body":{"id":7,"title":"Tee"}}}'
)
REJECTED_WIRE = (
    b'{"id":"id-2","type":"sync.change.rejected","schema_version":1,'
    b'"occurred_at":"2026-01-02T03:04:05Z","correlation_id":"c-2","causation_id":null,'
    b'"source":"shopify-sync","shop":"p.myshopify.com","payload":{"shop":"p.myshopify.com",'
    b'"sku":"TEE","location":"wh-1","version":7,"quantity":3}}'
)


def catalog_changed() -> CatalogProductChanged:
    return CatalogProductChanged(
        id="id-1", occurred_at=AT, correlation_id="c-1", causation_id="w-1",
        source="shopify-sync", shop="p.myshopify.com",
        payload=CatalogProductChange(
            shop="p.myshopify.com", role="parent", topic="products/update",
            product_id="gid://shopify/Product/7", updated_at="2026-01-02T03:04:05Z",
            webhook_id="wh-1", body={"id": 7, "title": "Tee"},
        ),
    )  # fmt: skip


def change_rejected() -> SyncChangeRejected:
    return SyncChangeRejected(
        id="id-2", occurred_at=AT, correlation_id="c-2", source="shopify-sync",
        shop="p.myshopify.com",
        payload=RejectedChange(
            shop="p.myshopify.com", sku="TEE", location="wh-1", version=7, quantity=3
        ),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("event", "wire"),
    [(catalog_changed(), CATALOG_WIRE), (change_rejected(), REJECTED_WIRE)],
    ids=["catalog.product_changed", "sync.change.rejected"],
)
def test_the_wire_format_is_unchanged_and_round_trips(event: Envelope, wire: bytes) -> None:
    assert encode(event) == wire
    back = decode_own(wire)
    assert type(back) is type(event)
    assert back == event


def test_the_shared_decoder_does_not_know_them_the_own_decoder_knows_all() -> None:
    for wire in (CATALOG_WIRE, REJECTED_WIRE):
        with pytest.raises(ValidationError):
            decode(wire)
    command = InventoryCommandRequested(
        source="t",
        payload=InventoryCommand(
            command="reserve", idempotency_key="k", sku="S", location="l", quantity=1
        ),
    )
    assert isinstance(decode_own(encode(command)), InventoryCommandRequested)
    with pytest.raises(ValueError, match="tombstone"):
        decode_own(None)


@pytest.mark.parametrize(
    ("group", "wire", "kind"),
    [
        ("shopify-sync-propagation", CATALOG_WIRE, CatalogProductChanged),
        ("shopify-sync", REJECTED_WIRE, SyncChangeRejected),
    ],
)
async def test_the_loops_that_meet_them_parse_them_with_the_own_decoder(
    group: str, wire: bytes, kind: type[Envelope]
) -> None:
    """The loop the runtime builds for the group hands the record to its handler instead of
    the DLQ (the shared decoder refuses it)."""
    settings = Settings(
        kafka_bootstrap_servers="127.0.0.1:1", propagate_catalog=True, admin_token="tok"
    )
    [spec] = [c for c in service(settings).consumers if c.group == group]
    handlers = SimpleNamespace(handle_batch=None, handle_many=None)
    container: Any = SimpleNamespace(propagation=handlers, changes=handlers)
    loop = consumer_loop(spec, container, settings, producer=Any)  # type: ignore[arg-type]
    try:
        incoming = await loop._decode([Rec(wire)])
    finally:
        await loop.consumer.stop()  # built, never started
    assert [type(i.event) for i in incoming] == [kind]


@dataclass
class Rec:
    value: bytes | None
    topic: str = "catalog.v1"
    partition: int = 0
    offset: int = 0
    timestamp: int = 0
    key: bytes | None = b"k"
    headers: Sequence[tuple[str, bytes]] = ()


def test_a_collection_webhook_goes_on_keyed_by_its_collection_and_parses_back() -> None:
    store = Store(shop="p.myshopify.com", role="parent", access_token="t",  # type: ignore[arg-type]
                  webhook_secret="s")  # fmt: skip
    body = {"id": 408, "handle": "summer", "updated_at": "2026-12-01T10:00:00Z",
            "admin_graphql_api_id": "gid://shopify/Collection/408"}  # fmt: skip
    hook = ShopifyWebhookReceived(
        source="webhook-receiver", shop=store.shop, correlation_id="c-9",
        payload=ShopifyWebhook(topic="collections/update", shop=store.shop,
                               webhook_id="w-9", body=body),
    )  # fmt: skip
    key, event = collection_change(hook, store, "shopify-sync")
    assert key == "p.myshopify.com/408"
    assert (event.correlation_id, event.causation_id) == ("c-9", hook.id)
    again = decode_own(encode(event))
    assert isinstance(again, CatalogCollectionChanged)
    assert again.payload.collection_id == "gid://shopify/Collection/408"
    assert again.payload.topic == "collections/update" and again.payload.role == "parent"
    assert collection_change(hook, store, "shopify-sync")[1].id == event.id  # handled again
