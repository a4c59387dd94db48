"""The event envelope and the typed events carried on StockSync's topics.

Every record value is one envelope. ``type`` selects the payload model through a
discriminated union, so a consumer parses any record of the shared topics with
:func:`decode`; a service with an event of its own parses its topic with a :func:`decoder`
over the union plus that event. Changes are additive; a breaking change is a new ``type``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

# Deterministic ids: the same source fact always yields the same event id.
E = TypeVar("E")

EVENT_NAMESPACE = uuid.UUID("5b1c4f8e-9a43-4a55-8d1e-3c6f0e2b7a10")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def stable_id(*parts: str) -> str:
    """An id derived from its source, so a replay produces the same id."""
    return str(uuid.uuid5(EVENT_NAMESPACE, "\x1f".join(parts)))


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Envelope(Model):
    id: str = Field(default_factory=new_id)
    type: str
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    correlation_id: str = Field(default_factory=new_id)
    causation_id: str | None = None
    source: str
    shop: str | None = None


# --- raw webhooks -------------------------------------------------------------


class ShopifyWebhook(Model):
    topic: str
    shop: str
    webhook_id: str
    event_id: str | None = None
    triggered_at: str | None = None
    api_version: str | None = None
    received_at: datetime = Field(default_factory=utcnow)
    body: dict[str, Any]


class ShopifyWebhookReceived(Envelope):
    type: Literal["shopify.webhook.received"] = "shopify.webhook.received"
    payload: ShopifyWebhook


class WmsLine(Model):
    sku: str = Field(min_length=1, max_length=255)
    quantity: int
    location: str = Field(min_length=1, max_length=128)


class WmsEvent(Model):
    event_id: str = Field(min_length=1, max_length=128)
    event_type: Literal["receipt", "adjustment", "cycle_count", "shipment"]
    occurred_at: datetime
    warehouse_id: str | None = None
    order_id: str | None = None
    tracking_number: str | None = None
    carrier: str | None = None  # shipments: the carrier that took the parcel
    lines: list[WmsLine] = Field(min_length=1)


class WmsWebhookReceived(Envelope):
    type: Literal["wms.webhook.received"] = "wms.webhook.received"
    payload: WmsEvent


# --- inventory ----------------------------------------------------------------

CommandName = Literal["reserve", "release", "commit", "adjust", "set_on_hand", "configure"]
OversellPolicy = Literal["reject", "backorder"]


class OrderLineRef(Model):
    shop: str
    order_id: str
    line_id: str | None = None


class SkuConfig(Model):
    """Per-SKU settings, changed through a ``configure`` command (never by writing Redis)."""

    policy: OversellPolicy | None = None
    safety_stock: int | None = Field(default=None, ge=0)  # at the command's location
    allocation_threshold: int | None = Field(default=None, ge=0)  # below it: channel shares
    kit_components: dict[str, int] | None = None  # component SKU -> units per kit


class Route(Model):
    """An order line's routing (``reserve``, ``release`` and ``commit`` of one order line):
    ``reserve`` picks the first of ``locations`` with the whole line available, else, with
    ``split``, takes it across them in order; what it holds is kept per order line, so a
    ``release`` or ``commit`` with a route moves the units where they are held (ADR 0018)."""

    locations: list[str] = Field(min_length=1, max_length=32)
    split: bool = False

    @model_validator(mode="after")
    def _distinct(self) -> Route:
        if len(set(self.locations)) != len(self.locations):
            raise ValueError("a route names each location once")
        return self


class InventoryCommand(Model):
    command: CommandName
    idempotency_key: str = Field(min_length=1, max_length=512)
    sku: str = Field(min_length=1, max_length=255)
    location: str = Field(min_length=1, max_length=128)
    quantity: int
    as_of: datetime | None = None
    order: OrderLineRef | None = None
    reason: str | None = None
    config: SkuConfig | None = None
    route: Route | None = None
    # An ``adjust`` +n that puts back what the routed ``commit`` with this idempotency key
    # took off on-hand, at the locations it took them from (a cancelled fulfilment of a
    # routed order; units it cannot place so come back at ``location``; ADR 0031).
    undoes: str | None = Field(default=None, min_length=1, max_length=512)

    @model_validator(mode="after")
    def _quantity_sign(self) -> InventoryCommand:
        if self.command != "adjust" and self.quantity < 0:
            raise ValueError(f"quantity must not be negative for {self.command}")
        if self.undoes is not None and (self.command != "adjust" or self.quantity < 0):
            raise ValueError("only an adjust putting units back undoes a commit")
        if self.route is not None and (
            self.order is None
            or self.order.line_id is None
            or self.command not in ("reserve", "release", "commit")
        ):
            raise ValueError("a route is for the reserve, release or commit of an order line")
        return self


class InventoryCommandRequested(Envelope):
    type: Literal["inventory.command"] = "inventory.command"
    payload: InventoryCommand


class Levels(Model):
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0
    available: int = 0


class KitPart(Model):
    """A kit's part of a component's channel-allocation budget (ADR 0040): the units of the
    component in one kit and, per store, the kits the store's budget holds for it."""

    units: int = Field(ge=1)
    shares: dict[str, int] = Field(default_factory=dict)


class KitComponent(Model):
    """A kit's allocated component as the kit's shares were derived from it (ADR 0040): its
    units in one kit, its published (direct) shares and its kits' parts. Its budget in a
    store is its direct share plus units x part of every kit it is in."""

    units: int = Field(ge=1)
    shares: dict[str, int] = Field(default_factory=dict)
    kit_parts: dict[str, KitPart] = Field(default_factory=dict)


class StockChange(Model):
    sku: str
    location: str
    command: CommandName
    idempotency_key: str
    version: int
    before: Levels
    after: Levels
    sku_available_before: int
    sku_available_after: int
    order: OrderLineRef | None = None
    backordered: bool = False  # available went below zero under the backorder policy
    # When the SKU is low (channel allocation): the quantity each store may show.
    shares: dict[str, int] | None = None
    kits: list[str] = Field(default_factory=list)  # kit SKUs whose availability this moves
    # A kit's component under channel allocation: per kit, its part of each store's budget
    # (``shares`` are then the direct ones). A store's budget of the SKU is its share plus
    # units x part for every kit: shopify-sync raises the SKU in a store only into room the
    # store's kits gave up (ADR 0040). None: in no kit, not allocated, or an older adjuster.
    kit_parts: dict[str, KitPart] | None = None
    # A kit under channel allocation: its allocated components as its shares were derived
    # from them; shopify-sync raises the kit in a store only into room its components'
    # budgets there leave (ADR 0040). None: no component allocated, or an older adjuster.
    kit_components: dict[str, KitComponent] | None = None
    # Per shop, the units of its orders truth has applied at this location so far (reserves,
    # refused ones included; releases never count back): shopify-sync tells from it which
    # of a store's sales truth has not seen yet. None from an adjuster that does not count.
    seen: dict[str, int] | None = None
    # A routed command (ADR 0018): the units it moved per location (one change event per
    # location, this one's ``location`` among them) and the locations it tried, in order.
    routed: dict[str, int] | None = None
    tried: list[str] | None = None
    # A refused reserve of an order line (``idempotency_key`` is that reserve's) taken from
    # the SKU's waiting list when stock came back: its units are held now (ADR 0022).
    rereserved: bool = False


class InventoryChanged(Envelope):
    type: Literal["inventory.changed"] = "inventory.changed"
    payload: StockChange


class OversoldLine(Model):
    sku: str
    location: str
    requested: int
    available: int
    idempotency_key: str
    order: OrderLineRef | None = None
    # A routed reservation (ADR 0018): the locations tried, in order, and what each had.
    tried: list[str] | None = None
    available_at: dict[str, int] | None = None
    # Queued on the SKU's waiting list: reserved when stock comes back, in order of arrival
    # (a change with ``rereserved`` says so; ADR 0022). False: the refusal is final.
    waiting: bool = False
    # A routed reservation: whether its route allows a split (with ``tried``, its route: a
    # rebuild restores its waiting entry from this event; ADR 0031).
    split: bool = False


class OrderOversold(Envelope):
    type: Literal["order.oversold"] = "order.oversold"
    payload: OversoldLine


class SkuLevels(Model):
    sku: str
    version: int
    available: int
    locations: dict[str, Levels]
    shares: dict[str, int] | None = None
    seen: dict[str, dict[str, int]] | None = None  # per location: StockChange.seen
    # Where in inventory.commands.v1 the command that produced these levels was: a rebuild
    # restores these levels and replays only that SKU's later commands.
    partition: int | None = None
    offset: int | None = None
    # For a kit's component: per commands partition (as a string), the highest offset of a
    # kit command these levels include; a rebuild replays only the kit commands after it.
    kit_offsets: dict[str, int] | None = None
    # The idempotency key of the command that produced these levels (a component's after an
    # applied kit command: "<kit key>:component:<sku>"; None after a rejected or duplicate kit
    # command and for a kit's own levels): its key is written in the same script as its
    # change, so a key missing from Redis names a write a failover lost
    # (docs/decisions/0029-redis-cluster.md).
    idempotency_key: str | None = None

    def allowed(self, shop: str, location: str) -> int | None:
        """What truth allows ``shop`` to show at ``location``: its share while channel
        allocation is in force, else the location's available, never below 0 (the rule
        shopify-sync writes by and the ops console compares stores with). None: truth does
        not track that location."""
        if location not in self.locations:
            return None
        if self.shares is not None:
            return max(0, self.shares.get(shop, 0))
        return max(0, self.locations[location].available)


class InventoryLevelsUpdated(Envelope):
    type: Literal["inventory.levels"] = "inventory.levels"
    payload: SkuLevels


# --- orders -------------------------------------------------------------------


class OrderLine(Model):
    line_id: str
    sku: str | None
    quantity: int
    location: str


class Order(Model):
    shop: str
    order_id: str
    name: str | None = None
    lines: list[OrderLine]
    unmapped_lines: list[str] = Field(default_factory=list)
    # The store routes its orders (ADR 0018): the lines' locations are decided when stock is
    # reserved; ``order.routed`` follows with them.
    routing: bool = False
    refused_lines: list[str] = Field(default_factory=list)  # order.routed: no stock anywhere
    # A later ``order.routed`` of an order routed before: only the units placed since (a line
    # added by an edit, more units, a refused line reserved when stock came back), with a
    # reference of its own (stable per placement), so the warehouse gets them as a
    # fulfilment order of their own (ADR 0031).
    follow_up: str | None = None


class OrderReceived(Envelope):
    type: Literal["order.received"] = "order.received"
    payload: Order


class OrderRouted(Envelope):
    """Every mapped line of a routed order was reserved or refused: its lines at the
    locations that hold them (a split line once per location), refused ones apart."""

    type: Literal["order.routed"] = "order.routed"
    payload: Order


class OrderLineQuantity(Model):
    """One order line's part in a lifecycle event (edits: positive added, negative removed)."""

    line_id: str
    sku: str | None = None
    quantity: int
    location: str | None = None
    restock_type: str | None = None  # refunds: no_restock, cancel, return, legacy_restock


class UnmappedLine(Model):
    """An order line no SKU could be found for: no inventory command was issued for it."""

    shop: str
    order_id: str
    line_id: str
    variant_id: str | None = None
    product_id: str | None = None
    title: str | None = None
    quantity: int


class OrderLineUnmapped(Envelope):
    type: Literal["order.line_unmapped"] = "order.line_unmapped"
    payload: UnmappedLine


class OrderCancellation(Model):
    shop: str
    order_id: str
    cancelled_at: datetime | None = None
    reason: str | None = None
    released: list[OrderLineQuantity] = Field(default_factory=list)


class OrderCancelled(Envelope):
    type: Literal["order.cancelled"] = "order.cancelled"
    payload: OrderCancellation


class Shipment(Model):
    """What one fulfillment shipped."""

    shop: str
    order_id: str
    fulfillment_id: str
    location: str | None = None
    tracking_numbers: list[str] = Field(default_factory=list)
    lines: list[OrderLineQuantity]


class OrderFulfilled(Envelope):
    type: Literal["order.fulfilled"] = "order.fulfilled"
    payload: Shipment


class OrderFulfillmentCancelled(Envelope):
    """A shipment Shopify cancelled (``fulfillments/update``, ``cancelled``) was undone once:
    ``lines`` are the units back on hand and open again (empty when it had not shipped here;
    a line's ``location`` is None when a routed line's units came back where its shipment's
    commit took them). ADR 0022 (b), 0031."""

    type: Literal["order.fulfillment_cancelled"] = "order.fulfillment_cancelled"
    payload: Shipment


class RereservedLine(Model):
    """A refused order line inventory-adjuster reserved when stock came back (ADR 0022, a;
    routed lines ADR 0031), as order-consumer applied it."""

    shop: str
    order_id: str
    line_id: str
    sku: str
    quantity: int  # units held for the order again
    released: int = 0  # units the order no longer wanted (cancelled, shrunk): released
    locations: dict[str, int] = Field(default_factory=dict)  # where the held units are


class OrderRereserved(Envelope):
    type: Literal["order.rereserved"] = "order.rereserved"
    payload: RereservedLine


class WarehouseShipment(Model):
    """The warehouse shipped (part of) an order; shopify-sync records it as a fulfillment."""

    shop: str
    order_id: str
    shipment_id: str  # the WMS event id: one shipment, one fulfillment
    lines: list[OrderLineQuantity]
    tracking_number: str | None = None
    carrier: str | None = None
    tracking_url: str | None = None
    shipped_at: datetime | None = None


class OrderShipped(Envelope):
    type: Literal["order.shipped"] = "order.shipped"
    payload: WarehouseShipment


class OrderRefund(Model):
    shop: str
    order_id: str
    refund_id: str
    lines: list[OrderLineQuantity]


class OrderRefunded(Envelope):
    type: Literal["order.refunded"] = "order.refunded"
    payload: OrderRefund


class OrderEdit(Model):
    """Line quantities an order edit changed; ``revision`` names the source of the change."""

    shop: str
    order_id: str
    revision: str
    edit_id: str | None = None
    lines: list[OrderLineQuantity]


class OrderEdited(Envelope):
    type: Literal["order.edited"] = "order.edited"
    payload: OrderEdit


# --- compliance ---------------------------------------------------------------

ComplianceTopic = Literal["customers/data_request", "customers/redact", "shop/redact"]


class ComplianceRequest(Model):
    """One of Shopify's mandatory compliance webhooks, reduced to the identifiers needed to
    find (``customers/data_request``) or erase (``customers/redact``, ``shop/redact``) what
    StockSync keeps. It never carries the customer's email or phone: this topic is a store too.
    """

    topic: ComplianceTopic
    shop: str
    webhook_id: str
    event_id: str | None = None
    triggered_at: str | None = None
    api_version: str | None = None
    received_at: datetime = Field(default_factory=utcnow)
    shop_id: str | None = None
    customer_id: str | None = None
    order_ids: list[str] = Field(default_factory=list)  # orders_to_redact / orders_requested
    data_request_id: str | None = None


class ComplianceRequestReceived(Envelope):
    type: Literal["compliance.received"] = "compliance.received"
    payload: ComplianceRequest


# --- purchasing ---------------------------------------------------------------


class Reorder(Model):
    """A SKU fell to its reorder point: purchasing should order ``quantity`` more."""

    sku: str
    reorder_point: int
    quantity: int = Field(ge=1)
    available: int
    version: int  # the SKU's inventory version that crossed the point
    location: str | None = None


class ReorderRequested(Envelope):
    type: Literal["reorder.requested"] = "reorder.requested"
    payload: Reorder


# Every event the shared topics carry. An event only one service reads (on a topic of its
# own) lives in that service, which declares the consumer of that topic with a decoder that
# knows it too (:func:`decoder`).
CommonEvent: TypeAlias = (
    ShopifyWebhookReceived
    | WmsWebhookReceived
    | InventoryCommandRequested
    | InventoryChanged
    | OrderOversold
    | InventoryLevelsUpdated
    | OrderReceived
    | OrderRouted
    | OrderLineUnmapped
    | OrderCancelled
    | OrderFulfilled
    | OrderFulfillmentCancelled
    | OrderRereserved
    | OrderShipped
    | OrderRefunded
    | OrderEdited
    | ComplianceRequestReceived
    | ReorderRequested
)
Event = Annotated[CommonEvent, Field(discriminator="type")]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def encode(event: Envelope) -> bytes:
    return event.model_dump_json().encode()


def decoder(adapter: TypeAdapter[E]) -> Callable[[bytes | None], E]:
    """A parser of record values into ``adapter``'s events: a service whose topic carries an
    event of its own builds one over ``CommonEvent | ItsEvent`` for its consumer."""

    def decode(raw: bytes | None) -> E:
        """Parse one record value; raises ``pydantic.ValidationError`` on anything malformed."""
        if raw is None:
            raise ValueError("record has no value (tombstone)")
        return adapter.validate_json(raw)

    return decode


# The parser of every shared event (the consumer loop's default).
decode = decoder(EVENT_ADAPTER)


# Where encode() (and the adjuster's hand encoder) writes a change's type: after its id,
# within the first 200 bytes.
_CHANGED_MARK = b'"type":"inventory.changed"'


def changed_document(raw: bytes | None) -> dict[str, Any] | None:
    """An ``inventory.changed`` record's JSON object, parsed with orjson, for a consumer's own
    narrow reading of the fields it uses (shopify-sync, the notifier, order-consumer: ADR
    0041, 0042). None for anything else (a tombstone, not JSON, not an object, another type,
    a change not written as StockSync writes one): the caller decodes that in full, so it is
    accepted or refused, with pydantic's reason, as before; another event is parsed once."""
    if raw is None or raw.find(_CHANGED_MARK, 0, 200) < 0:
        return None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict or doc.get("type") != "inventory.changed":
        return None
    return doc
