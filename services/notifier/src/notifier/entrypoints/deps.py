"""FastAPI dependencies: the container and the admin bearer token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from notifier.bootstrap import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def require_admin(
    container: ContainerDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    expected = f"Bearer {container.settings.admin_token}"
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
        raise HTTPException(401, "admin bearer token required", {"WWW-Authenticate": "Bearer"})
    return "admin"


AdminDep = Annotated[str, Depends(require_admin)]
