"""Connecting one store to StockSync through the Admin API: the granted scopes checked against
what StockSync needs, the location mapping made or checked, and the webhook subscriptions
reconciled with the topics StockSync consumes (``domain.connect`` decides; this module asks
Shopify and applies). The first full sync is a job (``first_sync``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shopify_sync.adapters.connect_documents import (
    ACCESS_SCOPES,
    ACCESS_SCOPES_COST,
    LOCATIONS,
    PAGE,
    PAGE_COST,
    SUBSCRIPTION_CREATE,
    SUBSCRIPTION_DELETE,
    SUBSCRIPTION_UPDATE,
    WEBHOOK_SUBSCRIPTIONS,
)
from shopify_sync.adapters.documents import MUTATION_COST
from shopify_sync.adapters.shopify import ShopifyClient, ShopifyError
from shopify_sync.domain.connect import (
    Location,
    MappingProblem,
    ScopeNeed,
    Subscription,
    SubscriptionPlan,
    callback_url,
    missing_scopes,
    plan_locations,
    plan_subscriptions,
)
from stocksync_common.shopify_webhooks import subscribable
from stocksync_common.stores import Store

log = logging.getLogger(__name__)


class SubscriptionRefused(ShopifyError):
    """Shopify answered a subscription mutation with userErrors."""


@dataclass
class StoreConnection:
    """What connecting one store found and did (``status`` ok, missing_scopes, needs_mapping
    or failed)."""

    shop: str
    status: str = "ok"
    error: str | None = None
    missing_scopes: list[dict[str, Any]] = field(default_factory=list)
    locations: list[dict[str, Any]] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    mapping_changed: bool = False
    callback: str | None = None
    subscriptions: dict[str, list[str]] = field(default_factory=dict)
    applied: bool = False  # the subscription changes were made (not a dry run, store ok)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "shop": self.shop, "status": self.status, "error": self.error,
            "missing_scopes": self.missing_scopes, "locations": self.locations,
            "mapping": self.mapping, "mapping_changed": self.mapping_changed,
            "callback": self.callback, "subscriptions": self.subscriptions,
            "applied": self.applied,
        }  # fmt: skip


def _summary(plan: SubscriptionPlan) -> dict[str, list[str]]:
    return {
        "kept": sorted(s.topic for s in plan.keep),
        "created": sorted(plan.create),
        "updated": sorted(s.topic for s in plan.update),
        "removed": sorted(s.topic for s in plan.delete),
        "foreign": sorted(f"{s.topic} -> {s.uri}" for s in plan.foreign),
    }


@dataclass
class Connector:
    client: ShopifyClient
    needs: Mapping[str, Sequence[ScopeNeed]]  # per shop

    async def connect(
        self,
        store: Store,
        public_url: str,
        *,
        dry_run: bool = False,
        explicit: Mapping[str, str] | None = None,
        known_ids: Sequence[str] = (),
        mapping_writable: bool = True,
    ) -> StoreConnection:
        """``mapping_writable`` False (the service, which never edits the stores file): a
        mapping the file lacks makes the store ``needs_mapping``, without webhooks."""
        out = StoreConnection(store.shop)
        try:
            out.callback = callback_url(public_url)
            granted = await self.granted_scopes(store)
            missing = missing_scopes(granted, self.needs[store.shop])
            if missing:
                out.status = "missing_scopes"
                out.missing_scopes = [{"any_of": list(m.any_of), "reason": m.reason}
                                      for m in missing]  # fmt: skip
                out.error = "missing access scopes: " + ", ".join(
                    " or ".join(m.any_of) for m in missing
                )
                return out
            locations = await self.locations(store)
            out.locations = [{"id": loc.id, "name": loc.name} for loc in locations]
            try:
                out.mapping = plan_locations(store.locations, locations, explicit or {}, known_ids)
            except MappingProblem as exc:
                out.status, out.error = "needs_mapping", str(exc)
            out.mapping_changed = bool(out.mapping) and out.mapping != store.locations
            if out.ok and out.mapping_changed and not mapping_writable:
                out.status = "needs_mapping"
                out.error = "add the mapping to the stores file and restart the services"
            plan = plan_subscriptions(await self.subscriptions(store), subscribable(), out.callback)
            out.subscriptions = _summary(plan)
            # no webhooks before the mapping is settled: orders would reserve at no location
            if not dry_run and out.ok:
                await self.apply(store, plan, out.callback)
                out.applied = True
        except (ShopifyError, ValueError) as exc:
            out.status, out.error = "failed", str(exc)
        log.info("store connect", extra={"shop": store.shop, "status": out.status,
                                          "dry_run": dry_run})  # fmt: skip
        return out

    async def granted_scopes(self, store: Store) -> list[str]:
        data = await self.client.execute(
            store, ACCESS_SCOPES, {}, operation="GrantedAccessScopes", cost=ACCESS_SCOPES_COST
        )
        scopes = (data.get("currentAppInstallation") or {}).get("accessScopes") or []
        return [str(s["handle"]) for s in scopes]

    async def _pages(self, store: Store, document: str, operation: str, root: str) -> list[Any]:
        nodes: list[Any] = []
        after: str | None = None
        while True:
            data = await self.client.execute(
                store, document, {"first": PAGE, "after": after}, operation=operation,
                cost=PAGE_COST,
            )  # fmt: skip
            page = data.get(root) or {}
            nodes.extend(page.get("nodes") or [])
            info = page.get("pageInfo") or {}
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not after:
                return nodes

    async def locations(self, store: Store) -> list[Location]:
        nodes = await self._pages(store, LOCATIONS, "StoreLocations", "locations")
        return [Location(n["id"], n["name"], bool(n.get("isActive", True))) for n in nodes]

    async def subscriptions(self, store: Store) -> list[Subscription]:
        nodes = await self._pages(
            store, WEBHOOK_SUBSCRIPTIONS, "WebhookSubscriptions", "webhookSubscriptions"
        )
        return [Subscription(n["id"], n["topic"], n["uri"], n.get("format", "JSON"))
                for n in nodes]  # fmt: skip

    async def apply(self, store: Store, plan: SubscriptionPlan, callback: str) -> None:
        wanted = {"uri": callback, "format": "JSON"}
        for topic in plan.create:
            await self._mutate(store, SUBSCRIPTION_CREATE, "WebhookSubscriptionCreate",
                               {"topic": topic, "subscription": wanted})  # fmt: skip
        for sub in plan.update:
            await self._mutate(store, SUBSCRIPTION_UPDATE, "WebhookSubscriptionUpdate",
                               {"id": sub.id, "subscription": wanted})  # fmt: skip
        for sub in plan.delete:
            await self._mutate(store, SUBSCRIPTION_DELETE, "WebhookSubscriptionDelete",
                               {"id": sub.id})  # fmt: skip

    async def _mutate(
        self, store: Store, document: str, operation: str, variables: dict[str, Any]
    ) -> None:
        data = await self.client.execute(
            store, document, variables, operation=operation, cost=MUTATION_COST
        )
        payload = next(iter(data.values()), None) or {}
        errors = payload.get("userErrors") or []
        if errors:
            text = "; ".join(f"{'.'.join(e.get('field') or [])}: {e.get('message')}"
                             for e in errors)  # fmt: skip
            raise SubscriptionRefused(f"{store.shop} refused {operation}: {text}")
