"""docker-compose.yml, checked without Docker: parsed with PyYAML and held against the code.

Environment names are checked against each service's real ``Settings`` class, the simulators'
command lines are run through their own argument parsers (with ``uvicorn.run`` replaced), and
the stores file the containers mount is loaded with ``stocksync_common.stores.load_stores``.
"""

from __future__ import annotations

import importlib
import os
import re
import xml.etree.ElementTree as ET  # noqa: S405 - our own pom.xml
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
import yaml
from fastapi import APIRouter
from pydantic import SecretStr
from unit.deploy.contract import SERVICE_PORTS

from ops_console.settings import Settings as ConsoleSettings
from stocksync_common.accounts.cli import FIRST_ADMIN_ENV, UsersSettings
from stocksync_common.settings import CommonSettings
from stocksync_common.stores import load_stores
from stocksync_sim.shopify import __main__ as shopify_sim_main
from stocksync_sim.sink import __main__ as sink_main
from stocksync_sim.sink.app import create_app as create_sink_app
from stocksync_sim.wms import __main__ as wms_sim_main
from webhook_receiver.entrypoints.shopify import router as shopify_router
from webhook_receiver.entrypoints.wms import router as wms_router

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a container listens on all of its interfaces

SIMULATORS = {
    "shopify-sim": ("stocksync_sim.shopify", 8090),
    "wms-sim": ("stocksync_sim.wms", 8091),
    "sink": ("stocksync_sim.sink", 8092),
}
INFRA = ("kafka", "redis", "topics", "first-admin")
MONITORING_SERVICES = {"prometheus": 9090, "grafana": 3000}
MONITORING = ROOT / "deploy" / "monitoring"

HEALTHY = "service_healthy"
STARTED = "service_started"
COMPLETED = "service_completed_successfully"

# What each service talks to, hence must wait for.
EXPECTED_DEPENDS_ON: dict[str, dict[str, str]] = {
    "topics": {"kafka": HEALTHY},
    "first-admin": {"redis": HEALTHY},
    "webhook-receiver": {"kafka": HEALTHY, "redis": HEALTHY, "topics": COMPLETED},
    "order-consumer": {"kafka": HEALTHY, "redis": HEALTHY, "topics": COMPLETED},
    "inventory-adjuster": {"kafka": HEALTHY, "redis": HEALTHY, "topics": COMPLETED},
    "shopify-sync": {
        "kafka": HEALTHY,
        "redis": HEALTHY,
        "topics": COMPLETED,
        "shopify-sim": HEALTHY,
    },
    "wms-connector": {"kafka": HEALTHY, "topics": COMPLETED},
    "notifier": {"kafka": HEALTHY, "redis": HEALTHY, "topics": COMPLETED, "sink": HEALTHY},
    "ops-console": {"redis": HEALTHY},
    "grafana": {"prometheus": HEALTHY},
}
NEEDS_REDIS = (
    "webhook-receiver",
    "order-consumer",
    "inventory-adjuster",
    "shopify-sync",
    "notifier",
    "ops-console",
)
NEEDS_STORES = ("webhook-receiver", "order-consumer", "shopify-sync")


@cache
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def service(name: str) -> dict[str, Any]:
    svc = compose()["services"][name]
    assert isinstance(svc, dict)
    return svc


def environment(name: str) -> dict[str, str]:
    raw = service(name).get("environment", {})
    if isinstance(raw, list):
        return dict(str(item).partition("=")[::2] for item in raw)
    return {str(k): _env_value(v) for k, v in raw.items()}


def _env_value(value: object) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def command(name: str) -> list[str]:
    cmd = service(name)["command"]
    assert isinstance(cmd, list), "exec form, so nothing depends on a shell"
    return [str(word) for word in cmd]


def bind_mounts(name: str) -> dict[str, Path]:
    """Container path -> host path of every bind mount (named volumes left out)."""
    mounts: dict[str, Path] = {}
    for volume in service(name).get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        if source.startswith((".", "/")):
            mounts[target] = (ROOT / source).resolve()
    return mounts


def published_ports(name: str) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port."""
    out: list[tuple[str, int, int]] = []
    for port in service(name).get("ports", []):
        if isinstance(port, dict):
            out.append((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split(":")
        ip = parts[0] if len(parts) == 3 else ""
        out.append((ip, int(parts[-2]), int(parts[-1].split("/")[0])))
    return out


def settings_class(name: str) -> type[CommonSettings]:
    module = importlib.import_module(f"{name.replace('-', '_')}.settings")
    cls = module.Settings
    assert isinstance(cls, type) and issubclass(cls, CommonSettings)
    return cls


def env_names(cls: type[CommonSettings]) -> set[str]:
    return {f"STOCKSYNC_{field.upper()}" for field in cls.model_fields}


def stores_env_refs(path: Path) -> set[str]:
    """The variable names a stores file reads with ``env:NAME``."""
    return set(re.findall(r"env:([A-Za-z_][A-Za-z0-9_]*)", path.read_text()))


def stores_mount(name: str) -> Path | None:
    mounts = bind_mounts(name)
    target = environment(name).get("STOCKSYNC_STORES_FILE")
    if target is None and "--stores-file" in command_or_empty(name):
        argv = command(name)
        target = argv[argv.index("--stores-file") + 1]
    return mounts.get(target) if target else None


def command_or_empty(name: str) -> list[str]:
    return command(name) if "command" in service(name) else []


def allowed_env(name: str) -> set[str]:
    stores = stores_mount(name)
    refs = stores_env_refs(stores) if stores else set()
    if name in SERVICE_PORTS:
        return env_names(settings_class(name)) | refs
    if name == "topics":
        return env_names(CommonSettings)
    if name == "first-admin":
        return env_names(UsersSettings) | {FIRST_ADMIN_ENV}
    if name == "wms-sim":
        return {wms_sim_main.SIGNING_KEY_ENV}
    return refs


def use_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in list(os.environ):
        if key.startswith("STOCKSYNC_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def kafka_listeners() -> tuple[dict[str, str], dict[str, str]]:
    """(listener name -> ":port" bind, listener name -> "host:port" advertised)."""
    env = environment("kafka")

    def split(value: str) -> dict[str, str]:
        return {
            item.split("://")[0]: item.split("://")[1] for item in value.split(",") if item.strip()
        }

    return split(env["KAFKA_LISTENERS"]), split(env["KAFKA_ADVERTISED_LISTENERS"])


def healthcheck_test(name: str) -> list[str]:
    test = service(name)["healthcheck"]["test"]
    assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"}, test
    return [str(word) for word in test]


# --- the whole file -------------------------------------------------------------------------------


def test_every_service_is_there() -> None:
    missing = sorted(set(SERVICE_PORTS) - set(compose()["services"]))
    assert not missing, f"docker-compose.yml: add an entry for {missing}"
    assert set(compose()["services"]) == {*INFRA, *SIMULATORS, *SERVICE_PORTS, *MONITORING_SERVICES}
    assert "version" not in compose(), "the version key is obsolete"


@pytest.mark.parametrize("name", [*SERVICE_PORTS, *SIMULATORS, "topics"])
def test_build_from_the_repo_root_with_the_one_dockerfile(name: str) -> None:
    build = service(name)["build"]
    assert (ROOT / build["context"]).resolve() == ROOT
    assert build["dockerfile"] == "Dockerfile"
    assert (ROOT / build["dockerfile"]).is_file()
    member = {**dict.fromkeys(SIMULATORS, "simulators"), "topics": "inventory-adjuster"}
    port = {
        **{s: p for s, (_, p) in SIMULATORS.items()},
        "topics": SERVICE_PORTS["inventory-adjuster"],
    }
    args = build["args"]
    assert args["SERVICE"] == member.get(name, name)
    if name in SERVICE_PORTS:
        assert args["PORT"] == str(SERVICE_PORTS[name])
        assert args["MODULE"] == name.replace("-", "_")
        assert "SOURCE" not in args, "services/<name> is the default"
    elif name == "topics":
        assert args == service("inventory-adjuster")["build"]["args"], "the same image"
    else:  # one image for the three simulators; its default command runs the sink
        assert args["SOURCE"] == "simulators"
        assert args["PORT"] == str(port["sink"])


def test_one_image_tag_per_set_of_build_arguments() -> None:
    images: dict[str, set[str]] = {}
    for name, svc in compose()["services"].items():
        if "build" in svc:
            key = repr(sorted(svc["build"].get("args", {}).items()))
            images.setdefault(key, set()).add(svc.get("image", name))
    assert all(len(tags) == 1 for tags in images.values()), images
    tags = [next(iter(t)) for t in images.values()]
    assert len(tags) == len(set(tags)), "one tag never names two different builds"
    for name in SERVICE_PORTS:
        assert service(name)["image"].split(":")[0] == f"stocksync/{name}"


def test_third_party_images_are_pinned() -> None:
    for name, svc in compose()["services"].items():
        image = svc["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
        assert tag not in {None, "latest"}, f"{name}: {image}"


@pytest.mark.parametrize("name", [*SERVICE_PORTS, *SIMULATORS, "topics", "first-admin"])
def test_environment_names_are_real_settings(name: str) -> None:
    names = set(environment(name))
    assert all(n.startswith("STOCKSYNC_") for n in names), names
    unknown = names - allowed_env(name)
    assert unknown == set(), f"{name} sets variables nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", list(SERVICE_PORTS))
def test_settings_load_from_the_compose_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(name)
    use_environment(monkeypatch, env)
    settings = settings_class(name)()
    assert settings.environment == "development", "demo secrets only outside production"
    assert settings.http_host == ALL_INTERFACES
    assert settings.http_port == SERVICE_PORTS[name]
    _, advertised = kafka_listeners()
    assert settings.kafka_bootstrap_servers in {
        a for a in advertised.values() if a.startswith("kafka:")
    }, "the containers use the kafka listener advertised on the compose network"
    if name in NEEDS_REDIS:
        assert "STOCKSYNC_REDIS_URL" in env
        url = urlsplit(settings.redis_url.get_secret_value())
        assert (url.hostname, url.port) == ("redis", 6379)
    if name in NEEDS_STORES:
        assert settings.stores_file in bind_mounts(name), "the stores file is mounted"
    if name == "inventory-adjuster":
        assert "STOCKSYNC_ADMIN_TOKEN" in env
    if name == "webhook-receiver":
        assert "STOCKSYNC_WMS_WEBHOOK_SECRET" in env


@pytest.mark.parametrize("name", ["shopify-sim", *NEEDS_STORES])
def test_mounted_stores_file_loads_with_the_containers_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = stores_mount(name)
    assert path is not None and path.is_file(), f"{name} mounts no stores file"
    assert path == ROOT / "deploy" / "compose" / "stores.yaml"
    use_environment(monkeypatch, environment(name))
    stores = load_stores(path)
    assert stores.stores
    assert {s.base_url for s in stores.stores} == {"http://shopify-sim:8090"}
    parent = [s for s in stores.stores if s.role == "parent"]
    assert len(parent) == 1
    assert parent[0].access_token == SecretStr(environment(name)["STOCKSYNC_DEMO_PARENT_TOKEN"])


async def test_notifier_alerts_go_to_the_sink() -> None:
    url = urlsplit(environment("notifier")["STOCKSYNC_ALERT_WEBHOOK_URL"])
    sink_port = SIMULATORS["sink"][1]
    assert (url.scheme, url.hostname, url.port) == ("http", "sink", sink_port)
    transport = httpx.ASGITransport(app=create_sink_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sink.test") as client:
        posted = await client.post(url.path, json={"text": "low stock"})
        assert posted.status_code == 200
        recorded = (await client.get("/_sink/messages")).json()
    assert [m["path"] for m in recorded] == [url.path]


def test_wms_signing_key_is_the_same_on_both_ends() -> None:
    key = wms_sim_main.SIGNING_KEY_ENV
    assert environment("wms-sim")[key] == environment("webhook-receiver")[key]


# --- the simulators' command lines, through their own parsers ------------------------------


def run_main(
    name: str, main: Callable[[list[str]], None], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Run a simulator's main() with the compose command line; return uvicorn.run's kwargs."""
    argv = command(name)
    module, _ = SIMULATORS[name]
    assert argv[:3] == ["python", "-m", module]
    args = argv[3:]
    if "--stores-file" in args:  # the container path, mapped back to the file it mounts
        i = args.index("--stores-file") + 1
        args[i] = str(bind_mounts(name)[args[i]])
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    use_environment(monkeypatch, environment(name))
    main(args)
    assert len(calls) == 1
    return calls[0]


def webhook_target(name: str) -> tuple[str | None, int | None, str]:
    argv = command(name)
    url = urlsplit(argv[argv.index("--webhook-url") + 1])
    return url.hostname, url.port, url.path


def route_paths(router: APIRouter) -> set[str]:
    return {getattr(route, "path", "") for route in router.routes}


@pytest.mark.parametrize(
    ("name", "main"),
    [
        ("shopify-sim", shopify_sim_main.main),
        ("wms-sim", wms_sim_main.main),
        ("sink", sink_main.main),
    ],
)
def test_simulator_command_parses_and_listens_where_published(
    name: str, main: Callable[[list[str]], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    call = run_main(name, main, monkeypatch)
    port = SIMULATORS[name][1]
    assert call["host"] == ALL_INTERFACES
    assert call["port"] == port
    assert [p[2] for p in published_ports(name)] == [port]
    assert f"127.0.0.1:{port}/healthz" in " ".join(healthcheck_test(name))


@pytest.mark.parametrize(
    ("name", "router"), [("shopify-sim", shopify_router), ("wms-sim", wms_router)]
)
def test_simulator_webhooks_go_to_webhook_receiver_routes(name: str, router: APIRouter) -> None:
    host, port, path = webhook_target(name)
    assert host == "webhook-receiver"
    assert port == SERVICE_PORTS["webhook-receiver"]
    assert path in route_paths(router)


# --- health, dependencies, ports ----------------------------------------------------------------


@pytest.mark.parametrize("name", [*SERVICE_PORTS, *SIMULATORS])
def test_http_containers_have_a_python_healthcheck_on_their_port(name: str) -> None:
    test = healthcheck_test(name)
    assert test[:3] == ["CMD", "python", "-c"], "the images have python, not curl"
    code = test[3]
    compile(code, "<healthcheck>", "exec")
    port = SERVICE_PORTS.get(name) or SIMULATORS[name][1]
    assert re.search(rf"http://127\.0\.0\.1:{port}/(healthz|readyz)\b", code), code
    assert "$" not in code, "compose would interpolate it"


def test_infrastructure_healthchecks() -> None:
    kafka = " ".join(healthcheck_test("kafka"))
    assert re.search(r"/opt/kafka/bin/kafka-(broker-api-versions|topics)\.sh", kafka), kafka
    binds, _ = kafka_listeners()
    bootstrap = re.search(r"--bootstrap-server\s+\S+:(\d+)", kafka)
    assert bootstrap is not None
    assert f":{bootstrap.group(1)}" in binds.values(), "the healthcheck uses a real listener"
    assert healthcheck_test("redis")[1:] == ["redis-cli", "ping"]
    assert service("topics")["healthcheck"] == {"disable": True}, "a one-shot job"


@pytest.mark.parametrize("name", sorted(compose()["services"]))
def test_depends_on_uses_conditions_on_existing_services(name: str) -> None:
    depends = service(name).get("depends_on", {})
    assert isinstance(depends, dict), "long form, with conditions"
    for target, spec in depends.items():
        assert target in compose()["services"], target
        condition = spec["condition"]
        assert condition in {HEALTHY, STARTED, COMPLETED}, condition
        if condition == HEALTHY:
            assert not service(target).get("healthcheck", {}).get("disable"), target
            assert "test" in service(target)["healthcheck"], target
        if condition == COMPLETED:
            assert service(target).get("restart", "no") == "no", f"{target} must be one-shot"
    assert {t: s["condition"] for t, s in depends.items()} == EXPECTED_DEPENDS_ON.get(name, {})


def test_no_dependency_cycles() -> None:
    graph = {n: set(s.get("depends_on", {})) for n, s in compose()["services"].items()}
    done: set[str] = set()
    while graph.keys() - done:
        ready = {n for n in graph.keys() - done if graph[n] <= done}
        assert ready, f"cycle among {sorted(graph.keys() - done)}"
        done |= ready


def test_published_ports_are_unique_and_on_localhost() -> None:
    seen: dict[int, str] = {}
    for name in compose()["services"]:
        for ip, host_port, _ in published_ports(name):
            assert ip == "127.0.0.1", f"{name} publishes on {ip or 'every interface'}"
            assert host_port not in seen, f"{name} and {seen.get(host_port)} share {host_port}"
            seen[host_port] = name
    assert len(seen) >= len(SERVICE_PORTS) + len(SIMULATORS)


@pytest.mark.parametrize("name", list(SERVICE_PORTS))
def test_services_publish_their_http_port(name: str) -> None:
    port = SERVICE_PORTS[name]
    assert published_ports(name) == [("127.0.0.1", port, port)]
    assert environment(name)["STOCKSYNC_HTTP_PORT"] == str(port)


# --- infrastructure ------------------------------------------------------------------------------


def test_kafka_is_a_single_kraft_node_of_the_projects_version() -> None:
    image = service("kafka")["image"]
    repo, _, tag = image.partition(":")
    assert repo == "apache/kafka"
    assert re.fullmatch(r"4\.\d+\.\d+", tag), tag
    pom = ET.parse(ROOT / "scripts" / "infra" / "pom.xml")  # noqa: S314 - our own file
    version = pom.getroot().findtext(".//{*}properties/{*}kafka.version")
    assert tag == version, "the same Kafka as scripts/infra (pom.xml kafka.version)"

    env = environment("kafka")
    node = env["KAFKA_NODE_ID"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    binds, advertised = kafka_listeners()
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{node}@kafka{binds[controller]}"
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(binds) <= set(protocols)
    assert set(advertised) <= set(binds) - {controller}
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[key] == "1", key
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false", "the topics job creates them"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    host_ports = {host for _, host, _ in published_ports("kafka")}
    host_listener = [a for a in advertised.values() if a.startswith("localhost:")]
    assert [int(a.split(":")[1]) for a in host_listener] == sorted(host_ports)


def test_redis_is_append_only_on_a_named_volume() -> None:
    redis = service("redis")
    assert re.fullmatch(r"redis:7(\.\d+)*(-\w+)?", redis["image"])
    cmd = " ".join(command("redis"))
    assert "--appendonly yes" in cmd
    volumes = [v.split(":") for v in redis["volumes"]]
    assert ["redis-data", "/data"] in [v[:2] for v in volumes]
    assert "redis-data" in compose()["volumes"]


def test_topics_job_runs_the_topic_command_from_the_adjuster_image() -> None:
    topics = service("topics")
    assert command("topics") == ["python", "-m", "stocksync_common.topics", "create"]
    assert topics["image"] == service("inventory-adjuster")["image"]
    assert topics["restart"] == "no"
    env = environment("topics")
    assert (
        env["STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS"]
        == environment("webhook-receiver")["STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS"]
    )
    assert int(env["STOCKSYNC_TOPIC_REPLICATION_FACTOR"]) == 1, "one broker"


def test_first_admin_job_runs_bootstrap_admin_from_the_consoles_image(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = service("first-admin")
    assert command("first-admin") == [
        "python", "-m", "stocksync_common.accounts.cli", "bootstrap-admin",
    ]  # fmt: skip
    assert job["image"] == service("ops-console")["image"]
    assert job["build"] == service("ops-console")["build"]
    assert job["restart"] == "no" and job["healthcheck"] == {"disable": True}
    env = environment("first-admin")
    assert env["STOCKSYNC_REDIS_URL"] == environment("ops-console")["STOCKSYNC_REDIS_URL"]
    # the shell's password, else the local run's (scripts/up.sh)
    assert env[FIRST_ADMIN_ENV] == "${STOCKSYNC_FIRST_ADMIN_PASSWORD:-dev-admin-password}"
    use_environment(monkeypatch, env)
    assert UsersSettings().environment == "development"


# --- ops console and monitoring -------------------------------------------------------------------


def test_ops_console_reaches_every_service_on_its_compose_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its one setting (written by scripts/generate_deploy.py) names every other service."""
    env = environment("ops-console")
    use_environment(monkeypatch, env)
    urls = ConsoleSettings().backend_urls()
    assert list(urls) == [name for name in SERVICE_PORTS if name != "ops-console"]
    for name, raw in urls.items():
        url = urlsplit(raw)
        assert (url.scheme, url.hostname, url.port) == ("http", name, SERVICE_PORTS[name]), name
    assert (
        env["STOCKSYNC_ADMIN_TOKEN"] == environment("inventory-adjuster")["STOCKSYNC_ADMIN_TOKEN"]
    )


@pytest.mark.parametrize("name", list(MONITORING_SERVICES))
def test_monitoring_mounts_files_that_exist(name: str) -> None:
    mounts = bind_mounts(name)
    assert mounts, f"{name} mounts nothing from the repository"
    for target, source in mounts.items():
        assert source.exists(), f"{name}: {source} (for {target}) is missing"
        assert source.is_relative_to(MONITORING), source
    port = MONITORING_SERVICES[name]
    assert published_ports(name) == [("127.0.0.1", port, port)]
    assert re.search(rf"http://127\.0\.0\.1:{port}/", " ".join(healthcheck_test(name)))


def test_prometheus_loads_the_projects_config_and_rules() -> None:
    mounts = bind_mounts("prometheus")
    argv = command("prometheus")
    config_path = next(a.split("=", 1)[1] for a in argv if a.startswith("--config.file="))
    assert mounts[config_path] == MONITORING / "prometheus.yml"
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config_dir = Path(config_path).parent
    for pattern in config["rule_files"]:
        rules_dir = (config_dir / pattern).parent
        assert mounts.get(str(rules_dir)) == MONITORING / Path(pattern).parent
        assert list((MONITORING / Path(pattern).parent).glob(Path(pattern).name))


def test_prometheus_scrapes_each_compose_service_where_it_listens() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets = {
        t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    for name, port in SERVICE_PORTS.items():
        assert f"{name}:{port}" in targets, name
        assert environment(name)["STOCKSYNC_HTTP_PORT"] == str(port)


def test_grafana_provisions_the_datasource_and_the_dashboards() -> None:
    mounts = bind_mounts("grafana")
    provisioning = mounts["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    url = urlsplit(datasource["datasources"][0]["url"])
    assert (url.hostname, url.port) == ("prometheus", MONITORING_SERVICES["prometheus"])
    providers = yaml.safe_load((provisioning / "dashboards" / "stocksync.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    assert path in mounts, "the provider reads a directory that is mounted"
    dashboards = sorted(p.name for p in mounts[path].glob("*.json"))
    assert len(dashboards) == 3, dashboards
    home = environment("grafana").get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", "")
    assert Path(home).parent == Path(path) and Path(home).name in dashboards
