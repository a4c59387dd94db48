"""The admin bearer token every admin API requires (``STOCKSYNC_ADMIN_TOKEN``)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException


def check_admin(authorization: str | None, token: str) -> str:
    """Who is acting, if ``authorization`` is ``Bearer <token>``; 401 otherwise.

    Compared in constant time; neither value ever appears in the error."""
    expected = f"Bearer {token}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise HTTPException(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})
    return "admin"
