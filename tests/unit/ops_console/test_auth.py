"""Without a session nothing is shown and nothing is done; actions need the CSRF token."""

from __future__ import annotations

import logging

import pytest
from unit.ops_console.fakes import DLQ_TOPIC, PASSWORD, RECORD_ID, TOKEN, console, log_in

from ops_console.entrypoints.login import safe_next
from ops_console.sessions import COOKIE

PAGES = [
    "/", "/stores", "/stock?sku=SKU-1", "/mapping", "/alerts", "/reconcile", "/dlq", "/users",
    f"/dlq/records?service=inventory-adjuster&topic={RECORD_ID.rsplit(':', 2)[0]}",
    f"/dlq/record?service=inventory-adjuster&id={RECORD_ID}",
]  # fmt: skip
ACTIONS = [
    ("/dlq/replay", {"service": "inventory-adjuster", "id": RECORD_ID}),
    ("/dlq/replay-all", {"service": "inventory-adjuster", "topic": DLQ_TOPIC}),
    ("/dlq/purge", {"service": "inventory-adjuster", "topic": DLQ_TOPIC, "confirm": DLQ_TOPIC}),
    ("/reconcile", {}),
    ("/stores/connect", {}),
    ("/users/add", {"name": "eve", "role": "admin", "password": "a long password"}),
    ("/users/role", {"name": "vic", "role": "admin"}),
    ("/users/disable", {"name": "ada"}),
    ("/users/enable", {"name": "ada"}),
    ("/users/password", {"name": "ada", "password": "a long password"}),
    ("/users/token", {"name": "ada", "scopes": "read,operate,admin"}),
    ("/users/revoke", {"id": "0000000000000000"}),
    ("/logout", {}),  # last: the viewer test posts every action but this one
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


async def test_a_wrong_password_is_refused_and_gets_no_cookie(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with console() as (client, _):
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            r = await client.post("/login", data={"user": "olga", "password": "not-it"})
            assert r.status_code == 401
            assert COOKIE not in r.cookies
            assert "not-it" not in r.text and "not-it" not in caplog.text
            failed = [rec for rec in caplog.records if rec.getMessage() == "audit: login failed"]
            assert [getattr(rec, "user", None) for rec in failed] == ["olga"]
            r = await client.post("/login", data={"secret": TOKEN})  # the admin secret: no more
            assert r.status_code == 401


async def test_login_sets_a_signed_httponly_strict_cookie_without_the_password() -> None:
    async with console() as (client, _):
        form = {"user": "olga", "password": PASSWORD, "next": "/alerts"}
        r = await client.post("/login", data=form)
        assert r.status_code == 303 and r.headers["location"] == "/alerts"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert PASSWORD not in cookie and TOKEN not in cookie
        page = await client.get("/alerts")
        assert page.status_code == 200 and "olga (operator)" in page.text


async def test_a_viewer_sees_no_action_buttons_and_a_forged_action_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with console() as (client, services):
        csrf = await log_in(client, "vic")
        for path in ("/stores", "/reconcile", PAGES[-1], PAGES[-2]):
            page = (await client.get(path)).text
            assert page.count('method="post"') == 1 and 'action="/logout"' in page, path
        before = len(services.requests)
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            for path, form in ACTIONS[:-1]:
                r = await client.post(path, data={**form, "csrf": csrf})
                assert r.status_code == 403 and "viewer" in r.text, path
        assert len(services.requests) == before  # no service was asked to change anything
        assert not [rec for rec in caplog.records if rec.getMessage() != "audit: login"]
        assert (await client.post("/logout", data={"csrf": csrf})).status_code == 303


async def test_an_operator_sees_the_buttons_and_the_audit_line_names_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with console() as (client, services):
        csrf = await log_in(client, "olga")
        assert 'action="/dlq/replay"' in (await client.get(PAGES[-1])).text
        with caplog.at_level(logging.INFO, "ops_console.audit"):
            r = await client.post("/dlq/replay", data={**ACTIONS[0][1], "csrf": csrf})
            assert r.status_code == 303
        [call] = services.calls("inventory-adjuster", "POST", "/admin/dlq/replay")
        # the service is called with olga's own session token, not a shared credential
        assert call.headers["authorization"].startswith(f"Bearer {TOKEN}-olga-")
        [line] = [rec for rec in caplog.records if rec.getMessage() == "audit: dlq replay"]
        assert getattr(line, "who", "").startswith("olga/console:")


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
