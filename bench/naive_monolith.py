"""The naive baseline: one monolithic webhook handler doing the whole sync in the request.

What the seeds call "monolithic sync": verify the webhook, then for each line read the
shared stock from Redis, compute, write it back (a plain GET and SET: no script, no
WATCH), and push the new count to every store with a synchronous Admin API call, all before
answering. No Kafka, no Lua, no pacing, no compare-and-set. Stock lives at
``naive:stock:<sku>``; the SKU -> inventory item map per store comes from ``--mapping``.

    uv run python -m bench.naive_monolith --port 8080 --redis-url redis://127.0.0.1:6379/7 \
        --stores-file stores.yaml --mapping mapping.json
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from redis.asyncio import Redis

from stocksync_common.stores import Store, load_stores

SET_QUANTITIES = """
mutation SetInventoryQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    userErrors { code field message }
  }
}
"""


def stock_key(sku: str) -> str:
    return f"naive:stock:{sku}"


def signed_by(store: Store, body: bytes, signature: str) -> bool:
    digest = hmac.new(store.webhook_secret.get_secret_value().encode(), body, hashlib.sha256)
    return hmac.compare_digest(base64.b64encode(digest.digest()).decode(), signature)


def create_app(redis_url: str, stores: list[Store], mapping: dict[str, dict[str, str]]) -> FastAPI:
    by_shop = {s.shop: s for s in stores}
    clients: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        clients["redis"] = Redis.from_url(redis_url)
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            clients["http"] = http
            yield
        await clients["redis"].aclose()

    async def push(store: Store, sku: str, quantity: int) -> None:
        item = mapping[store.shop].get(sku)
        if item is None:
            return
        url = f"{store.admin_base_url}/admin/api/{store.api_version}/graphql.json"
        variables = {
            "input": {
                "name": "available",
                "reason": "correction",
                "quantities": [
                    {
                        "inventoryItemId": item,
                        "locationId": next(iter(store.locations.values())),
                        "quantity": max(0, quantity),
                        "changeFromQuantity": None,
                    }
                ],
            },
            "idempotencyKey": str(uuid.uuid4()),
        }
        if store.access_token is None:
            raise SystemExit(f"{store.shop}: the naive monolith takes fixed access tokens only")
        headers = {"X-Shopify-Access-Token": store.access_token.get_secret_value()}
        r = await clients["http"].post(
            url, json={"query": SET_QUANTITIES, "variables": variables}, headers=headers
        )
        r.raise_for_status()

    app = FastAPI(lifespan=lifespan)

    @app.post("/webhooks/shopify")
    async def webhook(request: Request) -> Response:
        """Verify, read-modify-write the stock, push to every store, then answer."""
        body = await request.body()
        store = by_shop.get(request.headers.get("x-shopify-shop-domain", ""))
        if store is None or not signed_by(
            store, body, request.headers.get("x-shopify-hmac-sha256", "")
        ):
            return Response(status_code=401)
        redis: Redis = clients["redis"]
        for line in json.loads(body).get("line_items", []):
            sku, qty = line.get("sku"), int(line.get("quantity", 0))
            if not sku:
                continue
            current = int(await redis.get(stock_key(sku)) or 0)
            new = current - qty
            await redis.set(stock_key(sku), new)
            for target in stores:
                await push(target, sku, new)
        return Response(status_code=200)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="naive_monolith", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--stores-file", type=Path, required=True)
    parser.add_argument("--mapping", type=Path, required=True, help="shop -> SKU -> item gid")
    args = parser.parse_args()
    stores = load_stores(args.stores_file).stores
    mapping = json.loads(args.mapping.read_text())
    app = create_app(args.redis_url, stores, mapping)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
