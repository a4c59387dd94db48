"""Who may call the admin APIs: the bootstrap admin token (``STOCKSYNC_ADMIN_TOKEN``) or a
named user's API token whose scopes cover the request (:func:`principal`); the dependency
the services' admin routes share, and the caller named in audit lines."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from pydantic import SecretStr

from stocksync_common.accounts import BOOTSTRAP, ROLE_SCOPES, TOKEN_PREFIX, Principal, scope_for
from stocksync_common.accounts.store import Accounts


def check_admin(authorization: str | None, token: str) -> str:
    """Who is acting, if ``authorization`` is ``Bearer <token>``; 401 otherwise.

    Compared in constant time; neither value ever appears in the error."""
    expected = f"Bearer {token}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise HTTPException(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})
    return "admin"


async def principal(request: Request, authorization: str | None, token: str) -> Principal:
    """Who is calling: the bootstrap admin ``token`` (every scope), or a user's API token
    (``Bearer sst_...``, checked in the accounts store on ``app.state.accounts``) whose
    scopes cover the request: ``read`` for GET and HEAD, ``operate`` for the rest. 401 for
    no or a wrong, revoked or expired credential, 403 for one without the scope."""
    bearer = (authorization or "").removeprefix("Bearer ")
    accounts: Accounts | None = getattr(request.app.state, "accounts", None)
    found = None
    if bearer.startswith(TOKEN_PREFIX) and accounts is not None:
        found = await accounts.authenticate(bearer)
    if found is not None:
        need = scope_for(request.method)
        if not found.may(need):
            raise HTTPException(403, f"this token lacks the {need} scope")
        return found
    check_admin(authorization, token)
    fingerprint = hashlib.sha256((authorization or "").encode()).hexdigest()[:8]
    return Principal(BOOTSTRAP, "admin", ROLE_SCOPES["admin"], f"admin-token:{fingerprint}")


async def caller(request: Request, authorization: str | None, token: str) -> str:
    """:func:`principal`, naming the caller for the audit log by user, credential (a token
    id or a fingerprint of the bootstrap token, never a secret) and address."""
    found = await principal(request, authorization, token)
    return found.caller(request.client.host if request.client else "unknown")


def _token(request: Request) -> str:
    """The admin token of the service the app runs (its container's settings)."""
    token: SecretStr = request.app.state.container.settings.admin_token
    return token.get_secret_value()


async def require_admin(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The admin routes' dependency (:func:`principal`): the user acting."""
    return (await principal(request, authorization, _token(request))).user


async def require_admin_caller(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> str:
    """:func:`require_admin`, naming the caller by user, credential and address."""
    return await caller(request, authorization, _token(request))


AdminDep = Annotated[str, Depends(require_admin)]
AdminCallerDep = Annotated[str, Depends(require_admin_caller)]
