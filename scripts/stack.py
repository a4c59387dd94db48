"""Start, watch and stop the StockSync processes: simulators plus the six services.

Used by ``scripts/up.sh`` (the local run) and by the end-to-end tests. Kafka and Redis are
started before this by ``scripts/infra``. Each process runs the same command its container
image runs (``python -m <package>``), with ``STOCKSYNC_`` settings in its environment.
When scripts/infra started Kafka and Redis secured (``KAFKA_SECURITY=sasl_ssl``,
``REDIS_SECURITY=tls`` in this environment too), the processes get the client settings those
scripts wrote (:func:`transport_env`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from generate_deploy import CONSOLE_SETTING, shown_on_console
from workspace import services

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_STORES = ROOT / "config" / "stores.example.yaml"

DEMO_ENV = {
    "STOCKSYNC_DEMO_PARENT_TOKEN": "shpat_demo_parent",
    "STOCKSYNC_DEMO_PARENT_SECRET": "demo-parent-secret",
    "STOCKSYNC_ADMIN_TOKEN": "dev-admin-token",
    "STOCKSYNC_WMS_WEBHOOK_SECRET": "dev-wms-secret",
}
# The local run's first console user (stocksync-users bootstrap-admin; docs/operations.md).
DEMO_ADMIN = ("admin", "dev-admin-password")


def _service_ports() -> dict[str, int]:
    return {s.module: s.port for s in services()}


@dataclass(frozen=True)
class Ports:
    """The local ports: every service's (by module: its Settings' default port, read from the
    workspace, so a new service needs no line here), the simulators', Kafka's, Redis's and
    Prometheus's."""

    shopify_sim: int = 8090
    wms_sim: int = 8091
    sink: int = 8092
    kafka: int = 9092
    redis: int = 6379
    prometheus: int = 9090  # the local run's (scripts/prometheus_local.py)
    services: Mapping[str, int] = field(default_factory=_service_ports, hash=False)

    def of(self, name: str) -> int:
        """The port of a service (by module) or of one of the fields above."""
        if name in self.services:
            return self.services[name]
        port = getattr(self, name)
        if not isinstance(port, int):
            raise KeyError(name)
        return port

    def named(self) -> dict[str, int]:
        """Every port by name: the services' (by module) and the fields above."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "services"}
        return {**self.services, **own}

    def shifted(self, offset: int) -> Ports:
        own = {k: v + offset for k, v in self.named().items() if k not in self.services}
        return replace(self, **own, services={k: v + offset for k, v in self.services.items()})


# Every service of the workspace (services/<name>), in the order of their ports.
SERVICES = tuple(s.name for s in services())
MODULES = {s.name: s.module for s in services()}
# Those the ops console shows: each declares stocksync.io/console: "true" in its kustomize
# entry (what scripts/generate_deploy.py writes into the console's Kubernetes and compose env).
CONSOLE_SERVICES = shown_on_console()


def module_of(service: str) -> str:
    return MODULES.get(service, service.replace("-", "_"))


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (scripts/infra's client.env)."""
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def transport_env(
    redis_port: int, environ: dict[str, str] | None = None, service: str | None = None
) -> dict[str, str]:
    """The Kafka and Redis client settings of a secured local pair (what kafka.sh and redis.sh
    wrote to client.env in ``STOCKSYNC_STATE_DIR``; for a ``service``, its own Redis user from
    ``redis/users/<service>.env`` when redis.sh made one), the Redis URL pointed at
    ``redis_port`` (a fault proxy may sit in front); empty when they run in plaintext."""
    environ = dict(os.environ) if environ is None else environ
    state = Path(environ.get("STOCKSYNC_STATE_DIR", str(ROOT / ".work" / "local")))
    env: dict[str, str] = {}
    if environ.get("KAFKA_SECURITY") == "sasl_ssl":
        kafka = read_env_file(state / "kafka" / "client.env")
        kafka.pop("STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS")  # the stack says where (or its proxy)
        env.update(kafka)
    if environ.get("REDIS_SECURITY") == "tls":
        own = state / "redis" / "users" / f"{service}.env"
        redis = read_env_file(own if service and own.exists() else state / "redis" / "client.env")
        url = urlsplit(redis["STOCKSYNC_REDIS_URL"])
        login = url.netloc.rpartition("@")[0]
        env["STOCKSYNC_REDIS_URL"] = url._replace(netloc=f"{login}@127.0.0.1:{redis_port}").geturl()
        env["STOCKSYNC_REDIS_CA_FILE"] = redis["STOCKSYNC_REDIS_CA_FILE"]
    return env


@dataclass
class Stack:
    ports: Ports
    state_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_ports: dict[str, int] = field(default_factory=dict)  # extra instances, by name
    # The command each process was started with (a restart uses it again).
    started_cmds: dict[str, list[str]] = field(default_factory=dict)
    # Ports the services dial to reach "kafka", "redis" or "shopify-sim" instead of their
    # own (a fault proxy in front of them, see scripts/faults).
    via: dict[str, int] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def stores_file(self) -> Path:
        return self.state_dir / "stores.yaml"

    def port(self, name: str) -> int:
        if name in self.extra_ports:
            return self.extra_ports[name]
        return self.ports.of(module_of(name))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def service_of(self, cmd: list[str]) -> str | None:
        """The service a command runs (an extra instance runs its service's module)."""
        return next((svc for svc in SERVICES if cmd[-2:] == ["-m", module_of(svc)]), None)

    def base_env(self, service: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
        env.update(DEMO_ENV)
        kafka = self.via.get("kafka", self.ports.kafka)
        redis = self.via.get("redis", self.ports.redis)
        env.update(
            {
                "STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
                "STOCKSYNC_REDIS_URL": f"redis://127.0.0.1:{redis}/0",
                "STOCKSYNC_STORES_FILE": str(self.stores_file),
                "STOCKSYNC_ALERT_WEBHOOK_URL": f"{self.url('sink')}/alerts/slack",
                "STOCKSYNC_INVENTORY_URL": self.url("inventory-adjuster"),
                "STOCKSYNC_WMS_URL": self.url("wms-sim"),
                # the services the ops console shows, each at its admin API
                CONSOLE_SETTING: json.dumps({s: self.url(s) for s in CONSOLE_SERVICES}),
                # the console's charts (a local Prometheus: scripts/prometheus_local.py)
                "STOCKSYNC_PROMETHEUS_URL": self.url("prometheus"),
                "STOCKSYNC_TOPIC_PARTITIONS": "12",
                "STOCKSYNC_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(transport_env(redis, service=service))  # a service as its own Redis user
        env.update(self.extra_env)
        return env

    def write_stores_file(self) -> None:
        """The example stores file, pointed at this stack's Shopify simulator."""
        doc = yaml.safe_load(EXAMPLE_STORES.read_text())
        for store in doc["stores"]:
            sim = self.via.get("shopify-sim")
            store["admin_base_url"] = f"http://127.0.0.1:{sim}" if sim else self.url("shopify-sim")
        self.stores_file.write_text(yaml.safe_dump(doc, sort_keys=False))

    def create_topics(self) -> None:
        subprocess.run(  # noqa: S603 - our own console script
            [sys.executable, "-m", "stocksync_common.topics", "create"],
            env=self.base_env(),
            check=True,
            timeout=120,
        )

    def bootstrap_admin(self) -> None:
        """The first console user (an admin), unless an admin exists already."""
        name, password = DEMO_ADMIN
        done = subprocess.run(  # noqa: S603 - our own console script
            [sys.executable, "-m", "stocksync_common.accounts.cli", "bootstrap-admin",
             "--name", name],
            env={**self.base_env("ops-console"), "STOCKSYNC_FIRST_ADMIN_PASSWORD": password},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"stocksync-users bootstrap-admin failed: {done.stderr[-2000:]}")

    def commands(self) -> dict[str, list[str]]:
        py = sys.executable
        p = self.ports
        cmds = {
            "shopify-sim": [
                py, "-m", "stocksync_sim.shopify", "--host", "127.0.0.1",
                "--port", str(p.shopify_sim), "--stores-file", str(self.stores_file),
                "--webhook-url", f"{self.url('webhook-receiver')}/webhooks/shopify",
            ],
            "wms-sim": [
                py, "-m", "stocksync_sim.wms", "--port", str(p.wms_sim),
                "--webhook-url", f"{self.url('webhook-receiver')}/webhooks/wms",
                "--secret", DEMO_ENV["STOCKSYNC_WMS_WEBHOOK_SECRET"],
            ],
            "sink": [py, "-m", "stocksync_sim.sink", "--port", str(p.sink)],
        }  # fmt: skip
        for svc in SERVICES:
            cmds[svc] = [py, "-m", module_of(svc)]
        return cmds

    def start(self, names: list[str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.write_stores_file()
        cmds = self.commands()
        if "ops-console" in (names or cmds):
            self.bootstrap_admin()
        for name in names or list(cmds):
            self.start_one(name, cmds[name])

    def start_one(
        self, name: str, cmd: list[str] | None = None, *, port: int | None = None
    ) -> None:
        """Start one process; ``port`` starts an extra instance under its own name."""
        cmd = cmd or self.started_cmds.get(name) or self.commands()[name]
        self.started_cmds[name] = cmd
        env = self.base_env(self.service_of(cmd))
        if port is not None:
            self.extra_ports[name] = port
            env["STOCKSYNC_SERVICE_NAME"] = name
        if name in SERVICES or port is not None:
            env["STOCKSYNC_HTTP_PORT"] = str(self.port(name))
        with (self.log_dir / f"{name}.log").open("ab") as log:  # the child keeps its own fd
            self.procs[name] = subprocess.Popen(  # noqa: S603 - fixed argv of our own modules
                cmd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )

    def wait_healthy(
        self, timeout_s: float = 60.0, path: str = "/healthz", names: tuple[str, ...] = ()
    ) -> None:
        """Poll ``path`` on each process (or only ``names``) until it answers 200."""
        deadline = time.monotonic() + timeout_s
        pending = set(names or self.procs)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    proc = self.procs[name]
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"{name} exited with {proc.returncode}:\n{self.tail(name)}"
                        )
                    try:
                        if client.get(self.url(name) + path).status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise TimeoutError(f"not healthy after {timeout_s}s: {sorted(pending)}")
                if pending:
                    time.sleep(0.2)

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop_one(self, name: str, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop_one(name)
