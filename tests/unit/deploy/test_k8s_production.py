"""deploy/k8s beyond the Deployments: PodDisruptionBudgets, NetworkPolicies, the PodMonitor,
KEDA ScaledObjects and the HPA alternative, the Strimzi KafkaTopics and the production overlay.

Held against the code: topic names against ``stocksync_common.topics`` (the committed
topics.yaml must equal deploy/k8s/generate_topics.py's output), consumer groups against
``CONSUMER_GROUPS`` and each service's ``Settings``, ports against the Deployments, and every
rule is checked on what ``kubectl kustomize`` renders when it is on PATH.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from unit.deploy.contract import SERVICE_PORTS
from unit.deploy.test_k8s import (
    BASE,
    COMPONENTS,
    K8S,
    KNOWN_KINDS,
    OVERLAYS,
    ROOT,
    config_maps,
    kustomization,
    memory_bytes,
    of_kind,
    renderer,
    resource_docs,
    settings_class,
    yaml_docs,
)

from generate_deploy import CONSOLE_SETTING, outputs, read_facts
from ops_console.settings import Settings as ConsoleSettings
from stocksync_common.topics import all_topics, registered, registered_services

# The groups the services register (each in its own bootstrap).
CONSUMER_GROUPS = registered().consumers

PRODUCTION = K8S / "overlays" / "production"
KEDA = K8S / "components" / "keda"
HPA = K8S / "components" / "hpa"
MONITORING = K8S / "components" / "monitoring"
TOPICS_FILE = PRODUCTION / "topics.yaml"
USERS_FILE = PRODUCTION / "users.yaml"
# The services that register consumer groups (webhook-receiver's group only dead-letters).
CONSUMERS = [
    n for n in SERVICE_PORTS if n in registered_services() and registered_services()[n].consumers
]
AUTOSCALED = [*CONSUMERS, "webhook-receiver"]
# Where the ops console may be reached from besides this namespace and Prometheus's.
INGRESS_NAMESPACE = "ingress-nginx"
HTTPS_CLIENTS = {"shopify-sync", "wms-connector", "notifier"}
KAFKA_PORT = 9092
REDIS_PORT = 6379
DNS_PORT = 53
HTTPS_PORT = 443
DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


# --- helpers ----------------------------------------------------------------------------------


def load_generator() -> Any:
    path = K8S / "generate_topics.py"
    spec = importlib.util.spec_from_file_location("stocksync_generate_topics", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def rendered(folder: Path) -> list[dict[str, Any]]:
    command = renderer()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is on PATH; the static checks ran")
    result = subprocess.run(
        [*command, str(folder)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against labels."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert isinstance(labels, dict)
    return labels


def topic_partitions() -> dict[str, int]:
    return {d["spec"]["topicName"]: d["spec"]["partitions"] for d in yaml_docs(TOPICS_FILE)}


def group_owner(group: str) -> str:
    """The consumer Deployment of a group: the longest service name it starts with."""
    owners = [name for name in SERVICE_PORTS if group == name or group.startswith(f"{name}-")]
    assert owners, f"no service for consumer group {group}"
    return max(owners, key=len)


def settings_groups(service: str) -> set[str]:
    fields = settings_class(service).model_fields
    return {str(f.default) for name, f in fields.items() if name.endswith("consumer_group")}


def port_numbers(rule: dict[str, Any]) -> set[int]:
    return {p["port"] for p in rule.get("ports", [])}


def policies_for(docs: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        p
        for p in of_kind(docs, "NetworkPolicy").values()
        if p["spec"]["podSelector"] and matches(p["spec"]["podSelector"], labels)
    ]


def kafka_bootstrap(folder: Path) -> str:
    return config_maps(folder)["stocksync-config"]["STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS"]


# --- the generated Strimzi topics -------------------------------------------------------------


def test_committed_topics_file_is_the_generators_output() -> None:
    generator = load_generator()
    assert TOPICS_FILE.read_text() == generator.render(), (
        "run `uv run python deploy/k8s/generate_topics.py`"
    )
    assert "topics.yaml" in kustomization(PRODUCTION)["resources"]


def test_committed_users_file_is_the_generators_output() -> None:
    assert USERS_FILE.read_text() == load_generator().render_users(), (
        "run `uv run python deploy/k8s/generate_topics.py`"
    )
    assert "users.yaml" in kustomization(PRODUCTION)["resources"]


def user_grants(name: str) -> dict[tuple[str, str], set[str]]:
    """(resource type, name) -> operations of the KafkaUser ``name`` in users.yaml."""
    users = {d["metadata"]["name"]: d for d in yaml_docs(USERS_FILE)}
    spec = users[name]["spec"]
    assert spec["authentication"] == {"type": "scram-sha-512"}
    assert spec["authorization"]["type"] == "simple"
    grants: dict[tuple[str, str], set[str]] = {}
    for acl in spec["authorization"]["acls"]:
        resource = acl["resource"]
        assert resource.get("patternType", "literal") == "literal", "no prefixes, no wildcards"
        assert resource.get("name") != "*"
        key = (resource["type"], resource.get("name", "kafka-cluster"))
        grants.setdefault(key, set()).update(acl["operations"])
    return grants


def test_every_kafka_client_deployment_has_its_own_kafka_user() -> None:
    users = {d["metadata"]["name"] for d in yaml_docs(USERS_FILE)}
    clients = {name for name in SERVICE_PORTS if name != "ops-console"}
    assert users == {f"stocksync-{name}" for name in clients} | {"stocksync-keda"}
    for doc in yaml_docs(USERS_FILE):
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "stocksync"


def test_a_service_may_touch_only_its_own_topics_and_groups() -> None:
    orders = user_grants("stocksync-order-consumer")
    assert {"Read", "Describe"} <= orders[("topic", "webhooks.shopify.v1")]
    assert "Write" not in orders[("topic", "webhooks.shopify.v1")], "the receiver's to write"
    assert "Write" in orders[("topic", "inventory.commands.v1")]
    assert "Read" not in orders[("topic", "inventory.commands.v1")], "the adjuster's to read"
    assert "Read" in orders[("group", "order-consumer")]
    assert ("group", "inventory-adjuster") not in orders
    retry = "webhooks.shopify.v1.retry.order-consumer"
    assert {"Read", "Write"} <= orders[("topic", retry)]
    assert "Delete" in orders[("topic", "webhooks.shopify.v1.dlq.order-consumer")]
    receiver = user_grants("stocksync-webhook-receiver")
    assert not any(kind == "group" for kind, _ in receiver), "it consumes nothing"
    assert {t for (k, t), ops in receiver.items() if k == "topic" and "Read" in ops} == {
        "webhooks.shopify.v1.dlq.webhook-receiver",
        "webhooks.wms.v1.dlq.webhook-receiver",
    }, "the receiver reads its own dead letters only"
    assert "Write" not in receiver.get(("topic", "inventory.commands.v1"), set())
    for name in SERVICE_PORTS:
        if name == "ops-console":
            continue
        grants = user_grants(f"stocksync-{name}")
        assert not any("Create" in ops or "Alter" in ops for ops in grants.values())
        assert grants[("cluster", "kafka-cluster")] == {"IdempotentWrite"}
        groups = {g for kind, g in grants if kind == "group"}
        assert groups == settings_groups(name), "exactly the groups it joins"


def test_keda_may_only_describe_the_groups_and_their_topics() -> None:
    grants = user_grants("stocksync-keda")
    assert set(grants) == {("group", g) for g in CONSUMER_GROUPS} | {
        ("topic", t) for topics in CONSUMER_GROUPS.values() for t in topics
    }
    assert all(ops == {"Describe"} for ops in grants.values())


def test_keda_triggers_log_in_with_scram_over_tls() -> None:
    docs = resource_docs(KEDA)
    [auth] = of_kind(docs, "TriggerAuthentication").values()
    refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    assert refs["password"] == ("stocksync-keda", "password")
    assert refs["ca"] == ("stocksync-cluster-ca-cert", "ca.crt")
    for obj in of_kind(docs, "ScaledObject").values():
        for trigger in obj["spec"]["triggers"]:
            if trigger["type"] == "kafka":
                assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == (
                    "scram_sha512",
                    "enable",
                )
                assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]


def test_kafka_topics_are_exactly_the_catalog_with_production_settings() -> None:
    docs = yaml_docs(TOPICS_FILE)
    specs = {s.name: s for s in all_topics()}
    names = [d["spec"]["topicName"] for d in docs]
    assert len(names) == len(set(names)), "a topic twice"
    assert set(names) == set(specs)
    for doc in docs:
        assert (doc["apiVersion"], doc["kind"]) == ("kafka.strimzi.io/v1beta2", "KafkaTopic")
        name = doc["metadata"]["name"]
        assert DNS_1123_SUBDOMAIN.fullmatch(name) and len(name) <= 253, name
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "stocksync"
        spec = doc["spec"]
        assert spec["partitions"] == load_generator().partitions_for(name)
        assert spec["partitions"] in {24, 6}
        if any(name in topics for topics in CONSUMER_GROUPS.values()):
            assert spec["partitions"] == 24, "consumers scale up to 24 replicas on it"
        assert spec["replicas"] == 3
        config = spec["config"]
        assert config["min.insync.replicas"] == "2"
        assert spec["replicas"] > int(config["min.insync.replicas"]), "one broker may be down"
        assert all(isinstance(v, str) for v in config.values())
        assert specs[spec["topicName"]].config.items() <= config.items()
    levels = next(d for d in docs if d["spec"]["topicName"] == "inventory.levels.v1")
    assert levels["spec"]["config"]["cleanup.policy"] == "compact"


def test_strimzi_cluster_matches_the_bootstrap_service() -> None:
    cluster = {d["metadata"]["labels"]["strimzi.io/cluster"] for d in yaml_docs(TOPICS_FILE)}
    host = urlsplit(f"//{kafka_bootstrap(PRODUCTION)}").hostname
    assert host == f"{cluster.pop()}-kafka-bootstrap", "Strimzi's bootstrap Service name"


# --- the manifests generated from the services' files ----------------------------------------


def test_shared_manifests_are_the_generators_output() -> None:
    """pdb.yaml, networkpolicies.yaml, the KEDA and HPA scalers, the overlays' replicas and
    images, the base's resources and compose's Prometheus jobs follow the services' files."""
    stale = [p.relative_to(ROOT) for p, text in outputs().items() if p.read_text() != text]
    assert stale == [], "run `uv run python scripts/generate_deploy.py`"
    assert {"order-consumer", "inventory-adjuster", "notifier"} <= set(CONSUMERS)
    assert not {"webhook-receiver", "ops-console"} & set(CONSUMERS), "they consume nothing"


# --- PodDisruptionBudgets, NetworkPolicies, the PodMonitor (static) --------------------------


@pytest.mark.parametrize("name", list(SERVICE_PORTS))
def test_every_deployment_has_one_pdb_that_still_allows_a_drain(name: str) -> None:
    docs = resource_docs(BASE)
    labels = pod_labels(of_kind(docs, "Deployment")[name])
    pdbs = [
        p
        for p in of_kind(docs, "PodDisruptionBudget").values()
        if matches(p["spec"]["selector"], labels)
    ]
    assert len(pdbs) == 1, f"deploy/k8s/base/pdb.yaml: one PodDisruptionBudget for {name}"
    spec = pdbs[0]["spec"]
    assert spec.get("maxUnavailable", 0) >= 1 or "minAvailable" not in spec, (
        "maxUnavailable keeps one-replica overlays drainable"
    )


def test_network_policies_deny_by_default() -> None:
    policies = of_kind(resource_docs(BASE), "NetworkPolicy")
    defaults = [p for p in policies.values() if p["spec"]["podSelector"] == {}]
    assert len(defaults) == 1
    spec = defaults[0]["spec"]
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in spec and "egress" not in spec


@pytest.mark.parametrize("name", [n for n in SERVICE_PORTS if n != "ops-console"])
def test_network_policy_lets_each_service_reach_only_what_it_needs(name: str) -> None:
    docs = resource_docs(BASE)
    found = policies_for(docs, pod_labels(of_kind(docs, "Deployment")[name]))
    assert len(found) == 1, f"deploy/k8s/base/networkpolicies.yaml: one NetworkPolicy for {name}"
    [policy] = found
    spec = policy["spec"]
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    [ingress] = spec["ingress"]
    assert port_numbers(ingress) == {SERVICE_PORTS[name]}
    if name == "webhook-receiver":
        assert "from" not in ingress, "webhooks arrive from anywhere"
    else:
        peers = ingress["from"]
        assert {"podSelector": {}} in peers, "this namespace"
        for peer in peers:
            assert "ipBlock" not in peer, "admin ports only inside the cluster"
            if "namespaceSelector" in peer:
                assert peer["namespaceSelector"]["matchLabels"] == {
                    "kubernetes.io/metadata.name": "monitoring"
                }
    egress_ports: set[int] = set()
    for rule in spec["egress"]:
        ports = port_numbers(rule)
        assert ports, "an egress rule without ports opens everything"
        egress_ports |= ports
        if HTTPS_PORT in ports:
            assert ports == {HTTPS_PORT}
    expected = {DNS_PORT, KAFKA_PORT, REDIS_PORT}
    if name in HTTPS_CLIENTS:
        expected.add(HTTPS_PORT)
    assert egress_ports == expected


def test_ops_console_policy_reaches_redis_and_the_services_admin_ports_only() -> None:
    docs = resource_docs(BASE)
    [policy] = policies_for(docs, pod_labels(of_kind(docs, "Deployment")["ops-console"]))
    spec = policy["spec"]
    [ingress] = spec["ingress"]
    assert port_numbers(ingress) == {SERVICE_PORTS["ops-console"]}
    namespaces = {
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in ingress["from"]
        if "namespaceSelector" in p
    }
    assert namespaces == {"monitoring", INGRESS_NAMESPACE}
    assert {"podSelector": {}} in ingress["from"]
    assert all("ipBlock" not in p for p in ingress["from"])
    backends = {port for name, port in SERVICE_PORTS.items() if name != "ops-console"}
    egress: set[int] = set()
    for rule in spec["egress"]:
        ports = port_numbers(rule)
        assert ports, "an egress rule without ports opens everything"
        if ports & backends:
            assert ports == backends
            [peer] = rule["to"]
            assert peer == {
                "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "stocksync"}}
            }
        egress |= ports
    assert egress == {DNS_PORT, REDIS_PORT} | backends, "no Kafka, no internet"


def test_ops_console_finds_each_service_at_its_service_and_port() -> None:
    docs = resource_docs(BASE)
    deployment = of_kind(docs, "Deployment")["ops-console"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    services = of_kind(docs, "Service")
    urls = ConsoleSettings(console_services=json.loads(env[CONSOLE_SETTING])).backend_urls()
    assert list(urls) == [name for name in SERVICE_PORTS if name != "ops-console"]
    for name, raw in urls.items():
        url = urlsplit(raw)
        port = SERVICE_PORTS[name]
        assert (url.hostname, url.port) == (name, port)
        assert [p["port"] for p in services[name]["spec"]["ports"]] == [port]
    assert "STOCKSYNC_ADMIN_TOKEN" in env, "the login is backed by the admin secret"


def test_egress_ports_are_the_configured_kafka_and_redis_ports() -> None:
    config = config_maps(BASE)["stocksync-config"]
    assert urlsplit(f"//{config['STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS']}").port == KAFKA_PORT
    # The Redis URL is a secret: the README's example of it uses the port the policies open.
    readme = (K8S / "README.md").read_text()
    [example] = re.findall(r"STOCKSYNC_REDIS_URL=(rediss://\S+?)['`\s]", readme)
    assert urlsplit(example).port == REDIS_PORT


def test_the_topics_job_may_reach_kafka_and_dns_only() -> None:
    docs = resource_docs(BASE)
    [policy] = policies_for(docs, pod_labels(of_kind(docs, "Job")["stocksync-topics"]))
    assert "ingress" not in policy["spec"]
    ports = set().union(*(port_numbers(r) for r in policy["spec"]["egress"]))
    assert ports == {DNS_PORT, KAFKA_PORT}


def test_pod_monitor_scrapes_every_service_and_not_the_job() -> None:
    docs = resource_docs(MONITORING)
    [monitor] = of_kind(docs, "PodMonitor").values()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]
    base = resource_docs(BASE)
    for name, deployment in of_kind(base, "Deployment").items():
        assert matches(selector, pod_labels(deployment)), name
        port_names = {
            p["name"]
            for c in deployment["spec"]["template"]["spec"]["containers"]
            for p in c["ports"]
        }
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            assert endpoint["port"] in port_names
            assert endpoint["path"] == "/metrics"
    assert not matches(selector, pod_labels(of_kind(base, "Job")["stocksync-topics"]))


# --- autoscaling ------------------------------------------------------------------------------


def test_scaled_objects_cover_every_consumer_group_and_topic() -> None:
    objects = of_kind(resource_docs(KEDA), "ScaledObject")
    assert sorted(objects) == sorted(AUTOSCALED), (
        "deploy/k8s/components/keda/scaledobjects.yaml: one ScaledObject per consumer"
    )
    objects.pop("webhook-receiver")
    wanted = {(g, t) for g, topics in CONSUMER_GROUPS.items() for t in topics}
    seen: set[tuple[str, str]] = set()
    for name, obj in objects.items():
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        target = obj["spec"]["scaleTargetRef"]
        assert (target.get("kind", "Deployment"), target["name"]) == ("Deployment", name)
        groups: set[str] = set()
        for trigger in obj["spec"]["triggers"]:
            assert trigger["type"] == "kafka"
            meta = trigger["metadata"]
            assert all(isinstance(v, str) for v in meta.values()), "KEDA metadata are strings"
            assert int(meta["lagThreshold"]) > 0
            assert meta["bootstrapServers"] == kafka_bootstrap(PRODUCTION)
            assert group_owner(meta["consumerGroup"]) == name
            pair = (meta["consumerGroup"], meta["topic"])
            assert pair in wanted, f"{pair} is not in CONSUMER_GROUPS"
            assert pair not in seen
            seen.add(pair)
            groups.add(meta["consumerGroup"])
        assert groups == settings_groups(name), "the groups the service really joins"
    assert seen == wanted


@pytest.mark.parametrize("folder", [KEDA, HPA], ids=["keda", "hpa"])
def test_autoscaling_is_capped_at_the_partition_count(folder: Path) -> None:
    partitions = topic_partitions()
    docs = resource_docs(folder)
    scalers = [
        *of_kind(docs, "ScaledObject").values(),
        *of_kind(docs, "HorizontalPodAutoscaler").values(),
    ]
    assert sorted(s["metadata"]["name"] for s in scalers) == sorted(AUTOSCALED), (
        f"{folder.relative_to(K8S)}: one scaler per consumer (KEDA and HPA components)"
    )
    for scaler in scalers:
        name = scaler["metadata"]["name"]
        if name == "webhook-receiver":
            continue  # no partitions to own: see the test below
        spec = scaler["spec"]
        low = spec.get("minReplicaCount", spec.get("minReplicas"))
        high = spec.get("maxReplicaCount", spec.get("maxReplicas"))
        assert 1 <= low <= high, name
        topics = {t for g, ts in CONSUMER_GROUPS.items() if group_owner(g) == name for t in ts}
        assert high <= min(partitions[t] for t in topics), f"{name}: replicas beyond partitions"
        assert spec["scaleTargetRef"]["name"] == name


@pytest.mark.parametrize("folder", [KEDA, HPA], ids=["keda", "hpa"])
def test_webhook_receiver_scales_on_cpu_and_requests_from_production_replicas(
    folder: Path,
) -> None:
    docs = resource_docs(folder)
    [scaler] = [
        s
        for s in [
            *of_kind(docs, "ScaledObject").values(),
            *of_kind(docs, "HorizontalPodAutoscaler").values(),
        ]
        if s["metadata"]["name"] == "webhook-receiver"
    ]
    spec = scaler["spec"]
    low = spec.get("minReplicaCount", spec.get("minReplicas"))
    high = spec.get("maxReplicaCount", spec.get("maxReplicas"))
    replicas = {r["name"]: r["count"] for r in kustomization(PRODUCTION)["replicas"]}
    assert low == replicas["webhook-receiver"] < high
    assert spec["scaleTargetRef"]["name"] == "webhook-receiver"
    if folder == KEDA:
        triggers = {t["type"]: t for t in spec["triggers"]}
        assert set(triggers) == {"cpu", "prometheus"}
        query = triggers["prometheus"]["metadata"]["query"]
        assert "stocksync_webhooks_total" in query
        assert all(isinstance(v, str) for v in triggers["prometheus"]["metadata"].values())
        deployment = of_kind(resource_docs(BASE), "Deployment")["webhook-receiver"]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["resources"]["requests"]["cpu"], "CPU utilization needs a request"


def test_hpa_alternative_is_autoscaling_v2_on_cpu() -> None:
    for hpa in of_kind(resource_docs(HPA), "HorizontalPodAutoscaler").values():
        assert hpa["apiVersion"] == "autoscaling/v2"
        [metric] = hpa["spec"]["metrics"]
        assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"


@pytest.mark.parametrize("folder", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_an_overlay_uses_keda_or_the_hpa_never_both(folder: Path) -> None:
    used = {(folder / c).resolve() for c in kustomization(folder).get("components", [])}
    assert used <= set(COMPONENTS)
    assert not {KEDA, HPA} <= used


# --- the production overlay -------------------------------------------------------------------


def test_production_overlay_settings_replicas_and_components() -> None:
    k = kustomization(PRODUCTION)
    replicas = {r["name"]: r["count"] for r in k["replicas"]}
    missing = [n for n in AUTOSCALED if n not in replicas]
    assert not missing, f"deploy/k8s/overlays/production/kustomization.yaml: replicas of {missing}"
    assert replicas["webhook-receiver"] >= 3
    assert all(replicas[name] >= 2 for name in CONSUMERS)
    config = config_maps(PRODUCTION)["stocksync-config"]
    assert config["STOCKSYNC_ENVIRONMENT"] == "production"
    assert config["STOCKSYNC_TOPIC_REPLICATION_FACTOR"] == "3"
    # what a service creates itself (a renamed group's retry and DLQ topics) as Strimzi's
    assert config["STOCKSYNC_TOPIC_MIN_INSYNC_REPLICAS"] == "2"
    consumed = {t for topics in CONSUMER_GROUPS.values() for t in topics}
    assert {topic_partitions()[t] for t in consumed} == {int(config["STOCKSYNC_TOPIC_PARTITIONS"])}
    used = {(PRODUCTION / c).resolve() for c in k["components"]}
    assert {KEDA, MONITORING} <= used
    min_replicas = {
        o["metadata"]["name"]: o["spec"]["minReplicaCount"]
        for o in of_kind(resource_docs(KEDA), "ScaledObject").values()
    }
    assert all(min_replicas[name] >= 2 for name in CONSUMERS)


# --- rendered ---------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [BASE, *OVERLAYS], ids=["base", *(o.name for o in OVERLAYS)])
def test_rendered_workloads_are_covered_by_pdb_policy_and_resources(folder: Path) -> None:
    docs = rendered(folder)
    assert {(d["apiVersion"], d["kind"]) for d in docs} <= KNOWN_KINDS
    deployments = of_kind(docs, "Deployment")
    assert set(deployments) == set(SERVICE_PORTS)
    pdbs = of_kind(docs, "PodDisruptionBudget").values()
    for name, deployment in deployments.items():
        labels = pod_labels(deployment)
        assert len([p for p in pdbs if matches(p["spec"]["selector"], labels)]) == 1, name
        assert len(policies_for(docs, labels)) == 1, name
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            res = container["resources"]
            assert memory_bytes(res["requests"]["memory"]) <= memory_bytes(res["limits"]["memory"])
    for job in of_kind(docs, "Job").values():
        assert len(policies_for(docs, pod_labels(job))) == 1
    for policy in of_kind(docs, "NetworkPolicy").values():
        if policy["spec"]["podSelector"]:
            assert any(
                matches(policy["spec"]["podSelector"], pod_labels(w))
                for w in [*deployments.values(), *of_kind(docs, "Job").values()]
            ), f"{policy['metadata']['name']} selects nothing"


def test_production_renders_with_topics_keda_and_monitor_and_without_the_job() -> None:
    docs = rendered(PRODUCTION)
    deployments = of_kind(docs, "Deployment")
    assert deployments["webhook-receiver"]["spec"]["replicas"] >= 3
    assert all(deployments[name]["spec"]["replicas"] >= 2 for name in CONSUMERS)
    assert set(of_kind(docs, "Job")) == {"stocksync-first-admin"}, "Strimzi owns the topics"
    assert {d["spec"]["topicName"] for d in of_kind(docs, "KafkaTopic").values()} == {
        s.name for s in all_topics()
    }
    assert sorted(of_kind(docs, "ScaledObject")) == sorted(AUTOSCALED)
    assert of_kind(docs, "HorizontalPodAutoscaler") == {}
    [monitor] = of_kind(docs, "PodMonitor").values()
    for deployment in deployments.values():
        assert matches(monitor["spec"]["selector"], pod_labels(deployment))
    [config] = [c for c in of_kind(docs, "ConfigMap") if c.startswith("stocksync-config")]
    assert of_kind(docs, "ConfigMap")[config]["data"]["STOCKSYNC_ENVIRONMENT"] == "production"


def test_base_with_the_hpa_component_renders(tmp_path: Path) -> None:
    """The HPA alternative, applied the way the README says: a component on an overlay."""
    command = renderer()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is on PATH")
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(BASE, tmp_path)],
                "components": [os.path.relpath(HPA, tmp_path)],
            }
        )
    )
    result = subprocess.run(
        [*command, str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    assert sorted(hpas) == sorted(AUTOSCALED)
    deployments = of_kind(docs, "Deployment")
    assert all(h["spec"]["scaleTargetRef"]["name"] in deployments for h in hpas.values())


# --- documentation ----------------------------------------------------------------------------


def deployment_section() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^## Deployment\n(.*?)(?=^## )", readme, flags=re.MULTILINE | re.DOTALL)
    assert match is not None, "README.md has a ## Deployment section"
    return match.group(1)


@pytest.mark.parametrize(
    "path",
    [ROOT / "README.md", K8S / "README.md", ROOT / "docs" / "scaling.md"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_repository_path_the_docs_mention_exists(path: Path) -> None:
    text = deployment_section() if path == ROOT / "README.md" else path.read_text()
    spans = re.findall(r"`([^`\n]+)`", text)
    mentioned = [
        m
        for span in spans
        for m in re.findall(r"(?:deploy|docs|services|tests|bench|libs|scripts)/[\w./<>-]+", span)
    ]
    assert mentioned, "no paths at all"
    for entry in mentioned:
        if "<" in entry:
            continue  # a pattern such as services/<service>/Dockerfile
        candidate = entry.rstrip(".")
        assert (ROOT / candidate).exists() or (K8S / candidate).exists(), candidate


def test_readme_deployment_section_covers_kubernetes_and_compose() -> None:
    section = deployment_section()
    for needle in (
        "kubectl apply -k deploy/k8s/overlays/production",
        "docker compose up",
        "Strimzi",
        "KEDA",
        "stocksync-secrets",
        "deploy/k8s/README.md",
    ):
        assert needle in section, needle


def test_k8s_readme_names_components_overlays_and_every_secret_key_of_production() -> None:
    readme = (K8S / "README.md").read_text()
    for folder in [*COMPONENTS, *OVERLAYS]:
        assert folder.relative_to(K8S).as_posix() in readme, folder
    assert "generate_topics.py" in readme
    assert "kubectl apply -k deploy/k8s/overlays/production" in readme


# --- production resources, generated from the services' files ---------------------------------

# What the overlay held when it was written by hand (webhook-receiver requests half a CPU; the
# ops console has no patch: its base resources and no spread).
PRODUCTION_CPU = {
    "webhook-receiver": "500m",
    "order-consumer": "250m",
    "inventory-adjuster": "250m",
    "shopify-sync": "250m",
    "wms-connector": "250m",
    "notifier": "250m",
}


def resource_patches(folder: Path = PRODUCTION) -> dict[str, list[dict[str, Any]]]:
    """The overlay's JSON patches of Deployments, parsed, by Deployment."""
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in kustomization(folder)["patches"]:
        target = entry.get("target", {})
        if target.get("kind") == "Deployment":
            found[target["name"]] = yaml.safe_load(entry["patch"])
    return found


def spread_and_resources(name: str, cpu: str) -> list[dict[str, Any]]:
    spread = {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
    }
    return [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/resources",
            "value": {"requests": {"cpu": cpu, "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        },
        {"op": "add", "path": "/spec/template/spec/topologySpreadConstraints", "value": [spread]},
    ]


def test_production_resource_patches_are_the_hand_written_ones() -> None:
    patches = resource_patches()
    assert list(patches) == list(PRODUCTION_CPU), "ops-console keeps its base resources"
    for name, cpu in PRODUCTION_CPU.items():
        assert patches[name] == spread_and_resources(name, cpu), name


@pytest.mark.parametrize(
    ("fact", "value", "problem"),
    [
        ("production-cpu", "half", "production-cpu is not a quantity"),
        ("production-memory", "256MB", "production-memory is not a quantity"),
        ("production-resources", "none", "production-resources takes base, not 'none'"),
        ("console", "yes", "console takes true or false, not 'yes'"),
    ],
)
def test_a_bad_production_resource_or_console_fact_is_refused_by_name(
    fact: str, value: str, problem: str
) -> None:
    doc = {"metadata": {"annotations": {f"stocksync.io/{fact}": value}}}
    with pytest.raises(SystemExit, match=f"notifier: stocksync.io/{problem}"):
        read_facts(doc, "notifier")
