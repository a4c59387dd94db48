"""The local run's Prometheus config: the deployed one, pointed at this machine (#25)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import prometheus_local
import pytest
import yaml

from stack import SERVICES, Ports, Stack


def test_every_service_is_scraped_on_its_local_port_with_the_deployed_rules(
    tmp_path: Path,
) -> None:
    stack = Stack(Ports().shifted(1000), tmp_path)
    doc = prometheus_local.local_config(stack)
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in doc["scrape_configs"]
    }
    for service in SERVICES:
        assert targets[f"stocksync-{service}"] == f"127.0.0.1:{stack.port(service)}"
    assert targets["prometheus"] == "127.0.0.1:10090"
    (rules,) = doc["rule_files"]
    assert list(Path(rules).parent.glob("*.yml"))  # the alert rules themselves


def test_the_written_config_passes_promtool(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        pytest.fail("prometheus is missing: run scripts/setup.sh (Debian package prometheus)")
    stack = Stack(Ports(), tmp_path)
    cmd = prometheus_local.command(stack)
    assert cmd is not None
    config = next(a.split("=", 1)[1] for a in cmd if a.startswith("--config.file="))
    assert yaml.safe_load(Path(config).read_text())["global"]["scrape_interval"] == "5s"
    check = subprocess.run(  # noqa: S603
        ["promtool", "check", "config", config],
        capture_output=True,
        text=True,  # noqa: S607
    )
    assert check.returncode == 0, check.stdout + check.stderr
