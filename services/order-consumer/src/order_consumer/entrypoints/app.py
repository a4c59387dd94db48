"""order-consumer: ops endpoints plus the consumers of Shopify webhooks, of ``order.oversold``
(its own group on inventory.changed.v1) and of compliance requests (see bootstrap)."""

from __future__ import annotations

from fastapi import FastAPI

from order_consumer.bootstrap import service
from order_consumer.settings import Settings, get_settings
from stocksync_common.runtime import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(service(settings or get_settings()))
