"""The WMS REST API over an injected ``httpx.AsyncClient`` (``X-API-Key`` auth).

A 5xx, a 429, a timeout or a connection error is :class:`WmsUnavailable` (worth retrying;
a 429's ``Retry-After`` is kept); any other refusal is :class:`WmsRefused` (retrying the
same request cannot help).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class WmsError(Exception):
    pass


class WmsUnavailable(WmsError):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class WmsRefused(WmsError):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass
class WmsClient:
    http: httpx.AsyncClient
    base_url: str
    api_key: str
    timeout_s: float = 5.0

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.base_url.rstrip('/')}/api/v1{path}"
        try:
            resp = await self.http.request(
                method, url, json=body, headers={"X-API-Key": self.api_key}, timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            raise WmsUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise WmsUnavailable(f"{method} {path}: HTTP {resp.status_code}", _retry_after(resp))
        if resp.status_code >= 400:
            raise WmsRefused(f"{method} {path}: HTTP {resp.status_code}", resp.status_code)
        return resp.json()

    async def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create (or, for a known ``external_ref``, find) the fulfilment order."""
        answer: dict[str, Any] = await self._call("POST", "/fulfillment-orders", body)
        return answer

    async def cancel_order(self, order_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self._call("POST", f"/fulfillment-orders/{order_id}/cancel")
        return answer

    async def snapshot(self) -> dict[str, Any]:
        """The full stock snapshot: ``snapshot_id``, ``as_of`` and ``lines``."""
        answer: dict[str, Any] = await self._call("GET", "/stock-snapshot")
        return answer


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None
