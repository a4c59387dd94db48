"""Adding a service the documented way (docs/architecture.md, "Adding a service") is enough.

A copy of the workspace's manifests, Dockerfile, compose file and deploy tree gets a ninth
service, ``price-watch``, as the steps say: one package (``pyproject.toml`` with its
``stocksync.groups`` entry point, ``settings.py``, a minimal ``bootstrap.py``), one compose
entry and one kustomize entry (``deploy/k8s/base/price-watch.yaml``, one annotation: shown
on the ops console; the other facts' defaults). "Installing" it is what ``uv sync`` does for
an editable member: its ``src`` and its entry points on the path. Then the commands the steps
name run on the copy, and every list that names the services must name it too: nothing was
written by hand besides the three.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from unit.deploy.test_dockerfiles import (
    EXPANDED,
    declared_args,
    dockerignore,
    in_build_context,
    render,
    unresolved,
)
from unit.deploy.test_k8s import renderer
from unit.deploy.test_k8s_production import resource_patches, spread_and_resources

import generate_deploy
import workspace
from ops_console.settings import Settings as ConsoleSettings
from stocksync_common import topics

ROOT = Path(__file__).resolve().parents[3]
NAME, MODULE, PORT, GROUP = "price-watch", "price_watch", 8087, "price-watch"
READS = "inventory.changed.v1"
DOES = "watches prices against\n  the stock"

PYPROJECT = f"""\
[project]
name = "stocksync-{NAME}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["stocksync-common"]

[project.scripts]
stocksync-{NAME} = "{MODULE}.__main__:main"

[project.entry-points."stocksync.groups"]
{NAME} = "{MODULE}.bootstrap:groups"

[tool.stocksync.readme]
does = '''
{DOES}
'''
produces = ["price alerts"]

[build-system]
requires = ["uv_build>=0.9,<0.20"]
build-backend = "uv_build"

[tool.uv.build-backend]
module-name = "{MODULE}"
"""
SETTINGS = f"""\
from stocksync_common.settings import CommonSettings


class Settings(CommonSettings):
    service_name: str = "{NAME}"
    http_port: int = {PORT}
    consumer_group: str = "{GROUP}"
"""
BOOTSTRAP = f"""\
from typing import Any

from stocksync_common.runtime import Consumer, Service, registrar

from {MODULE}.settings import Settings


def build() -> None:
    return None


def service(settings: Settings) -> Service[Any]:
    handle: Any = None
    consumer = Consumer(settings.consumer_group, ("{READS}",), handle)
    return Service(settings=settings, build=build, consumers=[consumer])


groups = registrar(service, Settings)
"""
COMPOSE_ENTRY = f"""\
  {NAME}:
    <<: *service
    build:
      context: .
      dockerfile: Dockerfile
      args: {{SERVICE: {NAME}, MODULE: {MODULE}, PORT: "{PORT}"}}
    image: stocksync/{NAME}:dev
    environment:
      <<: [*service-env, *redis-env]
      STOCKSYNC_HTTP_PORT: "{PORT}"
    ports:
      - "127.0.0.1:{PORT}:{PORT}"

"""


def add_the_package(root: Path) -> None:
    folder = root / "services" / NAME
    package = folder / "src" / MODULE
    package.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(SETTINGS)
    (package / "bootstrap.py").write_text(BOOTSTRAP)


def add_the_compose_entry(root: Path) -> None:
    compose = root / "docker-compose.yml"
    text = compose.read_text()
    assert text.count("\n  ops-console:\n") == 1
    compose.write_text(
        text.replace("\n  ops-console:\n", "\n" + COMPOSE_ENTRY + "  ops-console:\n")
    )


def add_the_kustomize_entry(root: Path) -> None:
    """A copy of the notifier's file, renamed, on its own port, with one deploy fact: it is
    shown on the console (the other facts' defaults hold)."""
    text = (root / "deploy/k8s/base/notifier.yaml").read_text()
    text = text.replace("notifier", NAME).replace("8085", str(PORT))
    text = "\n".join(line for line in text.splitlines() if "stocksync.io/" not in line) + "\n"
    doc = [d for d in yaml.safe_load_all(text) if d][0]
    doc["metadata"]["annotations"] = {"stocksync.io/console": "true"}
    service = [d for d in yaml.safe_load_all(text) if d][1]
    (root / f"deploy/k8s/base/{NAME}.yaml").write_text(yaml.safe_dump_all([doc, service]))


def install(root: Path, site: Path) -> list[str]:
    """What ``uv sync`` does for the new member: its ``src`` and its entry points importable."""
    manifest = tomllib.loads((root / "services" / NAME / "pyproject.toml").read_text())
    info = site / f"stocksync_{MODULE}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: stocksync-{NAME}\nVersion: 0.1.0\n"
    )
    points = manifest["project"]["entry-points"]["stocksync.groups"]
    lines = [f"{k} = {v}" for k, v in points.items()]
    (info / "entry_points.txt").write_text("[stocksync.groups]\n" + "\n".join(lines) + "\n")
    return [str(root / "services" / NAME / "src"), str(site)]


def forget_caches() -> None:
    topics.registered_services.cache_clear()
    topics.registered.cache_clear()
    generate_deploy._topics_generator.cache_clear()


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The workspace with the ninth service added the documented way, its commands run."""
    root = tmp_path_factory.mktemp("workspace")
    for name in ("pyproject.toml", "uv.lock", "Dockerfile", ".dockerignore", "docker-compose.yml",
                 "README.md"):  # fmt: skip
        shutil.copy2(ROOT / name, root / name)
    for member in workspace.members():
        (root / member.folder).mkdir(parents=True)
        shutil.copy2(ROOT / member.folder / "pyproject.toml", root / member.folder)
    shutil.copytree(ROOT / "deploy", root / "deploy", ignore=shutil.ignore_patterns("__pycache__"))
    add_the_package(root)
    add_the_compose_entry(root)
    add_the_kustomize_entry(root)
    paths = install(root, root.parent / f"{root.name}-site")
    sys.path[:0] = paths
    forget_caches()
    try:
        # The steps' commands (`uv lock` aside: the lock is checked in test_workspace.py).
        assert workspace.main([], root=root) == 0
        k8s = root / "deploy" / "k8s"
        generator = generate_deploy._topics_generator(root)
        assert generator.main(
            [
                "--output", str(k8s / "overlays/production/topics.yaml"),
                "--users-output", str(k8s / "overlays/production/users.yaml"),
                "--all-topics", str(k8s / "base/all-topics.yaml"),
            ]
        ) == 0  # fmt: skip
        assert generate_deploy.main([], root=root) == 0
        yield root
    finally:
        for path in paths:
            sys.path.remove(path)
        for module in [m for m in sys.modules if m == MODULE or m.startswith(f"{MODULE}.")]:
            del sys.modules[module]
        forget_caches()


def docs(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    found = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in found}


def ports(rule: dict[str, Any]) -> set[int]:
    return {p["port"] for p in rule.get("ports", [])}


def test_the_workspace_knows_it_and_its_commands_have_nothing_left_to_do(copy: Path) -> None:
    found = {s.name: s for s in workspace.services(copy)}
    assert (found[NAME].module, found[NAME].port) == (MODULE, PORT), "stack.Ports, SERVICE_PORTS"
    assert workspace.main(["--check"], root=copy) == 0
    assert generate_deploy.main(["--check"], root=copy) == 0
    mypy_path = tomllib.loads((copy / "pyproject.toml").read_text())["tool"]["mypy"]["mypy_path"]
    assert f"$MYPY_CONFIG_FILE_DIR/services/{NAME}/src" in mypy_path.split(":")
    original = (ROOT / "pyproject.toml").read_text()
    changed = (copy / "pyproject.toml").read_text()
    assert [a for a in changed.splitlines() if a not in original.splitlines()] == [
        f'mypy_path = "{mypy_path}"'
    ], "the only change to the root manifest is the written mypy_path"


def test_its_image_builds_from_the_one_dockerfile(copy: Path) -> None:
    rules = dockerignore()
    for path in (f"services/{NAME}/pyproject.toml", f"services/{NAME}/src/{MODULE}/settings.py"):
        assert in_build_context(path, rules), path  # the manifests stage keeps the first
    build = yaml.safe_load((copy / "docker-compose.yml").read_text())["services"][NAME]["build"]
    text = (copy / "Dockerfile").read_text()
    assert {a for a, default in declared_args(text).items() if default is None} <= set(
        build["args"]
    )
    stages = render(text, {str(k): str(v) for k, v in build["args"].items()})
    assert not {
        v
        for s in stages
        for i in s.instructions
        if i.keyword in EXPANDED
        for v in unresolved(i.args)
    }
    assert (copy / f"services/{NAME}/src").is_dir(), "COPY ${SOURCE}/src"


def console_services(env: str) -> dict[str, str]:
    urls: dict[str, str] = ConsoleSettings(console_services=json.loads(env)).backend_urls()
    return urls


def test_the_console_shows_it_in_kubernetes_compose_and_the_local_run(copy: Path) -> None:
    console = docs(copy / "deploy/k8s/base/ops-console.yaml")[("Deployment", "ops-console")]
    [container] = console["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    urls = console_services(env[generate_deploy.CONSOLE_SETTING])
    assert urls[NAME] == f"http://{NAME}:{PORT}", "its Service"
    assert list(urls)[-1] == NAME, "in the order of the ports (the notifier's 8085 before)"
    compose = yaml.safe_load((copy / "docker-compose.yml").read_text())["services"]
    compose_env = compose["ops-console"]["environment"]
    assert console_services(compose_env[generate_deploy.CONSOLE_SETTING]) == urls
    assert generate_deploy.shown_on_console(copy)[-1] == NAME, "what scripts/stack.py sets"
    assert "ops-console" not in urls


def test_its_pdb_and_network_policy_and_the_consoles_way_to_it(copy: Path) -> None:
    base = copy / "deploy/k8s/base"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    assert f"{NAME}.yaml" in kustomization["resources"]
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "stocksync"}
    pdb = docs(base / "pdb.yaml")[("PodDisruptionBudget", NAME)]
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": labels}}
    policies = docs(base / "networkpolicies.yaml")
    spec = policies[("NetworkPolicy", NAME)]["spec"]
    assert spec["podSelector"] == {"matchLabels": labels}
    [ingress] = spec["ingress"]
    assert ports(ingress) == {PORT}
    assert {"podSelector": {}} in ingress["from"], "this namespace; never the internet"
    assert set().union(*(ports(r) for r in spec["egress"])) == {53, 9092, 6379}
    console = policies[("NetworkPolicy", "ops-console")]["spec"]["egress"]
    assert any(PORT in ports(rule) for rule in console), "the console may reach its admin API"


def test_it_scales_on_its_lag_and_runs_in_every_overlay(copy: Path) -> None:
    k8s = copy / "deploy/k8s"
    scaled = docs(k8s / "components/keda/scaledobjects.yaml")[("ScaledObject", NAME)]["spec"]
    triggers = {
        (t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in scaled["triggers"]
    }
    assert triggers == {(GROUP, READS)}
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (2, 24)
    hpa = docs(k8s / "components/hpa/hpa.yaml")[("HorizontalPodAutoscaler", NAME)]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 24)
    for overlay, count, tag in (("production", 2, "0.1.0"), ("local", 1, "dev")):
        k = yaml.safe_load((k8s / "overlays" / overlay / "kustomization.yaml").read_text())
        assert {"name": NAME, "count": count} in k["replicas"], overlay
        assert {"name": f"stocksync/{NAME}", "newTag": tag} in k["images"], overlay
    prometheus = yaml.safe_load((copy / "deploy/monitoring/prometheus.yml").read_text())
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in prometheus["scrape_configs"]}
    assert jobs[f"stocksync-{NAME}"] == [f"{NAME}:{PORT}"]


def test_production_gives_it_the_default_resources_spread_over_nodes(copy: Path) -> None:
    patches = resource_patches(copy / "deploy/k8s/overlays/production")
    assert patches[NAME] == spread_and_resources(NAME, "250m")
    assert "ops-console" not in patches and patches["webhook-receiver"][0]["value"] == {
        "requests": {"cpu": "500m", "memory": "256Mi"},
        "limits": {"memory": "512Mi"},
    }, "the others' unchanged"


def test_the_readme_lists_it_and_check_fails_while_the_table_is_stale(copy: Path) -> None:
    readme = copy / "README.md"
    text = readme.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    row = f"| `{NAME}` | {PORT} | watches prices against the stock | `{READS}` | price alerts |"
    assert rows[-1] == row, "in the order of the ports, its text on one line"
    assert rows[-2].startswith("| `ops-console` | 8086 |")
    readme.write_text(text.replace(row, row.replace("watches", "watched")))
    try:
        assert generate_deploy.main(["--check"], root=copy) == 1
    finally:
        readme.write_text(text)
    assert generate_deploy.main(["--check"], root=copy) == 0


def test_its_topics_and_kafka_user(copy: Path) -> None:
    production = copy / "deploy/k8s/overlays/production"
    user = docs(production / "users.yaml")[("KafkaUser", f"stocksync-{NAME}")]
    acls = {
        (a["resource"]["type"], a["resource"].get("name"))
        for a in user["spec"]["authorization"]["acls"]
    }
    assert ("group", GROUP) in acls and ("topic", f"{READS}.retry.{GROUP}") in acls
    names = {d["spec"]["topicName"] for d in docs(production / "topics.yaml").values()}
    assert {f"{READS}.retry.{GROUP}", f"{READS}.dlq.{GROUP}"} <= names
    assert f"{READS}.dlq.{GROUP}" in (copy / "deploy/k8s/base/all-topics.yaml").read_text()


def test_production_renders_it_covered(copy: Path) -> None:
    command = renderer()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is on PATH; the static checks above ran")
    done = subprocess.run(
        [*command, str(copy / "deploy/k8s/overlays/production")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rendered = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(done.stdout) if d}
    assert rendered[("Deployment", NAME)]["spec"]["replicas"] == 2
    for kind in ("Service", "PodDisruptionBudget", "NetworkPolicy", "ScaledObject", "KafkaUser"):
        key = (kind, f"stocksync-{NAME}" if kind == "KafkaUser" else NAME)
        assert key in rendered, key
