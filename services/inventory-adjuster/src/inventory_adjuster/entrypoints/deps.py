"""FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from inventory_adjuster.bootstrap import Container
from stocksync_common.auth import AdminDep


async def get_container(request: Request) -> Container:  # async: no thread-pool hop
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
__all__ = ["AdminDep", "ContainerDep", "get_container"]
