"""HTTP: the inventory read API, the admin import, and the ops endpoints (see bootstrap)."""

from __future__ import annotations

from fastapi import FastAPI

from inventory_adjuster.bootstrap import service
from inventory_adjuster.entrypoints import admin, read_api
from inventory_adjuster.settings import Settings, get_settings
from stocksync_common.runtime import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(service(settings or get_settings()), [read_api.router, admin.router])
