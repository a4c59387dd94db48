"""FastAPI dependencies: the container, and the admin bearer token."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Header, Request

from shopify_sync.bootstrap import Container
from stocksync_common.auth import check_admin


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def require_admin(
    request: Request, container: ContainerDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The caller, for the audit log: the client address and a fingerprint of the token
    (never the token)."""
    check_admin(authorization, container.settings.admin_token)
    token = hashlib.sha256((authorization or "").encode()).hexdigest()[:8]
    client = request.client.host if request.client else "unknown"
    return f"admin-token:{token}@{client}"


AdminDep = Annotated[str, Depends(require_admin)]
