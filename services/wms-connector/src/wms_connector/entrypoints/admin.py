"""Admin endpoints (bearer token): the outbound path's status and WMS reconciliation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from stocksync_common.auth import AdminDep
from wms_connector.bootstrap import Container

router = APIRouter(prefix="/wms", tags=["admin"])


async def container(request: Request) -> Container:  # async: no thread-pool hop
    c: Container = request.app.state.container
    return c


ContainerDep = Annotated[Container, Depends(container)]


@router.get("/status")
async def status(_who: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Orders sent to the WMS, the circuit, recent failures and the last reconciliation."""
    last = c.reconciler.last
    return {
        "outbound": c.status.to_json(),
        "wms_url": c.settings.wms_url,
        "dlq_group": c.settings.orders_consumer_group,
        "reconcile": None
        if last is None
        else {k: last[k] for k in ("as_of", "ran_at")}
        | {"differences": len(last["differences"]), "corrected": len(last["corrected"])},
    }


@router.get("/reconcile")
async def last_report(_who: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """The latest reconciliation report (null before the first run)."""
    return {"report": c.reconciler.last}


@router.post("/reconcile")
async def reconcile_now(who: AdminDep, c: ContainerDep) -> dict[str, Any]:
    """Compare the WMS snapshot with truth now (corrections follow the policy)."""
    report = await c.reconciler.run()
    who.audit("wms reconcile", corrected=len(report["corrected"]), policy=report["policy"])
    return {"report": report}
