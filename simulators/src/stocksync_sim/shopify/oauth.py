"""The client credentials grant: ``POST /admin/oauth/access_token`` (form or JSON body with
``grant_type=client_credentials``, ``client_id``, ``client_secret``) answers
``{"access_token", "scope", "expires_in"}``; the token is accepted by the GraphQL endpoint
until ``token_ttl_s`` (the store's, Shopify's 24 h by default) has passed on the simulator's
clock, then refused with Shopify's 401 like any wrong token. Bad credentials: 400 with
OAuth's ``{"error": "invalid_client"}`` shape (RFC 6749, 5.2). On a shared base URL the
client id picks the store; ``/shops/{shop}/admin/oauth/access_token`` names it.

Control: ``GET /_sim/stores/{shop}/tokens`` counts the issued tokens still alive;
``DELETE`` revokes them all (as rotating the client secret would): the next request with one
is answered 401."""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stocksync_sim.shopify.control_ops import store_or_404
from stocksync_sim.shopify.endpoint import SimDep
from stocksync_sim.shopify.state import StoreState
from stocksync_sim.shopify.subscriptions import scopes_of

router = APIRouter()
NO_CACHE = {"Cache-Control": "no-store"}


def _form(raw: bytes, content_type: str) -> dict[str, str]:
    if "json" in content_type:
        try:
            body = json.loads(raw)
        except ValueError:
            return {}
        return {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    return dict(parse_qsl(raw.decode("utf-8", "replace")))


def _error(code: str, description: str) -> JSONResponse:
    body = {"error": code, "error_description": description}
    return JSONResponse(body, status_code=400, headers=NO_CACHE)


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def issue(store: StoreState) -> dict[str, Any]:
    now, ttl = store.now(), store.config.token_ttl_s
    tokens = store.issued_tokens
    for old in [t for t, expires in tokens.items() if expires + ttl < now]:
        del tokens[old]  # long dead: forgotten (a recently expired one is still counted)
    token = "shpat_" + secrets.token_hex(16)
    tokens[token] = now + ttl
    store.stats.tokens_issued += 1
    scope = ",".join(scopes_of(store))
    return {"access_token": token, "scope": scope, "expires_in": int(store.config.token_ttl_s)}


async def _grant(sim: SimDep, request: Request, shop: str | None) -> JSONResponse:
    form = _form(await request.body(), request.headers.get("content-type", ""))
    if form.get("grant_type") != "client_credentials":
        return _error("unsupported_grant_type", "grant_type must be client_credentials")
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    stores = [sim.state.stores[shop]] if shop in sim.state.stores else []
    if shop is None:
        stores = list(sim.state.stores.values())
    matching = [
        s for s in stores
        if _same(s.config.client_id, client_id) and _same(s.config.client_secret, client_secret)
    ]  # fmt: skip
    if not matching:
        return _error("invalid_client", "Client authentication failed: unknown client or secret")
    if len(matching) > 1:
        return _error("invalid_request", "several shops use this client: name the shop")
    return JSONResponse(issue(matching[0]), headers=NO_CACHE)


@router.post("/admin/oauth/access_token")
async def token_by_client(request: Request, sim: SimDep) -> JSONResponse:
    return await _grant(sim, request, None)


@router.post("/shops/{shop}/admin/oauth/access_token")
async def token_by_shop(shop: str, request: Request, sim: SimDep) -> JSONResponse:
    return await _grant(sim, request, shop.lower())


@router.get("/_sim/stores/{shop}/tokens")
async def tokens(shop: str, sim: SimDep) -> dict[str, int]:
    store = store_or_404(sim, shop)
    now = store.now()
    live = sum(1 for expires in store.issued_tokens.values() if expires > now)
    return {"issued": store.stats.tokens_issued, "live": live}


@router.delete("/_sim/stores/{shop}/tokens")
async def revoke_tokens(shop: str, sim: SimDep) -> dict[str, int]:
    store = store_or_404(sim, shop)
    now = store.now()
    live = [t for t, expires in store.issued_tokens.items() if expires > now]
    for token in live:
        store.issued_tokens[token] = now
    return {"revoked": len(live)}
