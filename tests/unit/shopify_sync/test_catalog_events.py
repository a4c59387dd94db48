"""``catalog.product_changed`` lives in shopify-sync: the same bytes on ``catalog.v1`` as when
it was a shared event, parsed by the propagation consumer's own decoder (the shared one does
not know it), and the propagation group's loop is built with that decoder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from shopify_sync.bootstrap import service
from shopify_sync.catalog_events import (
    CatalogProductChange,
    CatalogProductChanged,
    decode_catalog,
)
from shopify_sync.settings import Settings
from stocksync_common.events import (
    InventoryCommand,
    InventoryCommandRequested,
    decode,
    encode,
)
from stocksync_common.runtime import consumer_loop

# The value the shared event model wrote before the move (byte for byte).
WIRE = (
    b'{"id":"id-1","type":"catalog.product_changed","schema_version":1,'
    b'"occurred_at":"2026-01-02T03:04:05Z","correlation_id":"c-1","causation_id":"w-1",'
    b'"source":"shopify-sync","shop":"p.myshopify.com","payload":{"shop":"p.myshopify.com",'
    b'"role":"parent","topic":"products/update","product_id":"gid://shopify/Product/7",'
    b'"updated_at":"2026-01-02T03:04:05Z","webhook_id":"wh-1","body":{"id":7,"title":"Tee"}}}'
)


def changed() -> CatalogProductChanged:
    return CatalogProductChanged(
        id="id-1",
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        correlation_id="c-1",
        causation_id="w-1",
        source="shopify-sync",
        shop="p.myshopify.com",
        payload=CatalogProductChange(
            shop="p.myshopify.com", role="parent", topic="products/update",
            product_id="gid://shopify/Product/7", updated_at="2026-01-02T03:04:05Z",
            webhook_id="wh-1", body={"id": 7, "title": "Tee"},
        ),
    )  # fmt: skip


def test_the_wire_format_is_unchanged_and_round_trips() -> None:
    assert encode(changed()) == WIRE
    back = decode_catalog(WIRE)
    assert isinstance(back, CatalogProductChanged)
    assert back == changed()


def test_the_shared_decoder_does_not_know_it_the_catalog_decoder_knows_both() -> None:
    with pytest.raises(ValidationError):
        decode(WIRE)
    command = InventoryCommandRequested(
        source="t",
        payload=InventoryCommand(
            command="reserve", idempotency_key="k", sku="S", location="l", quantity=1
        ),
    )
    assert isinstance(decode_catalog(encode(command)), InventoryCommandRequested)
    with pytest.raises(ValueError, match="tombstone"):
        decode_catalog(None)


async def test_the_propagation_loop_parses_catalog_records_with_the_catalog_decoder() -> None:
    """The loop the runtime builds for the propagation group hands the record to its handler
    instead of the DLQ (the shared decoder refuses it)."""
    settings = Settings(
        kafka_bootstrap_servers="127.0.0.1:1", propagate_catalog=True, admin_token="tok"
    )
    [spec] = [c for c in service(settings).consumers if c.group == "shopify-sync-propagation"]
    container: Any = SimpleNamespace(propagation=SimpleNamespace(handle_batch=None))
    loop = consumer_loop(spec, container, settings, producer=Any)  # type: ignore[arg-type]
    try:
        incoming = await loop._decode([Rec(WIRE)])
    finally:
        await loop.consumer.stop()  # built, never started
    assert [type(i.event) for i in incoming] == [CatalogProductChanged]


@dataclass
class Rec:
    value: bytes | None
    topic: str = "catalog.v1"
    partition: int = 0
    offset: int = 0
    timestamp: int = 0
    key: bytes | None = b"k"
    headers: Sequence[tuple[str, bytes]] = ()
