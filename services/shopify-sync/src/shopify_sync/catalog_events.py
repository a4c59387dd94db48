"""``catalog.product_changed``: shopify-sync's own event on ``catalog.v1`` (ADR 0011).

The catalog mapping group hands each store's products/* webhook on to the propagation group
as this event, keyed ``{shop}/{product id}``. Only shopify-sync writes and reads it, so it
lives here, not among the shared events; the propagation consumer parses ``catalog.v1`` with
:data:`decode_catalog` (the shared events plus this one). The wire format is the envelope of
every event with ``type`` ``catalog.product_changed``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import Field, TypeAdapter

from stocksync_common.events import CommonEvent, Envelope, Model, decoder

ProductTopic = Literal["products/create", "products/update", "products/delete"]


class CatalogProductChange(Model):
    """One store's products/* webhook, handed from the catalog mapping to the propagation
    (``catalog.v1``, key ``{shop}/{product id}``): enough to act on without the raw topic."""

    shop: str
    role: Literal["parent", "child"]
    topic: ProductTopic
    product_id: str  # the product's gid
    updated_at: str | None = None
    webhook_id: str | None = None
    body: dict[str, Any]  # the webhook body as Shopify sent it (REST shape)


class CatalogProductChanged(Envelope):
    type: Literal["catalog.product_changed"] = "catalog.product_changed"
    payload: CatalogProductChange


CatalogEvent: TypeAlias = Annotated[
    CommonEvent | CatalogProductChanged, Field(discriminator="type")
]
decode_catalog = decoder(TypeAdapter[CatalogEvent](CatalogEvent))
