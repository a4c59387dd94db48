"""deploy/k8s (kustomize base and overlays), checked without a cluster.

Every manifest is parsed with PyYAML and held against the code: environment names against each
service's ``Settings``, the settings are loaded from what a pod would get (ConfigMap, explicit
values and placeholders for Secret references), and the stores ConfigMap is loaded with
``load_stores``. When ``kustomize`` or ``kubectl`` is on PATH, each kustomization is rendered.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from unit.deploy.contract import SERVICE_PORTS

from stocksync_common.accounts.cli import FIRST_ADMIN_ENV, UsersSettings
from stocksync_common.settings import CommonSettings
from stocksync_common.stores import ACCESS_TOKEN, WEBHOOK_SECRET, load_stores
from stocksync_common.topics import TopicsSettings, registered_services

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))
KUSTOMIZATIONS = [BASE, *OVERLAYS]
KUSTOMIZATION_IDS = [k.relative_to(K8S).as_posix() for k in KUSTOMIZATIONS]
COMPONENTS = sorted(p.parent for p in (K8S / "components").glob("*/kustomization.yaml"))
COMPONENT_IDS = [c.relative_to(K8S).as_posix() for c in COMPONENTS]
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a container listens on all of its interfaces

STORE_READERS = ("webhook-receiver", "order-consumer", "shopify-sync")
SECRET_NAME = "stocksync-secrets"
REDIS_USER_SECRET = "stocksync-redis-"  # + the service: its own Redis ACL user's URL
# A Job that logs in to Redis as a service's user: the first admin is made in the accounts
# store, the ops console's keys.
REDIS_USER_OF = {"stocksync-first-admin": "ops-console"}
# the first admin's password: a Secret of its own, for the first install only (optional)
FIRST_ADMIN_SECRET = "stocksync-first-admin"
# The stores' credentials, split so that each service gets only what it reads: the Secret's
# name -> the stores-file fields whose env:NAME keys it holds.
STORE_SECRETS = {
    "stocksync-store-tokens": ("access_token",),
    "stocksync-store-webhook-secrets": ("webhook_secret", "webhook_secret_previous"),
}
# Each store reader: the Secret it imports (None: none) and the secrets its code reads.
STORE_READER_SECRETS: dict[str, tuple[str | None, frozenset[str]]] = {
    "webhook-receiver": ("stocksync-store-webhook-secrets", frozenset({WEBHOOK_SECRET})),
    "order-consumer": (None, frozenset()),
    "shopify-sync": ("stocksync-store-tokens", frozenset({ACCESS_TOKEN})),
}
# Secrets Strimzi writes: each KafkaUser's password (stocksync-<service>), the cluster's CA;
# and the CA of Redis's certificate, which the platform team stores.
KAFKA_CA_SECRET = "stocksync-cluster-ca-cert"
REDIS_CA_SECRET = "stocksync-redis-ca"
KAFKA_USER = re.compile(r"stocksync-[a-z-]+")
SECRET_LIKE = re.compile(r"TOKEN|SECRET|PASSWORD|CREDENTIAL|WEBHOOK_URL|API_KEY")
KNOWN_KINDS = {
    ("v1", "ConfigMap"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "Job"),
    ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    ("kafka.strimzi.io/v1beta2", "KafkaUser"),
}
# Kinds that need a CRD: never in the base, which must apply to a bare cluster.
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "PodMonitor", "KafkaTopic", "KafkaUser"}
KUSTOMIZATION_API = "kustomize.config.k8s.io/v1beta1"
COMPONENT_API = "kustomize.config.k8s.io/v1alpha1"


# --- reading the kustomizations ---------------------------------------------------------------


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert all(isinstance(doc, dict) for doc in docs), path
    return docs


@cache
def kustomization(folder: Path) -> dict[str, Any]:
    doc = yaml_docs(folder / "kustomization.yaml")
    assert len(doc) == 1
    return doc[0]


def generator_files(folder: Path) -> list[Path]:
    k = kustomization(folder)
    files: list[Path] = []
    for gen in k.get("configMapGenerator", []) + k.get("secretGenerator", []):
        files += [folder / e for e in gen.get("envs", [])]
        files += [folder / f.split("=", 1)[-1] for f in gen.get("files", [])]
    return files


@cache
def resource_docs(folder: Path) -> list[dict[str, Any]]:
    """The manifests a kustomization lists, following resource folders (not rendered)."""
    docs: list[dict[str, Any]] = []
    k = kustomization(folder)
    for entry in [*k.get("resources", []), *k.get("components", [])]:
        path = (folder / entry).resolve()
        docs += resource_docs(path) if path.is_dir() else yaml_docs(path)
    return docs


def read_env_file(path: Path) -> dict[str, str]:
    data: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path}: {line!r} is not KEY=value"
            data[key.strip()] = value.strip()
    return data


@cache
def config_maps(folder: Path) -> dict[str, dict[str, str]]:
    """Generated ConfigMaps (name -> data) of a kustomization, overlays merged onto bases."""
    maps: dict[str, dict[str, str]] = {}
    for entry in kustomization(folder).get("resources", []):
        path = (folder / entry).resolve()
        if path.is_dir():
            maps.update(config_maps(path))
    for gen in kustomization(folder).get("configMapGenerator", []):
        data: dict[str, str] = {}
        for env_file in gen.get("envs", []):
            data.update(read_env_file(folder / env_file))
        for literal in gen.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        for file_entry in gen.get("files", []):
            key, _, file_name = file_entry.rpartition("=")
            data[key or PurePosixPath(file_name).name] = (folder / file_name).read_text()
        behavior = gen.get("behavior", "create")
        if behavior == "merge":
            assert gen["name"] in maps, f"merge into unknown ConfigMap {gen['name']}"
            maps[gen["name"]] = {**maps[gen["name"]], **data}
        else:
            assert (behavior == "replace") == (gen["name"] in maps), gen["name"]
            maps[gen["name"]] = data
    for doc in resource_docs(folder):
        if doc["kind"] == "ConfigMap":
            maps[doc["metadata"]["name"]] = dict(doc.get("data", {}))
    return maps


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def deployments() -> dict[str, dict[str, Any]]:
    return of_kind(resource_docs(BASE), "Deployment")


def jobs() -> dict[str, dict[str, Any]]:
    return of_kind(resource_docs(BASE), "Job")


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str
    settings: str  # the service whose Settings the container loads, or "common"

    @property
    def doc(self) -> dict[str, Any]:
        return (deployments() if self.kind == "Deployment" else jobs())[self.name]

    @property
    def pod(self) -> dict[str, Any]:
        spec = self.doc["spec"]["template"]["spec"]
        assert isinstance(spec, dict)
        return spec

    @property
    def container(self) -> dict[str, Any]:
        containers = self.pod["containers"]
        assert len(containers) == 1
        assert isinstance(containers[0], dict)
        return containers[0]


SERVICE_WORKLOADS = [Workload(name, "Deployment", name) for name in SERVICE_PORTS]
FIRST_ADMIN = Workload("stocksync-first-admin", "Job", "users")
WORKLOADS = [*SERVICE_WORKLOADS, Workload("stocksync-topics", "Job", "common"), FIRST_ADMIN]
# the image each Job runs (a Deployment runs its own)
JOB_IMAGES = {"stocksync-topics": "inventory-adjuster", FIRST_ADMIN.name: "ops-console"}


def settings_class(service: str) -> type[CommonSettings]:
    if service == "common":
        return TopicsSettings  # the Job runs stocksync-topics
    if service == "users":
        return UsersSettings  # the Job runs stocksync-users
    module = importlib.import_module(f"{service.replace('-', '_')}.settings")
    cls = module.Settings
    assert isinstance(cls, type) and issubclass(cls, CommonSettings)
    return cls


def env_names(cls: type[CommonSettings]) -> set[str]:
    return {f"STOCKSYNC_{field.upper()}" for field in cls.model_fields}


def stores_file_data() -> str:
    return config_maps(BASE)["stocksync-stores"]["stores.yaml"]


def stores_env_refs(fields: tuple[str, ...] = ("access_token", "webhook_secret",
                                              "webhook_secret_previous")) -> set[str]:  # fmt: skip
    """The ``NAME`` of every ``env:NAME`` the stores file gives to ``fields``."""
    refs = set()
    for store in yaml.safe_load(stores_file_data())["stores"]:
        for field in fields:
            value = str(store.get(field, ""))
            if value.startswith("env:"):
                refs.add(value.removeprefix("env:"))
    return refs


def env_from(container: dict[str, Any], ref: str) -> list[str]:
    return [e[ref]["name"] for e in container.get("envFrom", []) if ref in e]


def fake_secret(name: str) -> str:
    """What a Secret would hold for ``name``: as long as production asks (32+ characters);
    the Redis URL as production asks it (TLS, an ACL user and its password)."""
    if name == "STOCKSYNC_REDIS_URL":
        return f"rediss://stocksync:{'x' * 32}@stocksync-redis:6379/0"
    return f"secret-{name.lower()}".ljust(40, "x")


def pod_environment(workload: Workload, folder: Path) -> dict[str, str]:
    """What the container's process sees, with a placeholder for every Secret value."""
    maps = config_maps(folder)
    container = workload.container
    env: dict[str, str] = {}
    for name in env_from(container, "configMapRef"):
        env.update(maps[name])
    for secret in env_from(container, "secretRef"):
        env.update({ref: fake_secret(ref) for ref in stores_env_refs(STORE_SECRETS[secret])})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif not item["valueFrom"].get("secretKeyRef", {}).get("optional", False):
            env[item["name"]] = fake_secret(item["name"])
    return env


def resolve_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container["ports"] if "name" in p}
    assert port in named, f"no container port named {port}"
    value = named[port]
    assert isinstance(value, int)
    return value


def memory_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}
    match = re.fullmatch(r"(\d+)([A-Za-z]*)", quantity)
    assert match is not None and match.group(2) in {"", *units}, quantity
    return int(match.group(1)) * units.get(match.group(2), 1)


def walk(node: object) -> Iterator[dict[str, Any]]:
    """Every mapping in a parsed document, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def use_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in list(os.environ):
        if key.startswith("STOCKSYNC_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


# --- files and kustomizations -----------------------------------------------------------------


def test_every_yaml_file_is_a_known_manifest_or_a_generator_input() -> None:
    listed: set[Path] = set()
    for folder in [*KUSTOMIZATIONS, *COMPONENTS]:
        listed.add(folder / "kustomization.yaml")
        listed.update(generator_files(folder))
        listed.update(
            (folder / r).resolve()
            for r in kustomization(folder).get("resources", [])
            if (folder / r).is_file()
        )
    listed = {p.resolve() for p in listed}
    inputs = {p.resolve() for folder in KUSTOMIZATIONS for p in generator_files(folder)}
    for path in sorted(K8S.rglob("*.y*ml")):
        assert path.resolve() in listed, f"{path} is used by nothing"
        if path.name == "kustomization.yaml" or path.resolve() in inputs:
            continue
        for doc in yaml_docs(path):
            assert (doc.get("apiVersion"), doc.get("kind")) in KNOWN_KINDS, path
            assert doc["metadata"]["name"]


@pytest.mark.parametrize(
    "folder", [*KUSTOMIZATIONS, *COMPONENTS], ids=[*KUSTOMIZATION_IDS, *COMPONENT_IDS]
)
def test_kustomization_references_exist(folder: Path) -> None:
    k = kustomization(folder)
    if folder in COMPONENTS:
        assert (k["apiVersion"], k["kind"]) == (COMPONENT_API, "Component")
    else:
        assert (k["apiVersion"], k["kind"]) == (KUSTOMIZATION_API, "Kustomization")
    assert k.get("resources"), "a kustomization with nothing in it"
    for entry in k["resources"]:
        path = (folder / entry).resolve()
        assert path.is_file() or (path / "kustomization.yaml").is_file(), entry
    for entry in k.get("components", []):
        path = (folder / entry).resolve()
        assert path in COMPONENTS, entry
    for path in generator_files(folder):
        assert path.is_file(), path
    assert "secretGenerator" not in k, "the platform team creates the Secret"


def test_the_base_needs_no_custom_resource_definitions() -> None:
    kinds = {doc["kind"] for doc in resource_docs(BASE)}
    assert kinds & CRD_KINDS == set(), "CRD kinds go in a component or an overlay"


@pytest.mark.parametrize("folder", OVERLAYS, ids=KUSTOMIZATION_IDS[1:])
def test_overlays_build_on_the_base(folder: Path) -> None:
    k = kustomization(folder)
    assert (folder / "../../base").resolve() in [(folder / r).resolve() for r in k["resources"]]
    names = set(deployments())
    assert {r["name"] for r in k.get("replicas", [])} <= names
    base_images = {w.container["image"].split(":")[0] for w in WORKLOADS}
    for image in k.get("images", []):
        assert image["name"] in base_images, image
        assert image.get("newTag") not in {None, "latest"}, image


def test_local_overlay_runs_one_replica_of_each_and_the_dev_images() -> None:
    k = kustomization(K8S / "overlays" / "local")
    assert {(r["name"], r["count"]) for r in k["replicas"]} == {(n, 1) for n in SERVICE_PORTS}
    assert {(i["name"], i["newTag"]) for i in k["images"]} == {
        (f"stocksync/{n}", "dev") for n in SERVICE_PORTS
    }, "the tags docker-compose.yml builds"
    config = config_maps(K8S / "overlays" / "local")["stocksync-config"]
    assert config["STOCKSYNC_ENVIRONMENT"] == "development"
    assert config["STOCKSYNC_TOPIC_REPLICATION_FACTOR"] == "1"
    # one broker: the base's 2 would refuse every write
    assert config["STOCKSYNC_TOPIC_MIN_INSYNC_REPLICAS"] == "1"


# --- Deployments and Services -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(SERVICE_PORTS))
def test_each_service_has_its_file_with_a_deployment_and_a_service(name: str) -> None:
    path = BASE / f"{name}.yaml"
    assert f"{name}.yaml" in kustomization(BASE)["resources"], (
        f"deploy/k8s/base: add {name}.yaml (Deployment and Service) to kustomization.yaml"
    )
    docs = yaml_docs(path)
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == [
        ("Deployment", name),
        ("Service", name),
    ]


@pytest.mark.parametrize("workload", SERVICE_WORKLOADS, ids=lambda w: w.name)
def test_deployment_selects_its_pods_and_the_service_targets_the_http_port(
    workload: Workload,
) -> None:
    spec = workload.doc["spec"]
    selector = spec["selector"]["matchLabels"]
    assert selector["app.kubernetes.io/name"] == workload.name
    labels = spec["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    container = workload.container
    assert container["name"] == workload.name
    port = SERVICE_PORTS[workload.name]
    assert [p["containerPort"] for p in container["ports"]] == [port]
    svc = of_kind(yaml_docs(BASE / f"{workload.name}.yaml"), "Service")[workload.name]
    assert svc["spec"]["selector"] == selector
    [svc_port] = svc["spec"]["ports"]
    assert resolve_port(container, svc_port["targetPort"]) == port
    annotations = spec["template"]["metadata"].get("annotations", {})
    if "prometheus.io/port" in annotations:
        assert annotations["prometheus.io/port"] == str(port)


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_images_are_the_services_images_at_the_project_version(workload: Workload) -> None:
    repo, _, tag = workload.container["image"].partition(":")
    service = workload.name if workload.kind == "Deployment" else JOB_IMAGES[workload.name]
    assert repo == f"stocksync/{service}", "image names are the service names"
    manifest = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
    assert tag == manifest["project"]["version"]


@pytest.mark.parametrize("workload", SERVICE_WORKLOADS, ids=lambda w: w.name)
def test_probes_liveness_healthz_readiness_readyz_on_the_container_port(
    workload: Workload,
) -> None:
    container = workload.container
    port = SERVICE_PORTS[workload.name]
    expected = {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
        "startupProbe": "/healthz",
    }
    for probe, path in expected.items():
        if probe == "startupProbe" and probe not in container:
            continue
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert resolve_port(container, get["port"]) == port, probe


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_resources_are_requested_and_memory_is_limited(workload: Workload) -> None:
    resources = workload.container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]
    assert memory_bytes(resources["requests"]["memory"]) <= memory_bytes(
        resources["limits"]["memory"]
    )


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_pods_run_non_root_read_only_without_capabilities(workload: Workload) -> None:
    pod = workload.pod
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001, "the images' USER"
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod.get("automountServiceAccountToken") is False
    sc = workload.container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["readOnlyRootFilesystem"] is True
    dockerfile = ROOT / "Dockerfile"  # every image, built with its arguments
    if workload.kind == "Deployment":
        mounts = {m["mountPath"]: m["name"] for m in workload.container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], "a writable /tmp"  # noqa: S108
    user = re.findall(r"^USER\s+(\d+)", dockerfile.read_text(), flags=re.MULTILINE)
    assert user[-1:] == [str(pod["securityContext"]["runAsUser"])]


# --- settings, ConfigMaps and the Secret ------------------------------------------------------


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_environment_names_are_real_settings(workload: Workload) -> None:
    container = workload.container
    allowed = env_names(settings_class(workload.settings))
    if workload.name in STORE_READERS:
        allowed |= stores_env_refs()
    if workload == FIRST_ADMIN:
        allowed.add(FIRST_ADMIN_ENV)  # read by bootstrap-admin, not a setting
    names = {item["name"] for item in container.get("env", [])}
    for name in env_from(container, "configMapRef"):
        names |= set(config_maps(BASE)[name])
    unknown = names - allowed
    assert unknown == set(), f"{workload.name}: nothing reads {sorted(unknown)}"
    assert names, "no settings at all"


def test_shared_config_does_not_override_a_services_own_default() -> None:
    classes = [settings_class(name) for name in SERVICE_PORTS]
    for key in config_maps(BASE)["stocksync-config"]:
        field = key.removeprefix("STOCKSYNC_").lower()
        defaults = {repr(cls.model_fields[field].default) for cls in classes}
        assert len(defaults) == 1, f"{key} would override the services' defaults {defaults}"


def test_no_secret_values_anywhere() -> None:
    docs = [*resource_docs(BASE)]
    for folder in KUSTOMIZATIONS:
        for key in [*config_maps(folder)["stocksync-config"]]:
            assert not SECRET_LIKE.search(key), f"{key} belongs in the Secret"
    for node in walk(docs):
        name = node.get("name")
        if isinstance(name, str) and ("value" in node or "valueFrom" in node):
            if SECRET_LIKE.search(name) or name == "STOCKSYNC_REDIS_URL":
                assert "value" not in node, f"{name} has a literal value"
                ref = node["valueFrom"]["secretKeyRef"]
                if name == "STOCKSYNC_KAFKA_PASSWORD":  # the workload's KafkaUser's Secret
                    assert KAFKA_USER.fullmatch(ref["name"]) and ref["key"] == "password"
                elif name == "STOCKSYNC_REDIS_URL":  # the workload's Redis user's Secret
                    assert ref["name"].startswith(REDIS_USER_SECRET) and ref["key"] == name
                elif name == FIRST_ADMIN_ENV:
                    assert (ref["name"], ref["key"]) == (FIRST_ADMIN_SECRET, FIRST_ADMIN_ENV)
                else:
                    assert ref["name"] == SECRET_NAME
                optional = name.endswith("_PREVIOUS") or name == FIRST_ADMIN_ENV
                assert ref.get("optional", False) == optional
        if "secretRef" in node:  # imported whole: only the stores' credentials
            assert node["secretRef"]["name"] in STORE_SECRETS
        if node.get("secret"):  # a Secret volume: only the CAs
            assert node["secret"]["secretName"] in {KAFKA_CA_SECRET, REDIS_CA_SECRET}
    stores = yaml.safe_load(stores_file_data())
    for store in stores["stores"]:
        for key in ("access_token", "webhook_secret", "webhook_secret_previous"):
            if key in store:
                assert str(store[key]).startswith("env:"), f"{store['shop']} {key}: a literal"


def test_readme_names_every_secret_key() -> None:
    readme = (K8S / "README.md").read_text()
    keys = {
        node["secretKeyRef"]["key"] for node in walk(resource_docs(BASE)) if "secretKeyRef" in node
    }
    assert keys, "no Secret references"
    missing = sorted(key for key in keys if f"`{key}`" not in readme)
    assert missing == []
    assert SECRET_NAME in readme
    assert all(f"`{name}`" in readme for name in STORE_SECRETS)


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=KUSTOMIZATION_IDS)
@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_settings_load_from_what_the_pod_gets(
    workload: Workload, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = pod_environment(workload, folder)
    use_environment(monkeypatch, env)
    settings = settings_class(workload.settings)()  # production refuses placeholder secrets
    assert settings.http_host == ALL_INTERFACES
    assert settings.kafka_bootstrap_servers
    if workload.kind == "Deployment":
        assert settings.http_port == SERVICE_PORTS[workload.name]
        assert settings.service_name == workload.name


def test_shopify_sync_carries_the_public_url_its_overlay_sets() -> None:
    """`stocksync-stores connect` and the console's Connect button subscribe the stores'
    webhooks to <STOCKSYNC_PUBLIC_URL>/webhooks/shopify: the name is there, empty, to be
    set per overlay (an empty value means "ask for --public-url")."""
    env = pod_environment(Workload("shopify-sync", "Deployment", "shopify-sync"), BASE)
    assert env["STOCKSYNC_PUBLIC_URL"] == ""


@pytest.mark.parametrize("name", STORE_READERS)
def test_store_readers_mount_the_stores_file_and_it_loads(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    workload = Workload(name, "Deployment", name)
    env = pod_environment(workload, BASE)
    stores_file = PurePosixPath(env["STOCKSYNC_STORES_FILE"])
    mounts = {m["mountPath"]: m for m in workload.container["volumeMounts"]}
    mount = mounts[str(stores_file.parent)]
    assert mount.get("readOnly") is True
    volume = {v["name"]: v for v in workload.pod["volumes"]}[mount["name"]]
    data = config_maps(BASE)[volume["configMap"]["name"]]
    secret, reads = STORE_READER_SECRETS[name]
    assert env_from(workload.container, "secretRef") == ([secret] if secret else [])
    local = tmp_path / stores_file.name
    local.write_text(data[stores_file.name])
    use_environment(monkeypatch, env)
    stores = load_stores(local, reads, "production")  # as the service loads it
    assert [s for s in stores.stores if s.role == "parent"], "a parent store"


def test_each_workload_imports_only_the_store_secrets_it_reads() -> None:
    """Least privilege: the receiver gets the webhook secrets and never an Admin API token,
    shopify-sync the tokens, every other workload none."""
    for workload in WORKLOADS:
        secret = STORE_READER_SECRETS.get(workload.name, (None, frozenset()))[0]
        assert env_from(workload.container, "secretRef") == ([secret] if secret else [])
    tokens, hooks = (stores_env_refs(f) for f in STORE_SECRETS.values())
    assert tokens and hooks and not tokens & hooks


def test_first_admin_job_runs_bootstrap_admin_with_the_consoles_image() -> None:
    """It creates the first admin once from its own optional Secret, and does nothing (and
    succeeds) once an admin exists, so it can stay in the base and run at every apply."""
    job = FIRST_ADMIN
    assert job.container["command"][-1] == "bootstrap-admin"
    assert "stocksync_common.accounts.cli" in job.container["command"]
    assert job.pod["restartPolicy"] in {"OnFailure", "Never"}
    assert job.doc["spec"]["ttlSecondsAfterFinished"] > 0, "re-created by the next apply"
    assert "first-admin-job.yaml" in kustomization(BASE)["resources"]
    assert FIRST_ADMIN_SECRET in (K8S / "README.md").read_text()


def test_topics_job_creates_the_topics_with_the_adjuster_image() -> None:
    job = Workload("stocksync-topics", "Job", "common")
    assert job.container["command"] == ["python", "-m", "stocksync_common.topics", "create"]
    assert job.pod["restartPolicy"] in {"OnFailure", "Never"}
    assert job.doc["spec"]["ttlSecondsAfterFinished"] > 0, "re-created by the next apply"
    assert "topics-job.yaml" in kustomization(BASE)["resources"]


# --- rendering, when a tool is installed ------------------------------------------------------


def renderer() -> list[str] | None:
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    return None


@pytest.mark.parametrize("folder", KUSTOMIZATIONS, ids=KUSTOMIZATION_IDS)
def test_kustomization_renders(folder: Path) -> None:
    command = renderer()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is on PATH; the static checks above ran")
    result = subprocess.run(
        [*command, str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    kinds = sorted({(d["apiVersion"], d["kind"]) for d in docs})
    assert set(kinds) <= KNOWN_KINDS
    rendered = of_kind(docs, "Deployment")
    assert set(rendered) == set(SERVICE_PORTS)
    config_map_names = set(of_kind(docs, "ConfigMap"))
    for deployment in [*rendered.values(), *of_kind(docs, "Job").values()]:
        refs: set[str] = set()
        for node in walk(deployment):
            refs.update(node[key]["name"] for key in ("configMapRef", "configMap") if key in node)
        assert refs and refs <= config_map_names, "generated names are wired through"
    if folder.name == "local":
        assert {d["spec"]["replicas"] for d in rendered.values()} == {1}
        images = {c["image"] for d in rendered.values() for c in walk(d) if "image" in c}
        assert all(image.endswith(":dev") for image in images), images


# --- Kafka and Redis credentials (#22) ----------------------------------------------------------


def _env_items(workload: Workload) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in workload.container.get("env", [])}


def _mounted_secret(workload: Workload, file_path: str) -> str:
    """The Secret a file path of the container comes from (its folder's volume)."""
    folder = str(PurePosixPath(file_path).parent)
    mounts = {m["mountPath"]: m for m in workload.container.get("volumeMounts", [])}
    assert folder in mounts, f"{workload.name}: nothing mounted at {folder}"
    assert mounts[folder].get("readOnly") is True
    volume = {v["name"]: v for v in workload.pod["volumes"]}[mounts[folder]["name"]]
    name = volume["secret"]["secretName"]
    assert isinstance(name, str)
    return name


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_each_workload_reaches_kafka_and_redis_as_its_own_users(
    workload: Workload,
) -> None:
    env = _env_items(workload)
    config = config_maps(BASE)["stocksync-config"]
    assert config["STOCKSYNC_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert "STOCKSYNC_REDIS_URL" not in config, "the URL holds a password: Secret only"
    cls = settings_class(workload.settings)
    if cls.uses_kafka:
        user = env["STOCKSYNC_KAFKA_USERNAME"]["value"]
        assert user == (workload.name if workload.kind == "Job" else f"stocksync-{workload.name}")
        ref = env["STOCKSYNC_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == (user, "password"), "its own user's password"
        assert _mounted_secret(workload, config["STOCKSYNC_KAFKA_CA_FILE"]) == KAFKA_CA_SECRET
    else:
        assert not {"STOCKSYNC_KAFKA_USERNAME", "STOCKSYNC_KAFKA_PASSWORD"} & set(env)
    if cls.uses_redis:  # its own Redis user's URL, from a Secret no other workload reads
        ref = env["STOCKSYNC_REDIS_URL"]["valueFrom"]["secretKeyRef"]
        user = REDIS_USER_OF.get(workload.name, workload.name)
        assert (ref["name"], ref["key"]) == (f"{REDIS_USER_SECRET}{user}", "STOCKSYNC_REDIS_URL")
        assert user in registered_services(), "its Redis user needs its declared keys"
        assert _mounted_secret(workload, config["STOCKSYNC_REDIS_CA_FILE"]) == REDIS_CA_SECRET
    else:
        assert "STOCKSYNC_REDIS_URL" not in env
