"""FastAPI dependencies: the container, and the admin bearer token."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from shopify_sync.bootstrap import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def require_admin(
    request: Request, container: ContainerDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The caller, for the audit log: the client address and a fingerprint of the token
    (never the token)."""
    expected = f"Bearer {container.settings.admin_token}"
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise HTTPException(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})
    token = hashlib.sha256(authorization.encode()).hexdigest()[:8]
    client = request.client.host if request.client else "unknown"
    return f"admin-token:{token}@{client}"


AdminDep = Annotated[str, Depends(require_admin)]
