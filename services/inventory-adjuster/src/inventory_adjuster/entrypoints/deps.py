"""FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from inventory_adjuster.bootstrap import Container
from stocksync_common.auth import check_admin


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def require_admin(
    container: ContainerDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    return check_admin(authorization, container.settings.admin_token)


AdminDep = Annotated[str, Depends(require_admin)]
