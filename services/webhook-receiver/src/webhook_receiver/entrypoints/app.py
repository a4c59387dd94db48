"""The webhook-receiver HTTP app: the two webhook endpoints, their OpenAPI, and the probes.

The two webhook POSTs are the hot path: :class:`ReceiverApp` hands them to their raw ASGI
handlers before FastAPI sees them (no middleware, routing, dependency solving or response
classes per delivery; ADR 0015). Everything else (probes, metrics, the DLQ admin API, the
OpenAPI document, other methods on the webhook paths) is FastAPI as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from stocksync_common.runtime import create_service_app
from stocksync_common.shopify_webhooks import SHOPIFY_WEBHOOK_PATH
from stocksync_common.tracing import setup_tracing
from webhook_receiver.bootstrap import Container, build, service
from webhook_receiver.entrypoints import parked, shopify, wms
from webhook_receiver.entrypoints.edge import Edge
from webhook_receiver.entrypoints.openapi import wms_schemas
from webhook_receiver.metrics import exposition
from webhook_receiver.settings import Settings, get_settings

TITLE = "StockSync webhook-receiver"
DESCRIPTION = (
    "The only door from the outside: Shopify's and the WMS's signed webhooks. A 200 means the "
    "delivery is durably in Kafka (or already was); any other answer means retry."
)


# The hot path: POSTs to these paths go straight to their raw handlers.
EDGES: dict[str, Edge] = {
    SHOPIFY_WEBHOOK_PATH: shopify.shopify_edge,
    "/webhooks/wms": wms.wms_edge,
}


class ReceiverApp(FastAPI):
    """FastAPI, with the two webhook POSTs sent to their raw handlers in front of it."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            edge = EDGES.get(path)
            if edge is not None:
                await edge(self.state.container, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        """Prometheus exposition, summed over every worker process."""
        data, content_type = exposition()
        return Response(data, media_type=content_type)

    return router


def _documented(settings: Settings) -> dict[str, Any]:
    """The internet-facing service describes itself only outside production: its OpenAPI
    lists the admin routes too, and the docs pages serve scripts (#22)."""
    if settings.environment == "production":
        return {"docs_url": None, "redoc_url": None, "openapi_url": None}
    return {}


def create_app(
    settings: Settings | None = None, *, build_container: Callable[[Settings], Container] = build
) -> ReceiverApp:
    """The app; ``build_container`` is a test seam (a container of fakes)."""
    settings = settings or get_settings()
    # Each uvicorn worker is its own process: set tracing up here, not only in the parent.
    setup_tracing(settings.service_name)
    spec = dataclasses.replace(
        service(settings, build_container),
        app_class=ReceiverApp,
        app_options={"description": DESCRIPTION, "version": "1", **_documented(settings)},
        # The shared /metrics shows this process only; ours sums the workers.
        metrics=False,
    )
    app = create_service_app(spec, [metrics_router(), shopify.router, wms.router, parked.router])
    assert isinstance(app, ReceiverApp)  # noqa: S101 - the class given above

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=TITLE, version=app.version, description=DESCRIPTION, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(wms_schemas())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
