"""Admin API access tokens per store (docs/shopify-app.md, ADR 0025).

A store's token is either fixed (``access_token`` in the stores file) or expiring: the
store gives its app's ``client_id`` and ``client_secret``, and the token comes from the
client credentials grant (``POST {admin_base_url}/admin/oauth/access_token``, answered with
``access_token``, ``scope`` and ``expires_in`` seconds; Shopify's last 24 hours). An
expiring token is asked for again before it runs out (:func:`refresh_at`: a fifth of its
life before, at most five minutes) and at once when Shopify refuses it (401): the caller
drops it with :meth:`TokenProvider.refused` and sends its request again. A 401 means the
request was not run, so sending it again neither loses nor doubles a write (and every write
is a compare-and-set with an idempotency key besides). Concurrent callers of one store share
one grant request. Tokens live in memory only; secrets never reach a log line or an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from shopify_sync.adapters import metrics
from stocksync_common.stores import Store

log = logging.getLogger(__name__)
MAX_EARLY_S = 300.0  # refresh at most this long before expiry


class TokenError(Exception):
    """No access token for a store now: the grant was refused or could not be asked."""


@dataclass(frozen=True)
class Token:
    value: str
    refresh_at: float  # monotonic seconds; inf for a fixed token


def refresh_at(now: float, expires_in: float) -> float:
    """When to ask for a new token: a fifth of its life before it expires, 5 min at most."""
    return now + expires_in - min(MAX_EARLY_S, expires_in / 5)


@dataclass
class TokenProvider:
    http: httpx.AsyncClient
    clock: Callable[[], float] = time.monotonic
    tokens: dict[str, Token] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def token(self, store: Store) -> str:
        """The token to send to ``store`` now (a fixed one as it is)."""
        if store.access_token is not None:
            return store.access_token.get_secret_value()
        held = self.tokens.get(store.shop)
        if held is not None and self.clock() < held.refresh_at:
            return held.value
        async with self.locks.setdefault(store.shop, asyncio.Lock()):
            held = self.tokens.get(store.shop)  # another caller may have got one meanwhile
            if held is None or self.clock() >= held.refresh_at:
                held = await self._grant(store)
                self.tokens[store.shop] = held
            return held.value

    def refused(self, store: Store, token: str) -> None:
        """Shopify answered 401 to ``token``: the next :meth:`token` asks for a new one
        (unless another caller already replaced it)."""
        held = self.tokens.get(store.shop)
        if held is not None and held.value == token:
            del self.tokens[store.shop]

    async def _grant(self, store: Store) -> Token:
        assert store.client_id is not None and store.client_secret is not None  # noqa: S101
        form = {
            "grant_type": "client_credentials",
            "client_id": store.client_id.get_secret_value(),
            "client_secret": store.client_secret.get_secret_value(),
        }
        asked = self.clock()
        try:
            resp = await self.http.post(store.token_url, data=form)
        except httpx.HTTPError as exc:
            metrics.TOKENS.labels(store.shop, "unreachable").inc()
            problem = f"{store.shop}: token endpoint unreachable ({type(exc).__name__})"
            raise TokenError(problem) from exc
        body = _json(resp)
        value, expires_in = body.get("access_token"), body.get("expires_in")
        if resp.status_code != 200 or not isinstance(value, str) or not value:
            metrics.TOKENS.labels(store.shop, "refused").inc()
            reason = str(body.get("error") or f"HTTP {resp.status_code}")[:200]
            log.error("access token refused", extra={"shop": store.shop, "reason": reason})
            raise TokenError(f"{store.shop}: the client credentials grant was refused ({reason})")
        metrics.TOKENS.labels(store.shop, "issued").inc()
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
            return Token(value, float("inf"))  # no lifetime given: kept until refused
        log.info("access token issued", extra={"shop": store.shop, "expires_in": expires_in})
        return Token(value, refresh_at(asked, float(expires_in)))


def _json(resp: httpx.Response) -> dict[str, object]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
