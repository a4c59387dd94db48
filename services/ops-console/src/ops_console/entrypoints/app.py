"""ops-console: the app (its lifespan from the runtime, see bootstrap), errors as pages (JSON
under ``/api/``; Redis not answering, wherever a request touched it, is the runtime's 503 with
``Retry-After``, shown here like any other error), and the headers every answer carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ops_console.backends import BackendError
from ops_console.bootstrap import NO_SEAMS, Seams, service
from ops_console.entrypoints import charts, dlq, login, pages, users, users_api
from ops_console.entrypoints.deps import LoginRequired
from ops_console.entrypoints.pages import render
from ops_console.settings import Settings, get_settings
from stocksync_common.runtime import create_service_app

CSS = (resources.files("ops_console") / "static" / "console.css").read_text()
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.next_path}), 303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(users_api.router.prefix + "/"):
            return JSONResponse({"detail": exc.detail}, exc.status_code, exc.headers)
        title = "Try again shortly" if exc.status_code == 503 else f"Error {exc.status_code}"
        page = render("message_page.html", title, None, exc.status_code, error=exc.detail)
        page.headers.update(exc.headers or {})  # Retry-After of a 503 (Redis did not answer)
        return page

    @app.exception_handler(BackendError)
    async def backend_error(_request: Request, exc: BackendError) -> Response:
        return render("message_page.html", "A service did not answer", None, 502, error=exc)


def create_app(settings: Settings | None = None, seams: Seams = NO_SEAMS) -> FastAPI:
    """The app; ``seams`` are for tests."""
    spec = service(settings or get_settings(), seams)
    app = create_service_app(
        spec,
        [login.router, pages.router, dlq.router, charts.router, users.router, users_api.router],
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/static/console.css", include_in_schema=False)
    async def css() -> Response:
        return Response(CSS, media_type="text/css")

    install_errors(app)
    return app
