"""Without a session nothing is shown and nothing is done; actions need the CSRF token."""

from __future__ import annotations

import logging

import pytest
from unit.ops_console.fakes import RECORD_ID, TOKEN, console, log_in

from ops_console.entrypoints.login import safe_next
from ops_console.sessions import COOKIE

PAGES = [
    "/", "/stores", "/stock?sku=SKU-1", "/mapping", "/alerts", "/reconcile", "/dlq",
    f"/dlq/records?service=inventory-adjuster&topic={RECORD_ID.rsplit(':', 2)[0]}",
    f"/dlq/record?service=inventory-adjuster&id={RECORD_ID}",
]  # fmt: skip
ACTIONS = [
    ("/dlq/replay", {"service": "inventory-adjuster", "id": RECORD_ID}),
    ("/reconcile", {}),
    ("/stores/connect", {}),
    ("/logout", {}),
]


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_without_a_session_redirects_to_login_and_calls_no_service(
    path: str,
) -> None:
    async with console() as (client, services):
        r = await client.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")
        assert services.requests == []


@pytest.mark.parametrize(("path", "form"), ACTIONS)
async def test_every_action_without_a_session_is_401(path: str, form: dict[str, str]) -> None:
    async with console() as (client, services):
        r = await client.post(path, data={**form, "csrf": "guess"})
        assert r.status_code == 401
        assert services.requests == []


@pytest.mark.parametrize(("path", "form"), ACTIONS)
async def test_every_action_without_the_csrf_token_is_403(path: str, form: dict[str, str]) -> None:
    async with console() as (client, services):
        await log_in(client)
        before = len(services.requests)
        assert (await client.post(path, data=form)).status_code == 403
        assert (await client.post(path, data={**form, "csrf": "wrong"})).status_code == 403
        assert len(services.requests) == before


async def test_a_forged_cookie_sees_nothing() -> None:
    async with console() as (client, services):
        client.cookies.set(COOKIE, "made-up-session.0000")
        assert (await client.get("/stores")).status_code == 303
        assert services.requests == []


async def test_a_wrong_secret_is_refused_and_gets_no_cookie(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with console() as (client, _):
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            r = await client.post("/login", data={"secret": "not-it"})
            assert r.status_code == 401
            assert COOKIE not in r.cookies
            assert "not-it" not in r.text
            assert any(rec.getMessage() == "audit: login failed" for rec in caplog.records)


async def test_login_sets_a_signed_httponly_strict_cookie_without_the_secret() -> None:
    async with console() as (client, _):
        r = await client.post("/login", data={"secret": TOKEN, "next": "/alerts"})
        assert r.status_code == 303 and r.headers["location"] == "/alerts"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert TOKEN not in cookie
        assert (await client.get("/alerts")).status_code == 200


async def test_logout_ends_the_session_even_for_a_copied_cookie() -> None:
    async with console() as (client, _):
        csrf = await log_in(client)
        copied = client.cookies.get(COOKIE)
        assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303
        client.cookies.set(COOKIE, copied or "")
        assert (await client.get("/stores")).status_code == 303


@pytest.mark.parametrize(
    ("given", "expected"),
    [("/dlq", "/dlq"), ("//evil.example", "/stores"), ("https://evil.example", "/stores"),
     ("/\\evil", "/stores"), (None, "/stores")],
)  # fmt: skip
def test_login_only_redirects_within_the_console(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected
