"""The users page, for admins only (a viewer or operator gets 403 and no link to it): every
user with their role, state and tokens; forms that add a user, change a role, disable or
enable, reset a password, issue a token (shown once on the answer) and revoke one. Each form
carries the session's CSRF token as every console action does; the operations and their
audit lines are :mod:`ops_console.user_admin`'s."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ops_console.entrypoints.deps import Action, ContainerDep, PageSessionDep, SessionActionDep
from ops_console.entrypoints.pages import render
from ops_console.entrypoints.users_api import accounts_of
from ops_console.formatting import when
from ops_console.sessions import Session, renew, time_left
from ops_console.user_admin import UserAdmin
from stocksync_common.accounts import MIN_PASSWORD_CHARS, ROLES, AccountError
from stocksync_common.accounts.store import Accounts

router = APIRouter(prefix="/users", tags=["users"])
AccountsDep = Annotated[Accounts, Depends(accounts_of)]


def admin_only(session: Session) -> Session:
    if not session.may("admin"):
        raise HTTPException(403, f"a {session.role} may not manage users")
    return session


async def admin_page(session: PageSessionDep) -> Session:
    """A page's session, of an admin (403 for any other role)."""
    return admin_only(session)


async def admin_action(act: SessionActionDep) -> Action:
    """An action (session and CSRF token checked) by an admin: 403 for any other role."""
    admin_only(act.session)
    return act


AdminPageDep = Annotated[Session, Depends(admin_page)]
AdminActionDep = Annotated[Action, Depends(admin_action)]


@dataclass(frozen=True)
class Managing:
    """An admin's action on the users page: the form and the operations acting as them."""

    session: Session
    form: dict[str, str]
    ops: UserAdmin

    def field(self, name: str) -> str:
        return self.form.get(name, "").strip()


async def managing(act: AdminActionDep, accounts: AccountsDep) -> Managing:
    """An admin's action, and the operations acting as them (the role is checked before
    the accounts store is asked for)."""
    session = act.session
    return Managing(session, act.form, UserAdmin(accounts, session.who, session.user))


ManagingDep = Annotated[Managing, Depends(managing)]


async def users_page(
    session: Session,
    accounts: Accounts,
    *,
    done: str = "",
    error: object = None,
    issued: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    rows = await UserAdmin(accounts, session.who, session.user).overview()
    for row in rows:
        for t in row["tokens"]:
            t["expires"] = when(t["expires_at"])
    return render(
        "users_page.html", "Users", session, status, users=rows, roles=ROLES, csrf=session.csrf,
        issued=issued, done=done, error=error, min_password=MIN_PASSWORD_CHARS,
    )  # fmt: skip


@router.get("")
async def users(session: AdminPageDep, accounts: AccountsDep, done: str = "") -> HTMLResponse:
    """Every user, their tokens, and the forms that manage them (admins only)."""
    return await users_page(session, accounts, done=done)


async def _apply(m: Managing, call: Awaitable[object], done: str) -> Response:
    """Run one operation: back to the page with what was done, or the refusal in words."""
    try:
        await call
    except AccountError as exc:
        return await users_page(m.session, m.ops.accounts, error=exc, status=400)
    return RedirectResponse("/users?" + urlencode({"done": done}), 303)


@router.post("/add")
async def add(m: ManagingDep) -> Response:
    """Add a user with a role and a password."""
    name = m.field("name")
    call = m.ops.add(name, m.field("role"), m.form.get("password", ""))
    return await _apply(m, call, f"User {name} added.")


@router.post("/role")
async def role(m: ManagingDep) -> Response:
    """Change a user's role."""
    name, new = m.field("name"), m.field("role")
    return await _apply(m, m.ops.set_role(name, new), f"{name} is {new} now.")


@router.post("/disable")
async def disable(m: ManagingDep) -> Response:
    """Disable a user: their sessions and tokens stop at once."""
    name = m.field("name")
    return await _apply(m, m.ops.set_disabled(name, True), f"{name} disabled.")


@router.post("/enable")
async def enable(m: ManagingDep) -> Response:
    """Enable a user again."""
    name = m.field("name")
    return await _apply(m, m.ops.set_disabled(name, False), f"{name} enabled.")


@router.post("/password")
async def password(m: ManagingDep, c: ContainerDep) -> Response:
    """Set a user's password (and lift a lock-out): their other sessions end."""
    name = m.field("name")

    async def reset() -> None:
        generation = await m.ops.reset_password(name, m.form.get("password", ""))
        if name == m.session.user:  # the admin's own: this session goes on, the others end
            s = c.settings
            left = time_left(m.session, c.clock(), s.session_idle_s, s.session_ttl_s)
            await renew(c.users, c.sessions, m.session, generation, max(1, int(left)))

    return await _apply(m, reset(), f"Password of {name} reset.")


@router.post("/token")
async def issue_token(m: ManagingDep) -> Response:
    """Issue a token: the answer shows it this once."""
    name, days = m.field("name"), m.field("days")
    try:
        if days and not days.isdigit():
            raise AccountError("days must be a whole number")
        token_id, token = await m.ops.issue_token(
            name, m.field("scopes"), m.field("label"), int(days) if days else None
        )
    except AccountError as exc:
        return await users_page(m.session, m.ops.accounts, error=exc, status=400)
    issued = {"id": token_id, "user": name, "token": token}
    return await users_page(m.session, m.ops.accounts, issued=issued)


@router.post("/revoke")
async def revoke(m: ManagingDep) -> Response:
    """Revoke a token by its id."""
    token_id = m.field("id")
    return await _apply(m, m.ops.revoke_token(token_id), f"Token {token_id} revoked.")
