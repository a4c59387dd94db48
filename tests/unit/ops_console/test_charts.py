"""The charts page: the last hour from Prometheus as server-drawn SVG (no script, names
escaped); without Prometheus, or when it fails, the page says so instead of breaking."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from unit.ops_console.fakes import FakeServices, FakeUsers, log_in, settings

from ops_console import charts
from ops_console.bootstrap import Seams
from ops_console.entrypoints.app import create_app
from ops_console.sessions import MemorySessions

PROM = "http://prometheus.test"
NOW = time.time()


def matrix(*series: tuple[dict[str, str], list[float]]) -> dict[str, Any]:
    result = [
        {"metric": labels, "values": [[NOW - 60 * (len(vs) - i), str(v)] for i, v in enumerate(vs)]}
        for labels, vs in series
    ]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


class FakePrometheus:
    def __init__(self, answers: dict[str, dict[str, Any]], status: int = 200) -> None:
        self.answers, self.status = answers, status
        self.queries: list[dict[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query_range"
        query = request.url.params["query"]
        self.queries.append(dict(request.url.params))
        if self.status != 200:
            return httpx.Response(self.status, json={"status": "error", "error": "bad query"})
        return httpx.Response(200, json=self.answers.get(query, matrix()))


@asynccontextmanager
async def console_with(
    prometheus: FakePrometheus | None, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    services = FakeServices()

    def route(request: httpx.Request) -> httpx.Response:
        if prometheus is not None and request.url.host == "prometheus.test":
            return prometheus.handle(request)
        return services.handle(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(route))
    seams = Seams(http=http, sessions=MemorySessions(), users=FakeUsers())
    app = create_app(settings(**overrides), seams)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c.test") as c,
    ):
        await log_in(c)
        yield c


LAG = charts.CHARTS[0]


async def test_each_chart_is_drawn_from_its_query_over_the_last_hour() -> None:
    prom = FakePrometheus(
        {
            LAG.query: matrix(({"group": "inventory-adjuster"}, [0, 40, 12]),
                              ({"group": "shopify-sync"}, [3, 3, 3])),
            charts.CHARTS[2].query: matrix(({"shop": "child-us.myshopify.com"}, [0.02, 0.05])),
        }
    )  # fmt: skip
    async with console_with(prom, prometheus_url=PROM) as client:
        r = await client.get("/charts")
    assert r.status_code == 200
    assert [q["query"] for q in prom.queries] == [c.query for c in charts.CHARTS]
    first = prom.queries[0]
    assert float(first["end"]) - float(first["start"]) == charts.WINDOW_S
    assert first["step"] == str(charts.STEP_S)
    page = r.text
    assert page.count("<svg") >= len(charts.CHARTS) and "<script" not in page
    assert page.count("<polyline") == 3  # two lag series, one latency series
    assert "inventory-adjuster" in page and "child-us.myshopify.com" in page
    assert "no data in the last hour" in page  # DLQ depth, p99 and applied: empty
    assert "50 records" in page  # the lag's y scale: 40 rounds up to 50
    assert "default-src 'none'" in r.headers["content-security-policy"]


async def test_series_names_are_escaped() -> None:
    prom = FakePrometheus({LAG.query: matrix(({"group": "<script>x</script>"}, [1, 2]))})
    async with console_with(prom, prometheus_url=PROM) as client:
        page = (await client.get("/charts")).text
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page


async def test_a_failing_prometheus_is_said_per_chart() -> None:
    async with console_with(FakePrometheus({}, status=400), prometheus_url=PROM) as client:
        r = await client.get("/charts")
    assert r.status_code == 200
    assert r.text.count("Prometheus refused the query: bad query") == len(charts.CHARTS)


async def test_without_prometheus_the_page_says_how_to_get_one() -> None:
    async with console_with(None) as client:
        r = await client.get("/charts")
    assert r.status_code == 200 and "No Prometheus configured" in r.text
    assert 'href="/charts"' in r.text  # in the navigation


@pytest.mark.parametrize(("top", "scale"), [(0.0, 1.0), (0.04, 0.05), (7, 10), (120, 200)])
def test_the_y_scale_is_a_round_number_above_the_top(top: float, scale: float) -> None:
    assert charts._scale(top) == pytest.approx(scale)


def test_points_outside_the_hour_and_non_numbers_are_left_out() -> None:
    series = [charts.Series("a", ((NOW - 7200, 5.0), (NOW - 10, 2.0)))]
    drawn = charts.svg(LAG, series, NOW)
    points = drawn.split('points="')[1].split('"')[0]
    assert len(points.split()) == 1


async def test_values_prometheus_cannot_compute_are_left_out() -> None:
    answer = matrix(({"group": "g"}, [1.0, 2.0]))
    answer["data"]["result"][0]["values"].append([NOW, "NaN"])
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(FakePrometheus({LAG.query: answer}).handle)
    )
    async with http:
        series = await charts.query_range(http, PROM, LAG, NOW)
    assert [len(s.points) for s in series] == [2]


@pytest.mark.parametrize("key", list(charts.RANGES))
async def test_a_range_asks_prometheus_for_that_window_in_about_120_points(key: str) -> None:
    label, window_s = charts.RANGES[key]
    prom = FakePrometheus({LAG.query: matrix(({"group": "g"}, [1.0, 2.0]))})
    async with console_with(prom, prometheus_url=PROM) as client:
        r = await client.get(f"/charts?range={key}")
    assert r.status_code == 200
    first = prom.queries[0]
    assert float(first["end"]) - float(first["start"]) == window_s
    assert window_s / int(first["step"]) <= charts.POINTS
    assert f"the last {label}" in r.text
    assert f"<strong>{key}</strong>" in r.text  # the current range is not a link
    others = [k for k in charts.RANGES if k != key]
    assert all(f'href="/charts?range={k}"' in r.text for k in others)


async def test_an_unknown_range_is_refused_with_the_known_ones() -> None:
    prom = FakePrometheus({})
    async with console_with(prom, prometheus_url=PROM) as client:
        r = await client.get("/charts?range=<b>2y")
    assert r.status_code == 400
    assert "unknown range" in r.text and "15m, 1h, 6h, 24h, 7d" in r.text
    assert "<b>2y" not in r.text  # escaped
    assert prom.queries == []


def test_points_of_a_longer_range_are_placed_on_its_axis() -> None:
    """A point six hours back sits at the left end of the 6-hour chart, not outside it."""
    series = [charts.Series("a", ((NOW - 6 * 3600 + 1, 5.0), (NOW, 2.0)))]
    drawn = charts.svg(LAG, series, NOW, "6h")
    points = drawn.split('points="')[1].split('"')[0].split()
    assert len(points) == 2
    assert abs(float(points[0].split(",")[0]) - charts.LEFT) < 1
