"""shopify-sync: ops and admin endpoints, the consumers (inventory changes; product
webhooks to the mapping and catalog.v1; catalog.v1 to the children; shipments), one push
lane per shop, and the reconciliation schedule (see bootstrap)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from shopify_sync.bootstrap import service
from shopify_sync.entrypoints import admin, jobs, status, stores
from shopify_sync.settings import Settings, get_settings
from stocksync_common.runtime import create_service_app


def create_app(settings: Settings | None = None, http: httpx.AsyncClient | None = None) -> FastAPI:
    """The app; ``http`` is a test seam (an ASGI transport to the simulator)."""
    spec = service(settings or get_settings(), http=http)
    return create_service_app(spec, [admin.router, jobs.router, status.router, stores.router])
