"""In-memory state of the simulated shops: products, inventory levels, idempotency records."""

from __future__ import annotations

import hmac
import itertools
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from stocksync_sim.delivery import Delivery, rfc3339, utc_now
from stocksync_sim.shopify.bucket import Clock, LeakyBucket
from stocksync_sim.shopify.config import StoreConfig
from stocksync_sim.shopify.faults import Faults, StoreStats

NextId = Callable[[], int]
T = TypeVar("T")

# Quantity names Shopify knows; the simulator tracks available and committed, the rest read 0.
QUANTITY_NAMES = frozenset(
    {
        "available",
        "committed",
        "damaged",
        "incoming",
        "on_hand",
        "quality_control",
        "reserved",
        "safety_stock",
    }
)


def gid(kind: str, number: int | str) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: str) -> str:
    """The trailing id of a gid (``gid://shopify/Location/7`` -> ``7``)."""
    return value.rsplit("/", 1)[-1].split("?", 1)[0]


@dataclass
class Level:
    """One inventory level: ``on_hand = available + committed``."""

    location_id: str
    available: int
    committed: int = 0
    updated_at: str = field(default_factory=lambda: rfc3339(utc_now()))

    @property
    def on_hand(self) -> int:
        return self.available + self.committed

    def quantity(self, name: str) -> int:
        if name == "available":
            return self.available
        if name == "on_hand":
            return self.on_hand
        if name == "committed":
            return self.committed
        return 0

    def set_quantity(self, name: str, value: int) -> int:
        """Absolute set of ``available`` or ``on_hand``; returns the delta applied."""
        before = self.quantity(name)
        if name == "available":
            self.available = value
        else:  # on_hand: committed stays, so available moves by the same delta
            self.available += value - before
        self.updated_at = rfc3339(utc_now())
        return value - before


@dataclass(eq=False)
class CatalogInfo:
    """What the variants of one product share: the product's own fields and its options."""

    number: int
    title: str
    handle: str = ""
    status: str = "ACTIVE"
    vendor: str = "StockSync Simulator"
    product_type: str = ""
    description_html: str = ""
    tags: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # image URLs, in order
    option_names: list[str] = field(default_factory=lambda: ["Title"])
    metafields: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: rfc3339(utc_now()))
    updated_at: str = field(default_factory=lambda: rfc3339(utc_now()))
    variants: list[Product] = field(default_factory=list, repr=False)  # in position order


class _Shared(Generic[T]):
    """A product-level field read and written through the variant's ``info``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Product, owner: type[Product] | None = None) -> T:
        value: T = getattr(obj.info, self.name)
        return value

    def __set__(self, obj: Product, value: T) -> None:
        setattr(obj.info, self.name, value)


@dataclass(eq=False)
class Product:
    """One variant and its inventory item, identified by SKU; the product it belongs to
    (``info``) is shared by its sibling variants."""

    sku: str
    item_number: int
    variant_number: int
    info: CatalogInfo = field(repr=False)
    price: str = "10.00"
    levels: dict[str, Level] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: rfc3339(utc_now()))
    # Option values in the product's option order.
    values: list[str] = field(default_factory=lambda: ["Default Title"])

    title = _Shared[str]("title")
    handle = _Shared[str]("handle")
    status = _Shared[str]("status")
    vendor = _Shared[str]("vendor")
    product_type = _Shared[str]("product_type")
    description_html = _Shared[str]("description_html")
    tags = _Shared[list[str]]("tags")
    images = _Shared[list[str]]("images")
    metafields = _Shared[dict[tuple[str, str], tuple[str, str]]]("metafields")
    updated_at = _Shared[str]("updated_at")

    @property
    def product_number(self) -> int:
        return self.info.number

    @property
    def options(self) -> list[tuple[str, str]]:
        """(option name, value) pairs of this variant."""
        return list(zip(self.info.option_names, self.values, strict=False))

    @property
    def position(self) -> int:
        return self.info.variants.index(self) + 1 if self in self.info.variants else 1

    @property
    def variant_title(self) -> str:
        return " / ".join(self.values) or "Default Title"

    @property
    def product_handle(self) -> str:
        return self.info.handle or self.sku.lower()

    def touch(self) -> None:
        self.info.updated_at = rfc3339(utc_now())

    @property
    def inventory_item_id(self) -> str:
        return gid("InventoryItem", self.item_number)

    @property
    def variant_id(self) -> str:
        return gid("ProductVariant", self.variant_number)

    @property
    def product_id(self) -> str:
        return gid("Product", self.info.number)

    def to_json(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "inventory_item_id": self.inventory_item_id,
            "variant_id": self.variant_id,
            "product_id": self.product_id,
            "handle": self.product_handle,
            "title": self.title,
            "price": self.price,
            "options": dict(self.options),
            "levels": {
                location: {
                    "available": level.available,
                    "committed": level.committed,
                    "on_hand": level.on_hand,
                }
                for location, level in self.levels.items()
            },
        }


@dataclass(frozen=True)
class IdempotencyRecord:
    fingerprint: str
    result: Any


@dataclass(frozen=True)
class Shortage:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True)
class Allocation:
    product: Product
    location_id: str
    quantity: int


class OrderRefused(Exception):
    def __init__(self, shortages: list[Shortage]) -> None:
        super().__init__("insufficient stock")
        self.shortages = shortages


class UnknownSku(Exception):
    def __init__(self, skus: list[str]) -> None:
        super().__init__(f"unknown SKUs: {', '.join(skus)}")
        self.skus = skus


class StoreState:
    """Everything one simulated shop holds."""

    def __init__(self, config: StoreConfig, next_id: NextId, clock: Clock) -> None:
        self.config = config
        self._next_id = next_id
        self._clock = clock
        self.shop_number = next_id()
        # tokens the client credentials grant issued (oauth.py): token -> expiry (clock);
        # kept across reset(), as Shopify keeps them when the shop's data changes
        self.issued_tokens: dict[str, float] = {}
        self.reset()

    def reset(self) -> None:
        self.bucket = LeakyBucket(self.config.bucket_size, self.config.restore_rate, self._clock)
        self.products: dict[str, Product] = {}
        self.by_item: dict[str, Product] = {}
        self.by_variant: dict[str, Product] = {}
        # Configured locations first (in file order), then any seeded ad hoc.
        self.locations: dict[str, str] = {
            location_gid: internal for internal, location_gid in self.config.locations.items()
        }
        self.idempotency: dict[str, IdempotencyRecord] = {}
        self.order_number = 1000
        self.faults = Faults()
        self.stats = StoreStats()
        self.bulk_operations: dict[str, Any] = {}  # gid -> bulk.BulkOperation
        self.orders: dict[str, Any] = {}  # order gid -> fulfillment.SimOrder
        # products/* webhooks our GraphQL writes caused, sent after the answer (endpoint).
        self.outbox: list[tuple[str, Any]] = []  # (topic, Product or collections.SimCollection)
        self.collections: dict[int, Any] = {}  # number -> collections.SimCollection
        self.publications: dict[str, str] | None = None  # sales channels (channels.py)
        self.jobs: dict[str, Any] = {}  # gid -> jobs.SimJob (asynchronous mutations)
        self.staged_keys: dict[str, str] = {}  # upload token -> key (bulk_mutation)
        self.catalog_index: dict[str, CatalogInfo] = {}  # "h:<handle>", "i:<gid>" (catalog)
        self.staged_files: dict[str, bytes] = {}  # key -> uploaded JSONL
        # The app's webhook subscriptions (gid -> subscriptions.WebhookSubscription) and the
        # scopes granted when the control API changed them (None: the configured ones).
        self.webhook_subscriptions: dict[str, Any] = {}
        self.granted_scopes: tuple[str, ...] | None = None

    def now(self) -> float:
        return self._clock()

    def accepts(self, token: str) -> bool:
        """The fixed token, or an issued one that has not expired (an expired one is
        answered 401 like any wrong token, as Shopify does, and counted)."""
        fixed = self.config.access_token
        if fixed is not None and _same(fixed, token):
            return True
        expires = self.issued_tokens.get(token)
        if expires is not None and self.now() >= expires:
            self.stats.expired_tokens_refused += 1
            return False
        return expires is not None

    @property
    def shop(self) -> str:
        return self.config.shop

    def next_id(self) -> int:
        return self._next_id()

    def upsert_product(
        self,
        sku: str,
        quantities: dict[str, int],
        title: str | None = None,
        price: str | None = None,
        info: CatalogInfo | None = None,
    ) -> Product:
        """Create or update the variant with ``sku``: a new one joins ``info``'s product,
        or is a product of its own. An empty ``sku`` always creates a variant without one
        (as Shopify allows): it is found by its id, never by SKU."""
        product = self.products.get(sku) if sku else None
        if product is None:
            if info is None:
                info = CatalogInfo(self._next_id(), title or f"Product {sku}", handle=sku.lower())
            product = Product(
                sku=sku,
                item_number=self._next_id(),
                variant_number=self._next_id(),
                info=info,
                price=price or "10.00",
            )
            info.variants.append(product)
            self.add_variant(product)
        else:
            product.title = title or product.title
            product.price = price or product.price
        for location_id, available in quantities.items():
            self.locations.setdefault(location_id, location_id)
            level = product.levels.get(location_id)
            if level is None:
                product.levels[location_id] = Level(location_id, available)
            else:
                level.set_quantity("available", available)
        return product

    def add_variant(self, product: Product) -> None:
        if product.sku:
            self.products[product.sku] = product
        self.by_item[product.inventory_item_id] = product
        self.by_variant[product.variant_id] = product
        self.index(product.info)

    def remove_variant(self, product: Product) -> None:
        """Drop one variant and its inventory item (its product stays when others remain)."""
        if self.products.get(product.sku) is product:
            self.products.pop(product.sku)
        self.by_item.pop(product.inventory_item_id, None)
        self.by_variant.pop(product.variant_id, None)
        if product in product.info.variants:
            product.info.variants.remove(product)

    def index(self, info: CatalogInfo) -> None:
        """Find the product by id and handle (``find_product`` checks the entry is current)."""
        self.catalog_index[f"h:{info.handle}"] = info
        self.catalog_index[f"i:{gid('Product', info.number)}"] = info

    def rename(self, sku: str, new_sku: str) -> Product:
        """Give a product's variant another SKU (a merchant edit in the admin)."""
        product = self.products[sku]
        return self.resku(product, new_sku)

    def resku(self, product: Product, new_sku: str) -> Product:
        """Set a variant's SKU, or take it away (``""``); a SKU names one variant."""
        if new_sku and self.products.get(new_sku) not in (None, product):
            raise ValueError(f"SKU {new_sku} is already used")
        if self.products.get(product.sku) is product:
            self.products.pop(product.sku)
        product.sku = new_sku
        if new_sku:
            self.products[new_sku] = product
        return product

    def catalog(self) -> list[CatalogInfo]:
        """Every product (with at least one variant), in creation order."""
        seen: dict[int, CatalogInfo] = {}
        for product in self.by_variant.values():
            seen.setdefault(product.info.number, product.info)
        return [seen[n] for n in sorted(seen)]

    def search(self, skus: set[str] | None) -> list[Product]:
        """Variants in creation order (those without a SKU too), optionally only those with
        one of ``skus``."""
        products: Iterable[Product] = self.by_variant.values()
        if skus is not None:
            products = (self.products[sku] for sku in skus if sku in self.products)
        return sorted(products, key=lambda product: product.item_number)

    def inventory(self) -> dict[str, dict[str, int]]:
        return {
            sku: {location: level.available for location, level in product.levels.items()}
            for sku, product in sorted(self.products.items())
        }

    def allocate(self, lines: list[tuple[str, int]], location_id: str | None) -> list[Allocation]:
        """Choose a location per SKU like a storefront would; raise when stock is short.

        Nothing is changed here; :meth:`commit_order` applies the allocations.
        """
        wanted: dict[str, int] = {}
        for sku, quantity in lines:
            wanted[sku] = wanted.get(sku, 0) + quantity
        unknown = [sku for sku in wanted if sku not in self.products]
        if unknown:
            raise UnknownSku(unknown)
        allocations: list[Allocation] = []
        shortages: list[Shortage] = []
        for sku, quantity in wanted.items():
            product = self.products[sku]
            candidates = [location_id] if location_id else list(self.locations)
            chosen = next(
                (
                    loc
                    for loc in candidates
                    if loc in product.levels and product.levels[loc].available >= quantity
                ),
                None,
            )
            if chosen is None:
                best = max(
                    (product.levels[loc].available for loc in candidates if loc in product.levels),
                    default=0,
                )
                shortages.append(Shortage(sku, quantity, best))
            else:
                allocations.append(Allocation(product, chosen, quantity))
        if shortages:
            raise OrderRefused(shortages)
        return allocations

    def commit_order(self, allocations: list[Allocation]) -> int:
        """Move sold units from available to committed; returns the new order number."""
        for allocation in allocations:
            level = allocation.product.levels[allocation.location_id]
            level.available -= allocation.quantity
            level.committed += allocation.quantity
            level.updated_at = rfc3339(utc_now())
        self.order_number += 1
        return self.order_number


@dataclass(frozen=True)
class QuantityWrite:
    """One quantity of an ``inventorySetQuantities`` (or change of an
    ``inventoryAdjustQuantities``) call as the store met it: its count at that moment
    (``None`` for an unknown item or location), the ``changeFromQuantity`` sent, the quantity
    asked (an adjustment: the count plus its ``delta``), and the outcome: ``applied``,
    ``stale`` (``CHANGE_FROM_QUANTITY_STALE``), ``invalid`` (another user error on this
    quantity), ``not_applied`` (fine, but the call failed elsewhere: all or nothing) or
    ``replayed`` (an idempotency key seen before: the first answer, nothing changed now)."""

    sku: str | None
    location_id: str
    name: str
    store_count: int | None
    change_from: int | None
    quantity: int
    outcome: str
    delta: int | None = None  # an adjustment's, else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sku": self.sku,
            "location_id": self.location_id,
            "name": self.name,
            "store_count": self.store_count,
            "change_from": self.change_from,
            "quantity": self.quantity,
            "outcome": self.outcome,
        }
        if self.delta is not None:
            out["delta"] = self.delta
        return out


@dataclass
class RecordedRequest:
    seq: int
    received_at: str
    shop: str | None
    api_version: str
    status_code: int
    document: str | None
    variables: Any
    operation_name: str | None
    response: Any
    writes: list[QuantityWrite] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "shop": self.shop,
            "api_version": self.api_version,
            "status_code": self.status_code,
            "operation_name": self.operation_name,
            "document": self.document,
            "variables": self.variables,
            "response": self.response,
            "writes": [write.to_json() for write in self.writes],
        }


class SimState:
    """All shops plus the request log and webhook deliveries."""

    def __init__(
        self, stores: list[StoreConfig], clock: Clock, max_recorded_requests: int = 100_000
    ) -> None:
        counter = itertools.count(1)
        self._next_id: NextId = lambda: next(counter)
        self.stores: dict[str, StoreState] = {
            config.shop: StoreState(config, self._next_id, clock) for config in stores
        }
        self._seq = itertools.count(1)
        self.requests: deque[RecordedRequest] = deque(maxlen=max_recorded_requests)
        self.deliveries: dict[str, Delivery] = {}

    def next_id(self) -> int:
        return self._next_id()

    def stores_for_token(self, token: str | None, shop: str | None = None) -> list[StoreState]:
        if not token:
            return []
        candidates = [self.stores[shop]] if shop in self.stores else []
        if shop is None:
            candidates = list(self.stores.values())
        return [store for store in candidates if store.accepts(token)]

    def record(self, **fields: Any) -> RecordedRequest:
        entry = RecordedRequest(seq=next(self._seq), received_at=rfc3339(utc_now()), **fields)
        self.requests.append(entry)
        return entry

    def reset(self) -> None:
        for store in self.stores.values():
            store.reset()
        self.requests.clear()
        self.deliveries.clear()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
