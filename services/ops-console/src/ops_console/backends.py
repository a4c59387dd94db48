"""The services' admin and read APIs, called with the API token of the logged-in user's
session (:data:`CREDENTIAL`, set for each request by the session dependency), so each
service checks the user's scopes itself and its audit lines name the user.

A service that is down or answers an error turns into a ``BackendError`` the page shows;
its message never carries the token or the request headers."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import httpx

# The bearer token of the request being served: its session's (set in entrypoints/deps.py).
CREDENTIAL: ContextVar[str | None] = ContextVar("console_credential", default=None)


class BackendError(Exception):
    def __init__(self, service: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.status = status


class Backends:
    def __init__(
        self, http: httpx.AsyncClient, urls: dict[str, str], token: str | None = None
    ) -> None:
        """``token``: the credential when the request has none of its own (tests only)."""
        self.http = http
        self.urls = urls
        self._token = token

    @property
    def services(self) -> list[str]:
        return list(self.urls)

    async def get(self, service: str, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self._call(service, "GET", path, params=params)

    async def post(self, service: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self._call(service, "POST", path, json=body)

    async def _call(self, service: str, method: str, path: str, **kw: Any) -> Any:
        base = self.urls.get(service)
        if base is None:
            raise BackendError(service, "unknown service")
        token = CREDENTIAL.get() or self._token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            r = await self.http.request(method, base.rstrip("/") + path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            raise BackendError(service, f"unreachable ({type(exc).__name__})") from exc
        if r.status_code >= 400:
            raise BackendError(service, f"HTTP {r.status_code}: {_detail(r)}", r.status_code)
        try:
            return r.json()
        except ValueError as exc:
            raise BackendError(service, "answer is not JSON", r.status_code) from exc


def _detail(r: httpx.Response) -> str:
    try:
        detail = r.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = ""
    return str(detail)[:200]
