"""The service apps' answer to a Redis failure (stocksync_common.redis_unavailable): 503 with
``Retry-After`` for Redis not answering or failing the call, through the app's own
``HTTPException`` handler; a call the cluster client refused before sending stays a 500.
The errors are built without Redis (support.redis_errors); the integration tests run the
adjuster and the console on a Redis that does not answer."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from starlette.exceptions import HTTPException as StarletteHTTPException

from stocksync_common.redis_unavailable import answer_redis_failures
from support.redis_errors import cluster_refusal, cluster_unreachable

ERRORS = {
    "down": lambda: RedisConnectionError("Error 111 connecting to 127.0.0.1:6379."),
    "cluster-down": cluster_unreachable,
    "error-reply": lambda: ResponseError("OOM command not allowed"),
    "refused": cluster_refusal,
}


def app_raising() -> FastAPI:
    app = FastAPI()
    answer_redis_failures(app)

    @app.get("/{what}")
    async def fail(what: str) -> None:
        raise ERRORS[what]()

    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.get(path)


@pytest.mark.parametrize(
    ("what", "detail"),
    [
        ("down", "Redis did not answer; retry later"),
        ("cluster-down", "Redis did not answer; retry later"),
        ("error-reply", "Redis failed the call; retry later"),
    ],
)
async def test_a_redis_failure_is_503_retry_later(what: str, detail: str) -> None:
    r = await get(app_raising(), f"/{what}")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.json() == {"detail": detail}
    assert "127.0.0.1" not in r.text  # the error's own words stay in the log


async def test_a_call_the_cluster_client_refused_stays_a_500() -> None:
    r = await get(app_raising(), "/refused")
    assert r.status_code == 500


async def test_the_answer_goes_through_the_apps_own_http_error_handler() -> None:
    app = app_raising()

    @app.exception_handler(StarletteHTTPException)
    async def as_text(_request: Request, exc: StarletteHTTPException) -> Response:
        return PlainTextResponse(f"page: {exc.detail}", exc.status_code, exc.headers)

    r = await get(app, "/cluster-down")
    assert (r.status_code, r.text) == (503, "page: Redis did not answer; retry later")
    assert r.headers["retry-after"] == "1"
