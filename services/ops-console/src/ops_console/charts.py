"""Charts from Prometheus over a chosen range (15 minutes to a week, the last hour by
default), drawn on the server as SVG (no script: the
console's CSP stays strict): consumer lag per group, DLQ depth, sync latency p50 and p99
per store, inventory commands applied per second.

Prometheus is optional (``STOCKSYNC_PROMETHEUS_URL``; the local run starts one, Kubernetes
has its own): without it, or when a query fails, the page says so and the rest of the
console works as before."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import httpx
from markupsafe import Markup

from ops_console.templating import render

# The ranges a page may ask for (``?range=``): the label shown, the seconds covered. Each
# range is drawn from about 120 points (the step grows with the range), so a week costs
# Prometheus no more than an hour.
RANGES = {"15m": ("15 minutes", 900), "1h": ("hour", 3600), "6h": ("6 hours", 21600),
          "24h": ("24 hours", 86400), "7d": ("7 days", 604800)}  # fmt: skip
DEFAULT_RANGE = "1h"
POINTS = 120
WINDOW_S = RANGES[DEFAULT_RANGE][1]
STEP_S = WINDOW_S // POINTS


def step_for(window_s: int) -> int:
    """The query step for a window: about ``POINTS`` points, never under 15 s."""
    return max(15, window_s // POINTS)


WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28  # plot margins inside the SVG
COLORS = ("#3b6fd8", "#d8733b", "#1e7b34", "#b3261e", "#7b3bd8", "#3bb3d8", "#8a6d1e", "#555")
MAX_SERIES = len(COLORS)


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    query: str
    unit: str
    label: str | None  # the label that names a series (None: one series)


def _latency(q: float) -> str:
    return (
        f"histogram_quantile({q}, sum by (shop, le) "
        "(rate(stocksync_sync_latency_seconds_bucket[1m])))"
    )


CHARTS = (
    Chart("lag", "Consumer lag by group", "sum by (group) (stocksync_consumer_lag_records)",
          "records", "group"),
    Chart("dlq", "DLQ depth by topic", "sum by (topic) (stocksync_dlq_depth_records)",
          "records", "topic"),
    Chart("latency-p50", "Sync latency p50 by store", _latency(0.5), "s", "shop"),
    Chart("latency-p99", "Sync latency p99 by store", _latency(0.99), "s", "shop"),
    Chart("applied", "Inventory commands applied per second",
          'sum(rate(stocksync_inventory_commands_total{outcome="applied"}[1m]))', "/s", None),
)  # fmt: skip


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[tuple[float, float], ...]  # (epoch seconds, value), NaN dropped


class PrometheusError(Exception):
    """Prometheus could not answer a query (unreachable, refused, or an error status)."""


async def query_range(
    http: httpx.AsyncClient, base_url: str, chart: Chart, end: float, window_s: int = WINDOW_S
) -> list[Series]:
    """The chart's series over ``window_s`` up to ``end``, at most ``MAX_SERIES``."""
    params = {
        "query": chart.query,
        "start": f"{end - window_s:.3f}",
        "end": f"{end:.3f}",
        "step": str(step_for(window_s)),
    }
    try:
        r = await http.get(f"{base_url.rstrip('/')}/api/v1/query_range", params=params)
        body: dict[str, Any] = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PrometheusError(f"Prometheus unreachable: {type(exc).__name__}") from exc
    if r.status_code != 200 or body.get("status") != "success":
        raise PrometheusError(f"Prometheus refused the query: {body.get('error') or r.status_code}")
    out = []
    for result in (body.get("data") or {}).get("result") or []:
        metric = result.get("metric") or {}
        name = str(metric.get(chart.label, "?")) if chart.label else chart.title
        points = tuple(
            (float(t), v) for t, raw in result.get("values") or [] if math.isfinite(v := float(raw))
        )
        out.append(Series(name, points))
    out.sort(key=lambda s: s.name)
    return out[:MAX_SERIES]


def _scale(top: float) -> float:
    """A round upper bound for the y axis (1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 5, 10):
        if top <= step * power:
            return float(step * power)
    return float(10 * power)


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def svg(chart: Chart, series: list[Series], end: float, range_key: str = DEFAULT_RANGE) -> Markup:
    """The chart as inline SVG (``templates/chart.html``): one polyline per series, a y scale,
    the range's ends and a legend. Every name is escaped."""
    label, window_s = RANGES[range_key]
    start = end - window_s
    stamp = "%H:%M" if window_s <= 86400 else "%b %d %H:%M"
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for s in series for _, v in s.points]
    top = _scale(max(values, default=0.0))

    def x(t: float) -> float:
        return LEFT + (t - start) / window_s * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - min(v, top) / top * plot_h

    grid = []
    for fraction in (0.0, 0.5, 1.0):
        level = TOP + plot_h - fraction * plot_h
        grid.append((f"{level:.1f}", f"{level + 4:.1f}", _number(top * fraction)))
    lines = []
    for color, s in zip(COLORS, series, strict=False):
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in s.points if t >= start)
        if points:
            lines.append((color, points, s.name))
    geometry = {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP, "right": WIDTH - RIGHT,
        "plot_w": plot_w, "plot_h": plot_h, "grid": grid, "lines": lines,
        "start": time.strftime(stamp, time.gmtime(start)),
        "end": time.strftime(stamp, time.gmtime(end)),
        "range": label,
        "empty": not values,
        "middle_x": f"{LEFT + plot_w / 2:.0f}", "middle_y": f"{TOP + plot_h / 2:.0f}",
        "legend": [(color, s.name) for color, s in zip(COLORS, series, strict=False)],
    }  # fmt: skip
    return render("chart.html", chart=chart, g=geometry)
