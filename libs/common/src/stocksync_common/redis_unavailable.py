"""A request that Redis failed is answered 503 with ``Retry-After``, never 500.

Every service app (``runtime.create_service_app``) gets one exception handler for redis-py's
errors, so a route or dependency that reads Redis (the adjuster's read API, a user token's
lookup behind every admin route, the console's sessions and logins) needs no handling of its
own: Redis not answering, on one node or a whole cluster, is "retry later", as the webhook
receiver answers (docs/decisions/0029-redis-cluster.md). The answer goes through the app's
own ``HTTPException`` handler, so the ops console shows it as a page or as JSON like any
other error. A call the cluster client refused before sending it (keys in two slots) is a
bug: it is not answered here and stays a loud 500 (``redis_client.redis_failed``)."""

from __future__ import annotations

import inspect
import logging

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException

from stocksync_common.redis_client import REDIS_ERRORS, redis_failed, unanswered

log = logging.getLogger(__name__)
RETRY_AFTER_S = 1
DID_NOT_ANSWER = "Redis did not answer; retry later"
FAILED = "Redis failed the call; retry later"


def unavailable(exc: BaseException) -> HTTPException:
    """The 503 for a Redis failure ``exc`` (:func:`redis_client.redis_failed`)."""
    detail = DID_NOT_ANSWER if unanswered(exc) else FAILED
    return HTTPException(503, detail, {"Retry-After": str(RETRY_AFTER_S)})


async def _answer(request: Request, exc: Exception) -> Response:
    if not redis_failed(exc):
        raise exc  # refused before sending: a programming error, the server's 500
    if unanswered(exc):
        log.warning("Redis did not answer; answering 503 (%s)", type(exc).__name__)
    else:  # an error reply: what it says matters to whoever looks
        log.error("Redis failed the call; answering 503", exc_info=exc)
    handler = request.app.exception_handlers.get(StarletteHTTPException, http_exception_handler)
    answer = handler(request, unavailable(exc))
    response: Response = await answer if inspect.isawaitable(answer) else answer
    return response


def answer_redis_failures(app: FastAPI) -> None:
    """Install the handler (see the module docstring) on ``app``."""
    for kind in REDIS_ERRORS:
        app.add_exception_handler(kind, _answer)
