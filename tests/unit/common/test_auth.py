"""The one admin dependency: 401 without the service's token (missing or wrong alike, in
constant time), the caller named by address and token fingerprint for the audit line, and
every admin route of every service (the DLQ API included) guarded by it and no other."""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from stocksync_common.auth import AdminDep, require_admin
from stocksync_common.settings import CommonSettings
from stocksync_common.topics import GROUPS_ENTRY_POINT, registered_services

TOKEN = "a-test-admin-token"


def app_with_admin_route() -> FastAPI:
    app = FastAPI()
    app.state.settings = CommonSettings(admin_token=TOKEN)

    @app.post("/act")
    async def act(who: AdminDep) -> dict[str, str]:
        who.audit("act", thing="x")
        return {"who": who.who, "caller": who.caller}

    return app


async def test_missing_or_wrong_token_is_401_and_the_caller_is_fingerprinted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = httpx.ASGITransport(app=app_with_admin_route(), client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        missing = await http.post("/act")
        wrong = await http.post("/act", headers={"Authorization": f"Bearer {TOKEN}x"})
        with caplog.at_level(logging.INFO, "stocksync.audit"):
            ok = await http.post("/act", headers={"Authorization": f"Bearer {TOKEN}"})
    assert [missing.status_code, wrong.status_code] == [401, 401]
    assert missing.json() == wrong.json() == {"detail": "admin bearer token required"}
    assert missing.headers["www-authenticate"] == "Bearer"
    fingerprint = hashlib.sha256(f"Bearer {TOKEN}".encode()).hexdigest()[:8]
    # the bootstrap token is named as such: "admin" may be a user's name
    assert ok.json() == {"who": "admin-token", "caller": f"admin-token:{fingerprint}@10.1.2.3"}
    [line] = [r for r in caplog.records if r.getMessage() == "audit: act"]
    assert (line.who, line.caller, line.action, line.thing) == (  # type: ignore[attr-defined]
        "admin-token",
        f"admin-token:{fingerprint}@10.1.2.3",
        "act",
        "x",
    )
    assert TOKEN not in caplog.text


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every API route, also inside included routers (FastAPI keeps them wrapped)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)


def _consuming_services() -> list[str]:
    """The module of every service that registers groups (each mounts the DLQ API; the ops
    console registers its Redis keys only)."""
    found = registered_services()
    return sorted(
        p.value.split(".")[0]
        for p in entry_points(group=GROUPS_ENTRY_POINT)
        if found[p.name].consumers or found[p.name].producers
    )


@pytest.mark.parametrize("module", _consuming_services())
def test_every_admin_route_of_a_service_uses_the_one_dependency(module: str) -> None:
    settings_type = importlib.import_module(f"{module}.settings").Settings
    app = importlib.import_module(f"{module}.entrypoints.app").create_app(settings_type())
    guarded = []
    for route in _routes(app.routes):
        checks = [c for c in _calls(route.dependant) if "admin" in c.__name__]
        assert all(c is require_admin for c in checks), (route.path, checks)
        if checks:
            guarded.append(route.path)
        elif route.path.startswith("/admin"):
            pytest.fail(f"{module}: {route.path} has no admin check")
    assert "/admin/dlq/replay" in guarded
