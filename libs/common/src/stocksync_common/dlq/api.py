"""``/admin/dlq``: the DLQ HTTP API every consuming service mounts for its own groups.

``app.include_router(dlq_router(groups, settings, health.checks))``. The router brings its own
lifespan: a Redis client, the Kafka clients of a DlqAdmin, and the automatic replayer, which
uses ``checks`` (the service's readiness checks) to know when a dependency is back. Every
route needs the admin bearer token (``stocksync_common.auth.AdminDep``, the one admin
dependency; the token is the app's settings'); each state-changing call writes one audit line.
Records are shown raw only to a credential with the ``admin`` scope (each such read audited);
viewers and operators see customer data masked (``masked_view``).
"""

# No ``from __future__ import annotations``: the routes are defined in the factory, and
# FastAPI resolves string annotations against module globals only.
import asyncio
import contextlib
from collections import ChainMap
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException, Query
from pydantic import BaseModel
from redis.asyncio import Redis

from stocksync_common.auth import Admin, AdminDep
from stocksync_common.dlq import DlqRecord, masked_view, parse_record_id
from stocksync_common.dlq.admin import DlqAdmin, Groups
from stocksync_common.dlq.auto import AutoReplayer
from stocksync_common.ops import FamilyCheck
from stocksync_common.redis_client import connect_settings
from stocksync_common.settings import CommonSettings

Check = Callable[[], Awaitable[bool]]


class ReplayRequest(BaseModel):
    ids: list[str] | None = None
    topic: str | None = None
    reason: str | None = None
    all: bool = False


class PurgeRequest(BaseModel):
    topic: str
    confirm: str


class _Holder:
    """The DlqAdmin, created on first use or by the lifespan, closed by the lifespan."""

    def __init__(
        self, settings: CommonSettings, groups: Groups, producers: Collection[str] | None
    ) -> None:
        self.settings = settings
        self.groups = groups
        self.producers = producers
        self.redis: Redis | None = None
        self.admin: DlqAdmin | None = None

    def get(self) -> DlqAdmin:
        if self.admin is None:
            self.redis = connect_settings(self.settings)
            self.admin = DlqAdmin(
                self.settings.kafka_bootstrap_servers,
                self.redis,
                self.groups,
                self.producers,
                security=self.settings.kafka_security,
            )
        return self.admin

    async def close(self) -> None:
        if self.admin is not None:
            await self.admin.close()
        if self.redis is not None:
            await self.redis.aclose()
        self.admin = self.redis = None


def dlq_router(
    groups: Groups,
    settings: CommonSettings,
    checks: Mapping[str, Check] | None = None,
    *,
    auto_replay: bool = True,
    auto_interval_s: float = 1.0,
    producers: Collection[str] | None = None,
    families: Mapping[str, FamilyCheck] | None = None,
) -> APIRouter:
    """The DLQ API of ``groups``; ``producers``: those of them that only dead-letter what they
    could not publish (None: as the installed services register them); ``families``: the
    replayer's checks of dependencies named ``<family>:<argument>`` (a live view)."""
    holder = _Holder(settings, groups, producers)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        admin = holder.get()
        replayer = AutoReplayer(admin, _with_redis(checks or {}, holder), auto_interval_s, families)
        task = asyncio.create_task(replayer.run(), name="dlq-auto-replay") if auto_replay else None
        try:
            yield
        finally:
            replayer.stop()
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            await holder.close()

    router = APIRouter(
        prefix="/admin/dlq",
        tags=["dlq"],
        lifespan=lifespan,
        responses={
            401: {"description": "admin bearer token required"},
            404: {"description": "not one of this service's DLQ topics, or no such record"},
        },
    )

    def owned(topic: str) -> str:
        if not holder.get().owns(topic):
            raise HTTPException(404, f"unknown DLQ topic {topic}")
        return topic

    @router.get("")
    async def overview(_who: AdminDep) -> dict[str, Any]:
        """This service's DLQ topics with their depth and pending count."""
        return {"topics": await holder.get().overview()}

    @router.get("/records")
    async def records(
        who: AdminDep,
        topic: str,
        status: Literal["pending", "replayed", "all"] = "pending",
        limit: Annotated[int, Query(ge=1, le=10000)] = 100,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """The newest records of a DLQ topic (summaries), oldest first (customer data in the
        errors masked without the admin scope)."""
        found = await holder.get().records(owned(topic), status, limit, reason)
        raw = _raw(who, "dlq records read raw", topic=topic, count=len(found))
        summaries = [r.summary() for r in found]
        return {"records": summaries if raw else [masked_view(s) for s in summaries],
                "masked": not raw}  # fmt: skip

    @router.get("/records/{rid}", responses={400: {"description": "bad request"}})
    async def record(who: AdminDep, rid: str) -> dict[str, Any]:
        """One record in full: summary, headers, value and stack (customer data masked
        without the admin scope)."""
        rec = await _get(holder.get(), rid, owned)
        if _raw(who, "dlq record read raw", record=rid):
            return {**rec.full(), "masked": False}
        return masked_view(rec.full())

    @router.post("/replay", responses={400: {"description": "bad request"}})
    async def replay(who: AdminDep, body: ReplayRequest) -> dict[str, Any]:
        """Replay ids, a topic's records with a reason, or all of a topic's pending records."""
        admin = holder.get()
        if body.ids:
            recs = [await _get(admin, rid, owned) for rid in body.ids]
        elif body.topic and (body.all or body.reason):
            recs = await admin.records(owned(body.topic), "pending", 0, body.reason)
        else:
            raise HTTPException(400, "give ids, or a topic with a reason or all=true")
        refused = {r.id: r.replay_refusal for r in recs if r.replay_refusal is not None}
        done = await admin.replay(recs, who.caller)
        who.audit("dlq replay", topic=body.topic, reason=body.reason, replayed=len(done),
              refused=len(refused))  # fmt: skip
        # records that cannot succeed are refused with the reason, never sent
        return {"replayed": len(done), "ids": done, "refused": refused}

    @router.post("/purge", responses={400: {"description": "bad request"}})
    async def purge(who: AdminDep, body: PurgeRequest) -> dict[str, Any]:
        """Delete every record of a DLQ topic; ``confirm`` must repeat the topic."""
        if body.confirm != body.topic:
            raise HTTPException(400, "confirm must equal the topic to purge")
        purged = await holder.get().purge(owned(body.topic))
        who.audit("dlq purge", topic=body.topic, purged=purged)
        return {"purged": purged}

    return router


def _raw(who: Admin, what: str, **detail: Any) -> bool:
    """Whether ``who`` sees records raw: only with the ``admin`` scope, and then audited
    (viewers and operators see them masked: :func:`stocksync_common.dlq.masked_view`)."""
    if who.may("admin"):
        who.audit(what, **detail)
        return True
    return False


async def _get(admin: DlqAdmin, rid: str, owned: Callable[[str], str]) -> DlqRecord:
    try:
        topic, _, _ = parse_record_id(rid)
    except ValueError as exc:
        raise HTTPException(400, f"bad record id {rid}") from exc
    owned(topic)
    rec = await admin.get(rid)
    if rec is None:
        raise HTTPException(404, f"no record {rid}")
    return rec


def _with_redis(checks: Mapping[str, Check], holder: _Holder) -> Mapping[str, Check]:
    """The service's checks (a live view: the app fills them in its lifespan), plus a Redis
    ping when it has none (the DLQ state needs Redis anyway)."""

    async def ping() -> bool:
        return holder.redis is not None and bool(await holder.redis.ping())

    return ChainMap({}, checks, {"redis": ping})  # type: ignore[arg-type]
