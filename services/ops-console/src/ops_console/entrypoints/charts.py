"""The charts page: a range (the last hour by default) from Prometheus
(``ops_console.charts``), any role."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from ops_console import charts
from ops_console.entrypoints.deps import ContainerDep, PageSessionDep
from ops_console.entrypoints.pages import render

router = APIRouter(tags=["pages"])
RangeQuery = Annotated[str, Query(alias="range", max_length=8)]
NO_PROMETHEUS = (
    "No Prometheus configured (STOCKSYNC_PROMETHEUS_URL): scripts/up.sh starts one "
    "locally; in Kubernetes point the console at the cluster's."
)


@router.get("/charts")
async def charts_page(
    c: ContainerDep, session: PageSessionDep, range_key: RangeQuery = charts.DEFAULT_RANGE
) -> HTMLResponse:
    """Consumer lag, DLQ depth, sync latency per store and commands applied, as SVG."""
    base = c.settings.prometheus_url
    if not base:
        return render("message_page.html", "Charts", session, error=None, message=NO_PROMETHEUS)
    if range_key not in charts.RANGES:
        error = f"unknown range {range_key!r}: one of {', '.join(charts.RANGES)}"
        return render("message_page.html", "Charts", session, 400, error=error, message=None)
    label, window_s = charts.RANGES[range_key]
    end = time.time()
    answers = await asyncio.gather(
        *(charts.query_range(c.http, base, chart, end, window_s) for chart in charts.CHARTS),
        return_exceptions=True,
    )
    drawn = []
    for chart, answer in zip(charts.CHARTS, answers, strict=True):
        if isinstance(answer, charts.PrometheusError):
            drawn.append({"title": chart.title, "error": answer})
        elif isinstance(answer, BaseException):
            raise answer
        else:
            drawn.append({"error": None, "svg": charts.svg(chart, answer, end, range_key)})
    return render("charts_page.html", "Charts", session, base=base, charts=drawn, label=label,
                  ranges=charts.RANGES, current=range_key)  # fmt: skip
