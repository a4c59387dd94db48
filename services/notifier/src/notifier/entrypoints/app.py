"""notifier: ops endpoints, the rules API, the consumer and the delivery workers (see
bootstrap)."""

from __future__ import annotations

from fastapi import FastAPI

from notifier.bootstrap import service
from notifier.entrypoints import rules_api
from notifier.settings import Settings, get_settings
from stocksync_common.runtime import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(service(settings or get_settings()), [rules_api.router])
