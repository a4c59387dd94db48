"""Connecting a store, as pure rules: which access scopes StockSync needs and why, which
webhook subscriptions to keep, update, create or remove, and the location mapping.

Scopes: a write scope includes its read scope (Shopify grants ``read_x`` with ``write_x``).
Subscriptions: Shopify shows an app only its own subscriptions. One subscription per topic
StockSync consumes, to ``<public url>/webhooks/shopify`` in JSON; one already there is kept, one
of ours (its path is the receiver's) pointing elsewhere (an old tunnel) is updated, extra ones
of ours for a topic are removed, and ours for a topic StockSync no longer consumes are removed.
A subscription to another path is someone else's use of the app: reported, never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from stocksync_common.shopify_webhooks import SHOPIFY_WEBHOOK_PATH


@dataclass(frozen=True)
class ScopeNeed:
    any_of: tuple[str, ...]  # one of these handles is enough
    reason: str


# What StockSync calls and subscribes to, and the scope each needs (Shopify's reference).
REQUIRED_SCOPES: tuple[ScopeNeed, ...] = (
    ScopeNeed(("write_inventory",), "set counts with inventorySetQuantities; read levels and "
              "inventory items; inventory_levels/update and inventory_items/update webhooks"),
    ScopeNeed(("read_products",), "discover the catalog (variants, SKUs, inventory items) and "
              "receive products/* and collections/* webhooks"),
    ScopeNeed(("read_locations",), "list the store's locations for the location mapping"),
    ScopeNeed(("read_orders",), "receive orders/* and refunds/create webhooks (reservations, "
              "cancellations, restocks)"),
    ScopeNeed(("read_fulfillments",), "receive fulfillments/create webhooks (shipped units "
              "commit their reservations)"),
)  # fmt: skip
# Needed only with a feature on.
CATALOG_SCOPE = ScopeNeed(
    ("write_products",),
    "catalog propagation writes child products and collections (productSet, metafieldsSet, "
    "collectionCreate, collectionAddProducts)",
)
# Collection propagation reads which sales channels a collection is published on
# (``resourcePublications``) in the parent and the child, and publishes it in the child
# (``publishablePublish``/``publishableUnpublish``); the Admin schema's ``requiredAccess``
# of those fields names the scopes.
PUBLISH_SCOPE = ScopeNeed(
    ("write_publications",),
    "catalog propagation publishes child collections to the sales channels the parent's are "
    "on (publishablePublish, publishableUnpublish; resourcePublications)",
)
PUBLICATIONS_READ_SCOPE = ScopeNeed(
    ("read_publications",),
    "catalog propagation reads the sales channels a parent collection is published on "
    "(resourcePublications)",
)
FULFILMENT_SCOPE = ScopeNeed(
    (
        "write_merchant_managed_fulfillment_orders",
        "write_assigned_fulfillment_orders",
        "write_third_party_fulfillment_orders",
    ),
    "warehouse shipments become Shopify fulfilments (fulfillmentCreate)",
)


def needed_scopes(
    role: str, propagate_catalog: bool, fulfil_shipments: bool
) -> tuple[ScopeNeed, ...]:
    """What a store of ``role`` must grant with these features on."""
    extra = []
    if propagate_catalog:
        extra = [CATALOG_SCOPE, PUBLISH_SCOPE] if role == "child" else [PUBLICATIONS_READ_SCOPE]
    if fulfil_shipments:
        extra.append(FULFILMENT_SCOPE)
    return (*REQUIRED_SCOPES, *extra)


def _implied(granted: Iterable[str]) -> set[str]:
    have = set(granted)
    have |= {"read_" + h.removeprefix("write_") for h in have if h.startswith("write_")}
    return have


def missing_scopes(granted: Iterable[str], needs: Sequence[ScopeNeed]) -> list[ScopeNeed]:
    have = _implied(granted)
    return [need for need in needs if not have & set(need.any_of)]


@dataclass(frozen=True)
class Subscription:
    id: str
    topic: str  # WebhookSubscriptionTopic: ORDERS_CREATE
    uri: str
    format: str = "JSON"


@dataclass
class SubscriptionPlan:
    keep: list[Subscription] = field(default_factory=list)
    create: list[str] = field(default_factory=list)  # topics
    update: list[Subscription] = field(default_factory=list)  # as found; to point at ours
    delete: list[Subscription] = field(default_factory=list)
    foreign: list[Subscription] = field(default_factory=list)  # another path: left alone

    @property
    def changes(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)


def callback_url(public_url: str) -> str:
    """``<public url>/webhooks/shopify``; the public URL must be absolute HTTPS (Shopify
    delivers to HTTPS only) or http on a loopback host (a local simulator)."""
    parts = urlsplit(public_url.strip())
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
        raise ValueError(f"public URL must be https://host[/prefix], got {public_url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"public URL must not carry a query or fragment: {public_url!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{SHOPIFY_WEBHOOK_PATH}"


def _ours(sub: Subscription) -> bool:
    return urlsplit(sub.uri).path.rstrip("/").endswith(SHOPIFY_WEBHOOK_PATH)


def plan_subscriptions(
    existing: Sequence[Subscription], wanted: Iterable[str], callback: str
) -> SubscriptionPlan:
    plan = SubscriptionPlan()
    wanted = list(dict.fromkeys(wanted))
    by_topic: dict[str, list[Subscription]] = {}
    for sub in existing:
        if _ours(sub):
            by_topic.setdefault(sub.topic, []).append(sub)
        else:
            plan.foreign.append(sub)
    for topic in wanted:
        subs = by_topic.pop(topic, [])
        right = [s for s in subs if s.uri == callback and s.format == "JSON"]
        if right:
            plan.keep.append(right[0])
            plan.delete.extend(s for s in subs if s is not right[0])
        elif subs:
            plan.update.append(subs[0])
            plan.delete.extend(subs[1:])
        else:
            plan.create.append(topic)
    for stale in by_topic.values():
        plan.delete.extend(stale)
    return plan


@dataclass(frozen=True)
class Location:
    id: str
    name: str
    active: bool = True


class MappingProblem(ValueError):
    """The location mapping cannot be made or is wrong; the message says what to do."""


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "default"


def _pick(locations: Sequence[Location], wanted: str) -> Location:
    found = [loc for loc in locations if wanted in (loc.id, loc.name)]
    if len(found) != 1:
        names = ", ".join(f"{loc.name!r} ({loc.id})" for loc in locations) or "none"
        raise MappingProblem(f"no single active location {wanted!r}; the store has: {names}")
    return found[0]


def plan_locations(
    configured: Mapping[str, str],
    locations: Sequence[Location],
    explicit: Mapping[str, str],
    known_ids: Iterable[str],
) -> dict[str, str]:
    """The mapping (internal location id -> Shopify location gid) the store should have.

    ``explicit`` (internal id -> gid or name, from ``--map``) wins; else a configured mapping
    is checked against the active locations; else a store with one active location maps it to
    the one internal id the other stores use (or its name as a slug when none does). Anything
    else is a :class:`MappingProblem` naming the locations to choose from."""
    active = [loc for loc in locations if loc.active]
    if explicit:
        return {internal: _pick(active, wanted).id for internal, wanted in explicit.items()}
    if configured:
        ids = {loc.id for loc in active}
        gone = sorted(f"{k} -> {v}" for k, v in configured.items() if v not in ids)
        if gone:
            raise MappingProblem(f"mapped locations not active in the store: {', '.join(gone)}")
        return dict(configured)
    known = sorted(set(known_ids))
    if len(active) == 1 and len(known) <= 1:
        return {known[0] if known else slug(active[0].name): active[0].id}
    names = ", ".join(f"{loc.name!r} ({loc.id})" for loc in active) or "none"
    raise MappingProblem(
        f"choose the mapping with --map INTERNAL_ID=LOCATION (internal ids in use: "
        f"{', '.join(known) or 'none'}); active locations: {names}"
    )
