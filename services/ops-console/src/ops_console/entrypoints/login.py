"""Login (the admin secret) and logout. The cookie is signed, HttpOnly, SameSite=Strict."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ops_console import html
from ops_console.audit import audit
from ops_console.entrypoints.deps import ActionDep, ContainerDep, FormDep, MaybeSessionDep
from ops_console.sessions import COOKIE, new_session, secret_matches

router = APIRouter(tags=["login"])


def safe_next(value: str | None) -> str:
    """Only a path on this site (no scheme, no host, no ``//``) is followed after login."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/stores"
    return value


def login_page(next_path: str, message: str | None = None, status: int = 200) -> HTMLResponse:
    body = html.Safe(
        (html.error_box(message) if message else "")
        + '<form method="post" action="/login" class="login">'
        + html.hidden("next", next_path)
        + '<label>Admin secret <input type="password" name="secret" autocomplete="current-password"'
        ' autofocus required></label><button type="submit">Log in</button></form>'
    )
    return HTMLResponse(html.page("Log in", body, None), status)


@router.get("/login")
async def login_form(session: MaybeSessionDep, next: str | None = None) -> Response:
    """The login form (no data on it)."""
    if session is not None:
        return RedirectResponse(safe_next(next), 303)
    return login_page(safe_next(next))


@router.post("/login")
async def login(request: Request, c: ContainerDep, form: FormDep) -> Response:
    """Check the secret in constant time; on success start a session and set its cookie."""
    client = request.client.host if request.client else "unknown"
    next_path = safe_next(form.get("next"))
    if not secret_matches(form.get("secret", ""), c.settings.admin_token.get_secret_value()):
        audit(f"anonymous@{client}", "login failed")
        return login_page(next_path, "Wrong secret.", 401)
    session = new_session()
    await c.sessions.put(session, c.settings.session_ttl_s)
    audit(session.who, "login", client=client)
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
async def logout(c: ContainerDep, act: ActionDep) -> RedirectResponse:
    """End the session everywhere and clear the cookie."""
    await c.sessions.delete(act.session.sid)
    audit(act.who, "logout")
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
