"""deploy/monitoring: Prometheus config, alert rules and Grafana dashboards, held to the code.

``promtool`` (Debian package ``prometheus``, installed by scripts/setup.sh) checks the config
and rules and runs the rule unit tests. Every metric a dashboard panel or a rule queries must
be one the services really export: the names are collected from prometheus_client's registry
after importing every module of libs/common and of each service.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from unit.deploy.contract import SERVICE_PORTS

from workspace import members

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = sorted((MONITORING / "rules").glob("*.yml"))
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
# libs/common and every service of the workspace
PACKAGES = tuple(m.module for m in members() if m.folder.parts[0] in {"libs", "services"})
ALERTS = {
    "StockSyncServiceDown",
    "StockSyncDLQGrowing",
    "StockSyncDLQNotEmpty",
    "StockSyncConsumerLagRising",
    "StockSyncSyncLatencyBudgetBurnFast",
    "StockSyncSyncLatencyBudgetBurnSlow",
    "StockSyncShopifyCircuitOpen",
    "StockSyncAlertChannelOpen",
    "StockSyncOversell",
    "StockSyncReconciliationMismatch",
    "StockSyncRedisLostWrites",
}
BUILTIN = {"up"}  # series Prometheus itself makes for every target
# Words that look like metric names in PromQL but are not: functions, keywords, aggregations.
_NAME = re.compile(r"(?<![\w:\"'{$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]*\s*\()")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACES = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "le", "inf", "nan",
}  # fmt: skip


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is missing: run scripts/setup.sh (Debian package prometheus)")
    return subprocess.run(  # noqa: S603 - fixed arguments, our own files
        [exe, *args], cwd=MONITORING, capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_accepts_the_config_and_its_rule_files() -> None:
    done = promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(RULES)} rule files found" in done.stdout + done.stderr


def test_promtool_accepts_the_rules() -> None:
    done = promtool("check", "rules", *(str(p.relative_to(MONITORING)) for p in RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    tests = sorted(str(p.relative_to(MONITORING)) for p in (MONITORING / "tests").glob("*.yml"))
    assert tests
    done = promtool("test", "rules", *tests)
    assert done.returncode == 0, done.stdout + done.stderr


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in RULES:
        groups.extend(yaml.safe_load(path.read_text())["groups"])
    return groups


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in rule_groups() for r in g["rules"] if "alert" in r]


def recorded() -> set[str]:
    return {r["record"] for g in rule_groups() for r in g["rules"] if "record" in r}


def test_every_alert_is_there_with_severity_and_runbook() -> None:
    assert {r["alert"] for r in alert_rules()} == ALERTS
    runbooks = (ROOT / "docs" / "operations.md").read_text()
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"page", "warning"}, rule["alert"]
        anchor = rule["annotations"]["runbook"].split("#")[1]
        alert = rule["alert"].lower()
        assert alert == anchor or alert.removeprefix(anchor) in {"fast", "slow"}, alert
        assert re.search(rf"^#+ .*{anchor}", runbooks, re.I | re.M), f"no runbook: {anchor}"


def test_every_alert_fires_and_stays_silent_in_the_rule_tests() -> None:
    tests = [yaml.safe_load(p.read_text()) for p in (MONITORING / "tests").glob("*.yml")]
    checks = [c for t in tests for case in t["tests"] for c in case.get("alert_rule_test", [])]
    for alert in ALERTS:
        mine = [c for c in checks if c["alertname"] == alert]
        assert any(c["exp_alerts"] for c in mine), f"{alert} never shown firing"
        assert any(not c["exp_alerts"] for c in mine), f"{alert} never shown silent"


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    for name, port in SERVICE_PORTS.items():
        assert targets.get(f"stocksync-{name}") == [f"{name}:{port}"], name


# --- metric names ------------------------------------------------------------------------------


@cache
def exported() -> frozenset[str]:
    """Every series name the code can expose (counters with _total, histograms' parts)."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    names: set[str] = set()
    for metric in REGISTRY.collect():
        if metric.type == "counter":
            names.add(f"{metric.name}_total")
        elif metric.type == "histogram":
            names.update(f"{metric.name}_{part}" for part in ("bucket", "sum", "count"))
        else:
            names.add(metric.name)
    return frozenset(names)


def metric_names(expr: str) -> set[str]:
    """Metric (and recording rule) names in a PromQL expression."""
    text = _RANGES.sub("", _BRACES.sub("", _STRINGS.sub("", expr)))
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\w+", "", text)
    words = {m.group(1) for m in _NAME.finditer(text)}
    return {w for w in words if w.lower() not in _KEYWORDS and not re.fullmatch(r"[\d_]+", w)}


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, shop) (rate(stocksync_x_seconds_bucket{shop=~"$shop"}'
        "[5m]))) / on (shop) group_left max without (pod) (up) and stocksync:r:ratio_rate1h > 0"
    )
    assert metric_names(expr) == {"stocksync_x_seconds_bucket", "up", "stocksync:r:ratio_rate1h"}


def test_exported_names_include_the_suffixes_the_exposition_uses() -> None:
    names = exported()
    assert "stocksync_events_consumed_total" in names
    assert "stocksync_sync_latency_seconds_bucket" in names
    assert "stocksync_consumer_lag_records" in names
    assert "stocksync_events_consumed" not in names


def panel_exprs() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in DASHBOARDS:
        doc = json.loads(path.read_text())
        for panel in doc["panels"]:
            for target in panel.get("targets", []):
                out.append((f"{path.name}: {panel['title']}", target["expr"]))
        for var in doc.get("templating", {}).get("list", []):
            query = var.get("definition", "")
            inner = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query)
            if inner:
                out.append((f"{path.name}: ${var['name']}", inner.group(1)))
    return out


def test_dashboards_are_the_three_expected_ones() -> None:
    uids = {json.loads(p.read_text())["uid"] for p in DASHBOARDS}
    assert uids == {"stocksync-overview", "stocksync-shopify", "stocksync-inventory"}


@pytest.mark.parametrize("where,expr", panel_exprs())
def test_every_panel_queries_metrics_the_services_export(where: str, expr: str) -> None:
    names = metric_names(expr)
    assert names, f"{where}: no metric in {expr!r}"
    unknown = names - exported() - recorded() - BUILTIN
    assert unknown == set(), f"{where}: {sorted(unknown)} are not exported"


@pytest.mark.parametrize("rule", [r for g in rule_groups() for r in g["rules"]], ids=str)
def test_every_rule_queries_metrics_the_services_export(rule: dict[str, Any]) -> None:
    names = metric_names(rule["expr"])
    assert names
    unknown = names - exported() - recorded() - BUILTIN
    assert unknown == set(), f"{rule.get('alert') or rule.get('record')}: {sorted(unknown)}"


def test_every_panel_uses_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == uid, f"{path.name}: {panel['title']}"
                assert panel["targets"], f"{path.name}: {panel['title']} has no query"
