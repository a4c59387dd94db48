"""The charts page: the last hour from Prometheus (``ops_console.charts``), any role."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from ops_console import charts
from ops_console.entrypoints.deps import ContainerDep, PageSessionDep
from ops_console.entrypoints.pages import render

router = APIRouter(tags=["pages"])
NO_PROMETHEUS = (
    "No Prometheus configured (STOCKSYNC_PROMETHEUS_URL): scripts/up.sh starts one "
    "locally; in Kubernetes point the console at the cluster's."
)


@router.get("/charts")
async def charts_page(c: ContainerDep, session: PageSessionDep) -> HTMLResponse:
    """Consumer lag, DLQ depth, sync latency per store and commands applied, as SVG."""
    base = c.settings.prometheus_url
    if not base:
        return render("message_page.html", "Charts", session, error=None, message=NO_PROMETHEUS)
    end = time.time()
    answers = await asyncio.gather(
        *(charts.query_range(c.http, base, chart, end) for chart in charts.CHARTS),
        return_exceptions=True,
    )
    drawn = []
    for chart, answer in zip(charts.CHARTS, answers, strict=True):
        if isinstance(answer, charts.PrometheusError):
            drawn.append({"title": chart.title, "error": answer})
        elif isinstance(answer, BaseException):
            raise answer
        else:
            drawn.append({"error": None, "svg": charts.svg(chart, answer, end)})
    return render("charts_page.html", "Charts", session, base=base, charts=drawn)
