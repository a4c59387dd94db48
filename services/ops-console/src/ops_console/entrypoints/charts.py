"""The charts page: the last hour from Prometheus (``ops_console.charts``), any role."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ops_console import charts, html
from ops_console.entrypoints.deps import ContainerDep, PageSessionDep

router = APIRouter(tags=["pages"])


@router.get("/charts")
async def charts_page(c: ContainerDep, session: PageSessionDep) -> HTMLResponse:
    """Consumer lag, DLQ depth, sync latency per store and commands applied, as SVG."""
    base = c.settings.prometheus_url
    if not base:
        body = html.notice(
            "No Prometheus configured (STOCKSYNC_PROMETHEUS_URL): scripts/up.sh starts one "
            "locally; in Kubernetes point the console at the cluster's."
        )
        return HTMLResponse(html.page("Charts", body, session))
    end = time.time()
    answers = await asyncio.gather(
        *(charts.query_range(c.http, base, chart, end) for chart in charts.CHARTS),
        return_exceptions=True,
    )
    parts = []
    for chart, answer in zip(charts.CHARTS, answers, strict=True):
        if isinstance(answer, charts.PrometheusError):
            heading = f"<h2>{html.esc(chart.title)}</h2>"
            parts.append(html.Safe(heading + html.error_box(answer)))
        elif isinstance(answer, BaseException):
            raise answer
        else:
            parts.append(charts.svg(chart, answer, end))
    source = html.Safe(f'<p class="source">From {html.esc(base)}, the last hour.</p>')
    return HTMLResponse(html.page("Charts", html.join([source, *parts]), session))
