"""The events only shopify-sync writes and reads, so they live here, not among the shared
events of ``stocksync_common.events``; both of its consumers that can meet them parse their
topics with :data:`decode` (the shared events plus these). The wire format of each is the
envelope of every event with its ``type``.

- ``catalog.product_changed`` on ``catalog.v1`` (ADR 0011): the catalog mapping group hands
  each store's products/* webhook on to the propagation group, keyed ``{shop}/{product id}``.
- ``catalog.collection_changed`` on ``catalog.v1`` (ADR 0021): the same for a store's
  collections/* webhook, keyed ``{shop}/{collection id}``.
- ``sync.change.rejected``: the value of the changes group's own dead letter (a quantity a
  store rejected); replayed, it reaches the changes group again through its retry topic.
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


CollectionTopic = Literal["collections/create", "collections/update", "collections/delete"]


class CatalogCollectionChange(Model):
    """One store's collections/* webhook, handed from the catalog consumer to the
    propagation (``catalog.v1``, key ``{shop}/{collection id}``)."""

    shop: str
    role: Literal["parent", "child"]
    topic: CollectionTopic
    collection_id: str  # the collection's gid
    updated_at: str | None = None
    webhook_id: str | None = None
    body: dict[str, Any]  # the webhook body as Shopify sent it (REST shape)


class CatalogCollectionChanged(Envelope):
    type: Literal["catalog.collection_changed"] = "catalog.collection_changed"
    payload: CatalogCollectionChange


class RejectedChange(Model):
    """A quantity one store rejected (the changes group's own dead letter), as it was pending."""

    shop: str
    sku: str
    location: str
    version: int
    quantity: int


class SyncChangeRejected(Envelope):
    """The value of the changes group's dead letter: replayed, it re-records the change as
    pending for that one shop (latest version wins)."""

    type: Literal["sync.change.rejected"] = "sync.change.rejected"
    payload: RejectedChange


OwnEvent: TypeAlias = Annotated[
    CommonEvent | CatalogProductChanged | CatalogCollectionChanged | SyncChangeRejected,
    Field(discriminator="type"),
]
decode = decoder(TypeAdapter[OwnEvent](OwnEvent))
