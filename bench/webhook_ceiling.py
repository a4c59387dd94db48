"""The ceiling for bench.webhook_ack: the least a webhook edge can do per delivery.

    uv run python -m bench.webhook_ceiling      # configured like webhook-receiver (STOCKSYNC_*)

A raw ASGI app under the same uvicorn, with the same worker count and the same Kafka
producer and Redis client settings as webhook-receiver, that per delivery only reads the
body, checks the shop's HMAC, makes one Redis call (``SET NX`` of the delivery's key) and
one Kafka send with acks=all, waits for the acknowledgement and answers 200. No claim, no
rate guard, no envelope, no record, no tracing, no metrics: what is left of webhook-receiver's
CPU per delivery above this is what its guarantees cost. It publishes to a topic of its own
(``bench.webhook-ceiling``), never to StockSync's, so a shared broker stays clean.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import uvicorn
import yaml
from starlette.types import Receive, Scope, Send

from stocksync_common.kafka import env_security, make_producer
from stocksync_common.redis_client import connect_bounded

TOPIC = "bench.webhook-ceiling"
JSON = [(b"content-type", b"application/json")]


def _secrets(stores_file: str) -> dict[str, bytes]:
    doc: dict[str, Any] = yaml.safe_load(Path(stores_file).read_text())
    return {s["shop"]: str(s["webhook_secret"]).encode() for s in doc["stores"]}


class Ceiling:
    """HMAC, one Redis call, one acknowledged Kafka send, 200."""

    def __init__(self) -> None:
        self.bootstrap = os.environ["STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS"]
        self.redis_url = os.environ["STOCKSYNC_REDIS_URL"]
        self.secrets = _secrets(os.environ["STOCKSYNC_STORES_FILE"])
        self.producer: Any = None
        self.redis: Any = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.producer = make_producer(
            self.bootstrap, "bench-ceiling", linger_ms=0, security=env_security()
        )
        self.redis = connect_bounded(self.redis_url, max_connections=64, timeout_s=0.5)
        await self.producer.start()
        try:
            yield
        finally:
            await self.producer.stop()
            await self.redis.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == "/readyz":  # what the bench waits for: the producer is started
            await self._answer(send, 200, b'{"status":"ready"}')
            return
        h = dict(scope["headers"])
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        shop = h.get(b"x-shopify-shop-domain", b"").decode()
        secret = self.secrets.get(shop)
        given = h.get(b"x-shopify-hmac-sha256", b"")
        digest = base64.b64encode(hmac.new(secret or b"", body, hashlib.sha256).digest())
        if secret is None or not hmac.compare_digest(digest, given):
            await self._answer(send, 401, b'{"detail":"invalid webhook signature"}')
            return
        wid = h.get(b"x-shopify-webhook-id", b"").decode()
        key = f"{shop}/{wid}"
        if not await self.redis.set(f"webhook:seen:{{{shop}}}:{wid}", "1", nx=True, ex=600):
            await self._answer(send, 200, orjson.dumps({"status": "duplicate", "event_id": key}))
            return
        fut = await self.producer.send(TOPIC, body, key=key.encode())
        await fut
        await self._answer(send, 200, orjson.dumps({"status": "accepted", "event_id": key}))

    async def _answer(self, send: Send, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": JSON})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"  # noqa: S101 - the ASGI protocol
        async with self.running():
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})


def create_app() -> Ceiling:
    return Ceiling()


def main() -> None:
    uvicorn.run(
        "bench.webhook_ceiling:create_app",
        host="127.0.0.1",
        port=int(os.environ["STOCKSYNC_HTTP_PORT"]),
        workers=int(os.environ.get("STOCKSYNC_WORKERS", "1")),
        factory=True,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
