"""Admin API: the alert rules (read, replace) and the recent alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import ValidationError

from notifier.domain.rules import RuleSet
from notifier.entrypoints.deps import AdminDep, ContainerDep

router = APIRouter(tags=["admin"])


@router.get("/rules")
async def get_rules(c: ContainerDep, _who: AdminDep) -> dict[str, Any]:
    """The rules in force and their revision."""
    rules = await c.rules.current()
    return {
        "revision": await c.rules.revision(),
        "rules": rules.model_dump(mode="json", exclude_none=True),
    }


@router.put("/rules")
async def put_rules(
    c: ContainerDep,
    who: AdminDep,
    doc: dict[str, Any] = Body(...),  # noqa: B008
) -> dict[str, Any]:
    """Replace the rules (validated); every replica applies them with its next event."""
    try:
        rules = RuleSet.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise HTTPException(422, {"message": "invalid rules", "errors": errors}) from exc
    unknown = rules.unknown_channels(c.handler.channels)
    if unknown:
        raise HTTPException(422, {"message": "channels not configured", "channels": unknown})
    revision = await c.rules.replace(rules)
    who.audit(
        "rules replaced",
        action="rules.replace",
        revision=revision,
        skus=len(rules.by_sku),
        tags=len(rules.by_tag),
    )
    return {"revision": revision, "rules": rules.model_dump(mode="json", exclude_none=True)}


@router.get("/alerts/recent")
async def recent_alerts(
    c: ContainerDep, _who: AdminDep, limit: int = Query(50, ge=1, le=200)
) -> dict[str, Any]:
    """The newest alerts first, with their delivery status per channel."""
    return {"alerts": await c.alerts.recent(limit)}
