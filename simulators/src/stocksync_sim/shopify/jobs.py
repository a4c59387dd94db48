"""Shopify's asynchronous jobs (``Job { id done }``, read with ``job(id:)``), as
``collectionReorderProducts`` and ``collectionRemoveProducts`` answer them: the change is
not visible when the mutation answers; it applies in the background. The simulator applies
it at the second ``job(id:)`` read, which answers ``done: true`` (the first answers
``done: false``), so a client that never polls never sees the change, and one that polls
sees a job still running first, as it may on Shopify."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stocksync_sim.shopify.executor import Call, GqlObject, Resolve
from stocksync_sim.shopify.objects import NODE
from stocksync_sim.shopify.state import StoreState, gid

POLLS_TO_FINISH = 2


@dataclass
class SimJob:
    job_id: str
    apply: Callable[[], None]
    polls: int = 0
    done: bool = False


def start_job(store: StoreState, apply: Callable[[], None]) -> GqlObject:
    """A job that applies ``apply`` when polled to its end; its ``Job`` object."""
    job = SimJob(gid("Job", store.next_id()), apply)
    store.jobs[job.job_id] = job
    return job_object(job)


def job_object(job: SimJob) -> GqlObject:
    return GqlObject("Job", {"id": job.job_id, "done": job.done, "query": None}, NODE)


def _poll(store: StoreState, call: Call) -> GqlObject | None:
    job: SimJob | None = store.jobs.get(str(call.args.get("id")))
    if job is None:
        return None
    job.polls += 1
    if not job.done and job.polls >= POLLS_TO_FINISH:
        job.apply()
        job.done = True
    return job_object(job)


def query_fields(store: StoreState) -> dict[str, Any]:
    return {"job": Resolve(lambda call: _poll(store, call))}
