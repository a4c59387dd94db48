"""The admin bearer token every admin API requires (``STOCKSYNC_ADMIN_TOKEN``): the check,
the dependency the services' admin routes share, and the caller named in audit lines."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from pydantic import SecretStr


def check_admin(authorization: str | None, token: str) -> str:
    """Who is acting, if ``authorization`` is ``Bearer <token>``; 401 otherwise.

    Compared in constant time; neither value ever appears in the error."""
    expected = f"Bearer {token}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise HTTPException(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})
    return "admin"


def caller(request: Request, authorization: str | None, token: str) -> str:
    """:func:`check_admin`, naming the caller for the audit log by its address and a
    fingerprint of the token (never the token)."""
    check_admin(authorization, token)
    fingerprint = hashlib.sha256((authorization or "").encode()).hexdigest()[:8]
    client = request.client.host if request.client else "unknown"
    return f"admin-token:{fingerprint}@{client}"


def _token(request: Request) -> str:
    """The admin token of the service the app runs (its container's settings)."""
    token: SecretStr = request.app.state.container.settings.admin_token
    return token.get_secret_value()


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The admin routes' dependency: the service's admin token is required."""
    return check_admin(authorization, _token(request))


def require_admin_caller(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> str:
    """:func:`require_admin`, naming the caller by address and token fingerprint."""
    return caller(request, authorization, _token(request))


AdminDep = Annotated[str, Depends(require_admin)]
AdminCallerDep = Annotated[str, Depends(require_admin_caller)]
