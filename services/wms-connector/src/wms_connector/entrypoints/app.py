"""wms-connector: ops and admin endpoints, the WMS webhooks consumer, the orders consumer
(fulfilment orders out to the WMS) and the reconciliation schedule (see bootstrap)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from stocksync_common.runtime import create_service_app
from wms_connector.bootstrap import service
from wms_connector.entrypoints import admin
from wms_connector.settings import Settings, get_settings


def create_app(settings: Settings | None = None, http: httpx.AsyncClient | None = None) -> FastAPI:
    """The app; ``http`` is a test seam (e.g. an ASGI transport to the WMS simulator)."""
    return create_service_app(service(settings or get_settings(), http=http), [admin.router])
