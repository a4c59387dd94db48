"""``/api/users``: user management as JSON for scripts, with a bearer token that has the
``admin`` scope (a user token, or the bootstrap token): the same operations and audit lines
as the console's users page (:mod:`ops_console.user_admin`). Errors are JSON here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from ops_console.entrypoints.deps import ContainerDep
from ops_console.user_admin import UserAdmin
from stocksync_common.accounts import AccountError
from stocksync_common.accounts.store import Accounts
from stocksync_common.auth import AdminDep

router = APIRouter(prefix="/api", tags=["users"])


class NewUser(BaseModel):
    name: str
    role: str
    password: str = Field(repr=False)


class Password(BaseModel):
    password: str = Field(repr=False)


class Role(BaseModel):
    role: str


class NewToken(BaseModel):
    scopes: list[str]
    label: str = ""
    days: int | None = None


def accounts_of(c: ContainerDep) -> Accounts:
    """The accounts store (503 when the console runs on a stand-in)."""
    if not isinstance(c.users, Accounts):
        raise HTTPException(503, "user management needs the accounts store")
    return c.users


async def user_admin(
    who: AdminDep, accounts: Annotated[Accounts, Depends(accounts_of)]
) -> UserAdmin:
    """403 unless the credential has the ``admin`` scope."""
    if not who.may("admin"):
        raise HTTPException(403, "this token lacks the admin scope")
    return UserAdmin(accounts, who.who, who.who, caller=who.caller)


UserAdminDep = Annotated[UserAdmin, Depends(user_admin)]


async def _done(call: Any) -> None:
    try:
        await call
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/users")
async def list_users(ua: UserAdminDep) -> dict[str, Any]:
    """Every user: role, disabled, locked out, and their tokens (never a secret)."""
    return {"users": await ua.overview()}


@router.post("/users", status_code=201)
async def add_user(ua: UserAdminDep, body: NewUser) -> dict[str, str]:
    """A new user with a role and a password."""
    await _done(ua.add(body.name, body.role, body.password))
    return {"name": body.name, "role": body.role}


@router.post("/users/{name}/role")
async def set_role(ua: UserAdminDep, name: str, body: Role) -> dict[str, str]:
    """Change a user's role (their tokens' scopes are cut to it at once)."""
    await _done(ua.set_role(name, body.role))
    return {"name": name, "role": body.role}


@router.post("/users/{name}/disable")
async def disable(ua: UserAdminDep, name: str) -> dict[str, Any]:
    """Disable a user: their sessions and tokens stop at once."""
    await _done(ua.set_disabled(name, True))
    return {"name": name, "disabled": True}


@router.post("/users/{name}/enable")
async def enable(ua: UserAdminDep, name: str) -> dict[str, Any]:
    """Enable a user again."""
    await _done(ua.set_disabled(name, False))
    return {"name": name, "disabled": False}


@router.post("/users/{name}/password")
async def reset_password(ua: UserAdminDep, name: str, body: Password) -> dict[str, str]:
    """Set a user's password (and lift a lock-out)."""
    await _done(ua.reset_password(name, body.password))
    return {"name": name}


@router.post("/users/{name}/tokens", status_code=201)
async def issue_token(ua: UserAdminDep, name: str, body: NewToken) -> dict[str, str]:
    """A new API token for a user, in the answer once and never again."""
    try:
        token_id, token = await ua.issue_token(name, ",".join(body.scopes), body.label, body.days)
    except AccountError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"id": token_id, "token": token}


@router.delete("/tokens/{token_id}")
async def revoke_token(ua: UserAdminDep, token_id: str) -> dict[str, str]:
    """Revoke a token by its id: refused from the next request on."""
    await _done(ua.revoke_token(token_id))
    return {"revoked": token_id}
