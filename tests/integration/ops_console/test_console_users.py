"""User management on the real Redis: the console's users page (admins only, CSRF-protected
forms, a token shown once) and its JSON API (a token with the admin scope), each change
with an audit line naming the acting admin and the target."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from integration.ops_console.harness import Clock, console
from redis.asyncio import Redis
from unit.ops_console.fakes import TOKEN

from stocksync_common.accounts.store import Accounts
from support.accounts import scratch_accounts

pytestmark = pytest.mark.integration
PASSWORD = "users page test password"  # noqa: S105 - a test secret
NEW_PASSWORD = "a brand new password"  # noqa: S105 - a test secret


@pytest.fixture
async def accounts(redis: Redis) -> AsyncIterator[Accounts]:
    async with scratch_accounts(redis) as store:
        for name, role in (("ada", "admin"), ("olga", "operator"), ("vic", "viewer")):
            await store.add_user(name, role, PASSWORD)
        yield store


async def _log_in(client: httpx.AsyncClient, user: str, password: str = PASSWORD) -> str:
    """Log in; the session's CSRF token (from the logout form)."""
    form = {"user": user, "password": password, "next": "/stores"}
    assert (await client.post("/login", data=form)).status_code == 303
    page = (await client.get("/stores")).text
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def _audit(caplog: pytest.LogCaptureFixture, action: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == f"audit: {action}"]


@pytest.mark.parametrize("user", ["vic", "olga"])
async def test_a_viewer_or_operator_gets_403_and_sees_no_link(
    redis_url: str, accounts: Accounts, user: str
) -> None:
    async with console(redis_url, accounts, Clock()) as client:
        csrf = await _log_in(client, user)
        assert 'href="/users"' not in (await client.get("/stores")).text
        assert (await client.get("/users")).status_code == 403
        form = {"csrf": csrf, "name": "mallory", "role": "admin", "password": NEW_PASSWORD}
        assert (await client.post("/users/add", data=form)).status_code == 403
        assert (
            await client.post("/users/disable", data={"csrf": csrf, "name": "ada"})
        ).status_code == 403
        assert await accounts.user("mallory") is None
        assert (await accounts.active("ada")) is not None


async def test_an_admin_manages_users_on_the_page_and_the_audit_names_both(
    redis_url: str, accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    async with console(redis_url, accounts, Clock()) as client:
        caplog.set_level(logging.INFO, "ops_console.audit")
        csrf = await _log_in(client, "ada")
        page = (await client.get("/users")).text
        assert 'href="/users"' in page and "olga" in page and "vic" in page
        add = {"name": "nina", "role": "operator", "password": NEW_PASSWORD}
        assert (await client.post("/users/add", data=add)).status_code == 403  # no CSRF token
        assert await accounts.user("nina") is None
        done = await client.post("/users/add", data={**add, "csrf": csrf})
        assert done.status_code == 303 and (await accounts.active("nina")) is not None
        short = await client.post(
            "/users/add", data={**add, "name": "nan", "password": "short", "csrf": csrf}
        )
        assert short.status_code == 400 and "at least 12 characters" in short.text

        await client.post("/users/disable", data={"csrf": csrf, "name": "nina"})
        assert await accounts.active("nina") is None
        await client.post("/users/enable", data={"csrf": csrf, "name": "nina"})
        assert await accounts.active("nina") is not None
        await client.post("/users/role", data={"csrf": csrf, "name": "nina", "role": "viewer"})
        assert (await accounts.active("nina")).role == "viewer"  # type: ignore[union-attr]
        reset = {"csrf": csrf, "name": "nina", "password": NEW_PASSWORD + "!"}
        assert (await client.post("/users/password", data=reset)).status_code == 303
        assert (await accounts.login("nina", NEW_PASSWORD + "!", "127.0.0.9")).outcome == "ok"

        issued = await client.post(
            "/users/token", data={"csrf": csrf, "name": "nina", "scopes": "read", "label": "ci"}
        )
        [token] = re.findall(r"sst_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", issued.text)
        assert (await accounts.authenticate(token)) is not None
        assert token not in (await client.get("/users")).text  # shown once
        too_wide = {"csrf": csrf, "name": "nina", "scopes": "read,operate"}
        assert (await client.post("/users/token", data=too_wide)).status_code == 400
        token_id = token.split("_")[1]
        await client.post("/users/revoke", data={"csrf": csrf, "id": token_id})
        assert await accounts.authenticate(token) is None
        own = await client.post("/users/disable", data={"csrf": csrf, "name": "ada"})
        assert own.status_code == 400 and (await accounts.active("ada")) is not None

        for action in ("user add", "user disable", "user enable", "user role",
                       "user password reset", "token issue", "token revoke"):  # fmt: skip
            [line] = _audit(caplog, action)
            assert line.who.startswith("ada/console:") and line.target == "nina", action  # type: ignore[attr-defined]
        assert NEW_PASSWORD not in caplog.text and token not in caplog.text


async def test_the_json_api_needs_the_admin_scope(
    redis_url: str, accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    _, admin = await accounts.issue_token("ada", "ops", frozenset({"read", "operate", "admin"}))
    _, reader = await accounts.issue_token("ada", "ro", frozenset({"read"}))
    _, operator = await accounts.issue_token("olga", "ops", frozenset({"read", "operate"}))
    async with console(redis_url, accounts, Clock()) as client:
        caplog.set_level(logging.INFO, "ops_console.audit")

        def auth(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

        assert (await client.get("/api/users")).status_code == 401
        for token in (reader, operator):  # an admin's read-only token, an operator's
            r = await client.get("/api/users", headers=auth(token))
            assert r.status_code == 403 and r.json() == {
                "detail": "this token lacks the admin scope"
            }
        new = {"name": "sam", "role": "viewer", "password": NEW_PASSWORD}
        assert (
            await client.post("/api/users", json=new, headers=auth(operator))
        ).status_code == 403
        assert await accounts.user("sam") is None

        assert (await client.post("/api/users", json=new, headers=auth(admin))).status_code == 201
        issued = await client.post(
            "/api/users/sam/tokens", json={"scopes": ["read"], "days": 7}, headers=auth(admin)
        )
        assert issued.status_code == 201
        sam = issued.json()["token"]
        assert (await accounts.authenticate(sam)) is not None
        listed = (await client.get("/api/users", headers=auth(TOKEN))).json()["users"]  # bootstrap
        [row] = [u for u in listed if u["name"] == "sam"]
        assert [t["id"] for t in row["tokens"]] == [issued.json()["id"]] and sam not in str(listed)
        assert (await client.post("/api/users/sam/disable", headers=auth(admin))).status_code == 200
        assert await accounts.authenticate(sam) is None
        assert (await client.post("/api/users/sam/enable", headers=auth(admin))).status_code == 200
        reset = await client.post(
            "/api/users/sam/password", json={"password": "short"}, headers=auth(admin)
        )
        assert reset.status_code == 400 and "12 characters" in reset.json()["detail"]
        gone = await client.delete(f"/api/tokens/{issued.json()['id']}", headers=auth(admin))
        assert gone.status_code == 200 and await accounts.authenticate(sam) is None
        assert (
            await client.delete("/api/tokens/0000000000000000", headers=auth(admin))
        ).status_code == 400

        lines = _audit(caplog, "user add") + _audit(caplog, "token revoke")
        assert [(r.who, r.target) for r in lines] == [("ada", "sam")] * 2  # type: ignore[attr-defined]
        assert all(r.caller.startswith("ada/token:") for r in lines)  # type: ignore[attr-defined]


async def test_an_admin_resetting_their_own_password_keeps_this_session_only(
    redis_url: str, accounts: Accounts
) -> None:
    async with (
        console(redis_url, accounts, Clock()) as here,
        console(redis_url, accounts, Clock()) as elsewhere,
    ):
        csrf = await _log_in(here, "ada")
        await _log_in(elsewhere, "ada")
        form = {"csrf": csrf, "name": "ada", "password": NEW_PASSWORD}
        assert (await here.post("/users/password", data=form)).status_code == 303
        assert (await here.get("/users")).status_code == 200  # the session it was done from
        assert (await elsewhere.get("/stores")).status_code == 303  # to the login page
        # the old session token revoked, its successor of the new generation in its place
        [token] = await accounts.tokens("ada")
        ada = await accounts.active("ada")
        assert ada is not None and token.generation == ada.generation
