"""Login (a named user's password, throttled per address and locked out per name after
repeated failures: stocksync_common.accounts.store) and logout. The cookie is signed,
HttpOnly, SameSite=Strict."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ops_console.audit import audit
from ops_console.entrypoints.deps import ContainerDep, FormDep, MaybeSessionDep, SessionActionDep
from ops_console.entrypoints.pages import render
from ops_console.sessions import COOKIE, TOKEN_LABEL, end, new_session
from stocksync_common.accounts import ROLE_SCOPES
from stocksync_common.auth import client_address

REFUSALS = {
    "wrong": ("Wrong user name or password.", 401),
    "locked": ("Too many failed logins for this user: try again later.", 429),
    "throttled": ("Too many failed logins from this address: try again later.", 429),
}

router = APIRouter(tags=["login"])


def safe_next(value: str | None) -> str:
    """Only a path on this site (no scheme, no host, no ``//``) is followed after login."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/stores"
    return value


def login_page(next_path: str, message: str | None = None, status: int = 200) -> HTMLResponse:
    return render("login_page.html", "Log in", None, status, next_path=next_path, message=message)


@router.get("/login")
async def login_form(session: MaybeSessionDep, next: str | None = None) -> Response:
    """The login form (no data on it)."""
    if session is not None:
        return RedirectResponse(safe_next(next), 303)
    return login_page(safe_next(next))


@router.post("/login")
async def login(request: Request, c: ContainerDep, form: FormDep) -> Response:
    """Check the user's password; on success start a session and set its cookie."""
    client = client_address(request)  # the peer, or behind a trusted proxy the client
    next_path = safe_next(form.get("next"))
    name = form.get("user", "")[:64]
    result = await c.users.login(name, form.get("password", ""), client)
    if result.principal is None:
        message, status = REFUSALS.get(result.outcome, REFUSALS["wrong"])
        audit(f"anonymous@{client}", "login failed", user=name, outcome=result.outcome)
        return login_page(next_path, message, status)
    user = result.principal
    # the session's own token: the services check its scopes and name the user; it ends
    # with the session however the session ends (sessions.keep)
    lasts = min(c.settings.session_idle_s, c.settings.session_ttl_s)
    _, token = await c.users.issue_token(
        user.user, TOKEN_LABEL, ROLE_SCOPES[user.role], lasts, user.generation
    )
    session = new_session(user.user, user.role, c.clock(), token, user.generation)
    await c.sessions.put(session, lasts)
    audit(session.who, "login", client=client, role=user.role)
    response = RedirectResponse(next_path, 303)
    response.set_cookie(
        COOKIE,
        c.signer.sign(session.sid),
        max_age=c.settings.session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=c.settings.secure_cookie,
        path="/",
    )
    return response


@router.post("/logout")
async def logout(c: ContainerDep, act: SessionActionDep) -> RedirectResponse:
    """End the session everywhere and clear the cookie."""
    await end(c.users, c.sessions, act.session)
    audit(act.who, "logout")
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
