"""A real Prometheus for the local run (Debian's ``prometheus`` package, as setup.sh installs
for ``promtool``): the deployed configuration (``deploy/monitoring/prometheus.yml``) with its
targets moved to the local processes' ports and its alert rules loaded from the repository.

Grafana stays the Docker and Kubernetes path; locally the ops console draws its charts from
this Prometheus when it is there.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from stack import ROOT, Stack

DEPLOYED = ROOT / "deploy" / "monitoring" / "prometheus.yml"
RULES = ROOT / "deploy" / "monitoring" / "rules"
JOB_PREFIX = "stocksync-"
SCRAPE_S = "5s"  # locally: charts and the targets page follow within seconds


def local_config(stack: Stack, deployed: Path = DEPLOYED) -> dict[str, Any]:
    """The deployed config, each ``stocksync-<service>`` job pointed at this stack's port."""
    doc: dict[str, Any] = yaml.safe_load(deployed.read_text())
    doc["global"]["scrape_interval"] = SCRAPE_S
    doc["rule_files"] = [str(RULES / "*.yml")]
    for job in doc["scrape_configs"]:
        name = job["job_name"]
        if name.startswith(JOB_PREFIX):
            target = f"127.0.0.1:{stack.port(name.removeprefix(JOB_PREFIX))}"
        elif name == "prometheus":
            target = f"127.0.0.1:{stack.port('prometheus')}"
        else:
            continue
        job["static_configs"] = [{"targets": [target]}]
    return doc


def command(stack: Stack) -> list[str] | None:
    """The prometheus command for this stack (its config written), or None without one."""
    binary = shutil.which("prometheus")
    if binary is None:
        return None
    home = stack.state_dir / "prometheus"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "prometheus.yml"
    config.write_text(yaml.safe_dump(local_config(stack), sort_keys=False))
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={home / 'data'}",
        "--storage.tsdb.retention.time=1d",
        f"--web.listen-address=127.0.0.1:{stack.port('prometheus')}",
    ]
