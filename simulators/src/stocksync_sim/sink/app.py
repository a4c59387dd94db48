"""The alert sink's ASGI app: any ``POST /<path>`` is recorded; ``/_sink/messages`` lists."""

from __future__ import annotations

import itertools
import json
from typing import Any

from fastapi import FastAPI, Request

from stocksync_sim.delivery import rfc3339, utc_now


def create_app() -> FastAPI:
    app = FastAPI(title="StockSync alert sink")
    messages: list[dict[str, Any]] = []
    seq = itertools.count(1)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_sink/messages")
    async def list_messages(path: str | None = None) -> list[dict[str, Any]]:
        return [m for m in messages if path is None or m["path"] == path]

    @app.delete("/_sink/messages", status_code=204)
    async def clear_messages() -> None:
        messages.clear()

    @app.post("/{path:path}")
    async def record(path: str, request: Request) -> dict[str, Any]:
        raw = await request.body()
        text = raw.decode("utf-8", errors="replace")
        try:
            body: Any = json.loads(raw) if raw else None
            is_json = bool(raw)
        except ValueError:
            body, is_json = None, False
        message = {
            "seq": next(seq),
            "received_at": rfc3339(utc_now()),
            "path": "/" + path,
            "query": str(request.url.query),
            "headers": dict(request.headers),
            "json": body if is_json else None,
            "text": None if is_json else text,
        }
        messages.append(message)
        return {"ok": True, "seq": message["seq"]}

    return app
