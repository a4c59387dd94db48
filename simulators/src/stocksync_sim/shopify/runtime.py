"""The simulator's settings and the object the routes share (state, schemas, deliverer)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from fastapi import Request

from stocksync_sim.delivery import Deliverer, RetryPolicy, Sleep
from stocksync_sim.shopify.bucket import Clock
from stocksync_sim.shopify.config import StoreConfig
from stocksync_sim.shopify.schema import SchemaRegistry, ValidationMode
from stocksync_sim.shopify.state import SimState, StoreState
from stocksync_sim.shopify.subscriptions import urls_for


@dataclass(frozen=True)
class SimSettings:
    stores: list[StoreConfig]
    webhook_url: str | None = None
    validation: ValidationMode = "auto"
    schema_dir: Path | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_recorded_requests: int = 100_000
    bulk_delay_s: float = 0.0  # simulator seconds a bulk query stays RUNNING


class Simulator:
    def __init__(self, settings: SimSettings, clock: Clock, sleep: Sleep) -> None:
        self.settings = settings
        self.sleep = sleep
        self.state = SimState(settings.stores, clock, settings.max_recorded_requests)
        self.schemas = SchemaRegistry(settings.validation, settings.schema_dir)
        self.deliverer: Deliverer | None = None

    def preload_schemas(self) -> None:
        for version in sorted({store.api_version for store in self.settings.stores}):
            self.schemas.schema(version)

    def webhook_urls(self, store: StoreState, topic: str) -> list[str]:
        """Where a delivery of ``topic`` goes: the store's subscriptions to it once it has
        any (as Shopify delivers), else the ``--webhook-url`` every delivery went to before."""
        if store.webhook_subscriptions:
            return urls_for(store, topic)
        return [self.settings.webhook_url] if self.settings.webhook_url else []

    def require_deliverer(self) -> Deliverer:
        if self.deliverer is None:
            raise RuntimeError("simulator not started: run the app with its lifespan")
        return self.deliverer


async def get_sim(request: Request) -> Simulator:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per
    # Admin API call and sale (13% of a profiled simulator's samples waited on it)
    return cast(Simulator, request.app.state.sim)
