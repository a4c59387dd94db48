"""Write the Kubernetes manifests that list every service, from each service's own file.

A service's kustomize entry is one file, ``deploy/k8s/base/<name>.yaml`` (its Deployment and
Service). What the shared manifests need to know of it is declared there once, as
annotations on its Deployment (:data:`FACTS`; each has a default, so most services declare
none), or follows from its code: its port (its Settings' default), whether it talks to Kafka
and Redis (``Settings.uses_kafka``/``uses_redis``) and the consumer groups it registers
(``stocksync.groups``). From those this writes:

- ``base/kustomization.yaml``: the services' files among its resources (a marked block);
- ``base/pdb.yaml``: a PodDisruptionBudget per service (``maxUnavailable: 1``);
- ``base/networkpolicies.yaml``: default deny, then per service exactly its ingress and egress;
- ``components/keda/scaledobjects.yaml`` and ``components/hpa/hpa.yaml``: a consumer scales on
  the lag of its groups (CPU with the HPA) from its production replicas up to the partitions
  of its topics; a service that declares ``stocksync.io/autoscale-max`` scales on CPU (and a
  Prometheus query with KEDA);
- ``overlays/production/kustomization.yaml``: its replicas and images, and a patch of its
  resources (``stocksync.io/production-cpu``, ``-memory``, ``-memory-limit``, each with a
  default; none for ``stocksync.io/production-resources: base``) and spread over nodes
  (marked blocks);
- ``overlays/local/kustomization.yaml``: one replica of each and the ``:dev`` images (marked
  blocks);
- ``deploy/monitoring/prometheus.yml`` (docker compose's Prometheus): a scrape job per service
  at its compose name and port (a marked block).
- ``base/ops-console.yaml`` and ``docker-compose.yml``: the ops console's
  ``STOCKSYNC_CONSOLE_SERVICES``, each service that declares ``stocksync.io/console: "true"``
  at its name and port (marked blocks; ``scripts/stack.py`` sets it for the local run from
  :func:`shown_on_console`).
- ``README.md``: the services table (a marked block), a row per service: its port, what it
  does (its ``pyproject.toml``'s ``[tool.stocksync.readme]``), the topics it reads and
  publishes to (from the groups it registers) and what else it consumes and produces.

tests/unit/deploy holds the committed files to this output, so a new service's file is enough:

    uv run python scripts/generate_deploy.py          # rewrite the files
    uv run python scripts/generate_deploy.py --check  # exit 1 if one is out of date
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from stocksync_common.topics import Registered, registered_services
from workspace import ROOT, services

GENERATOR = "scripts/generate_deploy.py"
PART_OF = {"app.kubernetes.io/part-of": "stocksync"}
KAFKA_PORT = 9092
REDIS_PORT = 6379
DNS_PORT = 53
HTTPS_PORT = 443
MONITORING_NAMESPACE = "monitoring"
KEDA_BOOTSTRAP = "stocksync-kafka-bootstrap:9092"
LAG_THRESHOLD = "500"
CONSUMER_CPU = 70  # the HPA's target for a consumer (CPU follows lag closely enough)

# A service's deploy facts: annotations on its Deployment (deploy/k8s/base/<name>.yaml).
PREFIX = "stocksync.io/"
FACTS = {
    "production-replicas": "replicas in production (default 2); a consumer's autoscaling floor",
    "ingress": "`public`: its port from anywhere (webhooks); default: this namespace and "
    "Prometheus's only",
    "ingress-namespaces": "more namespaces that may reach its port, by name, comma separated",
    "egress-https": "what it calls on the internet over HTTPS (443); default: nothing",
    "egress-services": "`true`: it may reach every other service's HTTP port (admin APIs)",
    "autoscale-max": "scale a service that consumes nothing on CPU up to this many replicas",
    "autoscale-cpu": "the CPU utilization target of that scaling (default 70)",
    "autoscale-query": "with KEDA, also scale on this Prometheus query",
    "autoscale-threshold": "the query's value per replica",
    "console": "`true`: the ops console shows it (its dead letters) and calls its admin API",
    "production-cpu": "its CPU request in production (default 250m)",
    "production-memory": "its memory request in production (default 256Mi)",
    "production-memory-limit": "its memory limit in production (default 512Mi)",
    "production-resources": "`base`: no production patch (the base's resources, no spread)",
}
# Production resources when a service declares none (starting points: docs/scaling.md).
PRODUCTION_RESOURCES = {
    "production-cpu": "250m",
    "production-memory": "256Mi",
    "production-memory-limit": "512Mi",
}
QUANTITY = {
    "production-cpu": re.compile(r"\d+(\.\d+)?m?"),
    "production-memory": re.compile(r"\d+(Ki|Mi|Gi)"),
    "production-memory-limit": re.compile(r"\d+(Ki|Mi|Gi)"),
}
# Facts that take one of a few words (a typo would otherwise read as the default).
CHOICES = {
    "console": ("true", "false"),
    "egress-services": ("true", "false"),
    "production-resources": ("base",),
}
PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"


@dataclass(frozen=True)
class Readme:
    """A service's row in the README's services table, from its ``pyproject.toml``'s
    ``[tool.stocksync.readme]``: what it does, and what it consumes and produces besides the
    topics it registers, with a note on a topic where one helps."""

    does: str
    consumes: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    consumes_notes: tuple[tuple[str, str], ...] = ()
    produces_notes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Service:
    """One service as the shared manifests see it."""

    name: str
    port: int
    version: str
    uses_kafka: bool
    uses_redis: bool
    groups: dict[str, tuple[str, ...]]  # consumer group -> topics
    facts: dict[str, str]
    consumes: tuple[str, ...] = ()  # topics it reads (with a group or without)
    produces: tuple[str, ...] = ()  # topics it publishes to
    readme: Readme = Readme("")

    def fact(self, key: str, default: str = "") -> str:
        return self.facts.get(key, default)

    @property
    def replicas(self) -> int:
        return int(self.fact("production-replicas", "2"))

    @property
    def labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name, **PART_OF}


README_KEYS = ("does", "consumes", "produces", "consumes-notes", "produces-notes")


def read_readme(doc: dict[str, Any], where: Path) -> Readme:
    """``[tool.stocksync.readme]`` (``does`` falls back on ``[project] description``)."""
    table = doc.get("tool", {}).get("stocksync", {}).get("readme", {})
    unknown = sorted(set(table) - set(README_KEYS))
    if unknown:
        raise SystemExit(f"{where}: [tool.stocksync.readme] has unknown keys {unknown}")
    does = " ".join(str(table.get("does") or doc["project"].get("description", "")).split())
    if not does:
        raise SystemExit(f"{where}: [tool.stocksync.readme] does = what it does (README's table)")
    return Readme(
        does,
        tuple(table.get("consumes", ())),
        tuple(table.get("produces", ())),
        tuple(table.get("consumes-notes", {}).items()),
        tuple(table.get("produces-notes", {}).items()),
    )


@cache
def _topics_generator(root: Path) -> Any:
    path = root / "deploy" / "k8s" / "generate_topics.py"
    spec = importlib.util.spec_from_file_location("stocksync_generate_topics", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def partitions_for(topic: str, root: Path = ROOT) -> int:
    return int(_topics_generator(root).partitions_for(topic))


def deployment(root: Path, name: str) -> dict[str, Any]:
    path = root / "deploy" / "k8s" / "base" / f"{name}.yaml"
    if not path.is_file():
        raise SystemExit(f"{path}: a service's kustomize entry (its Deployment and Service)")
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    found = [d for d in docs if d.get("kind") == "Deployment"]
    if len(found) != 1 or found[0]["metadata"]["name"] != name:
        raise SystemExit(f"{path}: one Deployment named {name}")
    doc: dict[str, Any] = found[0]
    return doc


def read_facts(doc: dict[str, Any], name: str) -> dict[str, str]:
    annotations = doc["metadata"].get("annotations") or {}
    facts = {k.removeprefix(PREFIX): str(v) for k, v in annotations.items() if k.startswith(PREFIX)}
    unknown = sorted(set(facts) - set(FACTS))
    if unknown:
        raise SystemExit(f"{name}: unknown deploy facts {unknown}; known: {sorted(FACTS)}")
    for key, pattern in QUANTITY.items():
        if key in facts and not pattern.fullmatch(facts[key]):
            raise SystemExit(f"{name}: {PREFIX}{key} is not a quantity: {facts[key]!r}")
    for key, allowed in CHOICES.items():
        if key in facts and facts[key] not in allowed:
            raise SystemExit(
                f"{name}: {PREFIX}{key} takes {' or '.join(allowed)}, not {facts[key]!r}"
            )
    return facts


def read_services(root: Path = ROOT) -> list[Service]:
    """Every service of the workspace with its facts, in the order of their ports."""
    registry = registered_services()
    found = []
    for info in services(root):
        settings = importlib.import_module(f"{info.module}.settings").Settings
        manifest = root / "services" / info.name / "pyproject.toml"
        package = tomllib.loads(manifest.read_text())
        version = package["project"]["version"]
        registered = registry.get(info.name) or Registered()
        groups = dict(registered.consumers)
        reads = [t for ts in groups.values() for t in ts] + list(registered.reads)
        doc = deployment(root, info.name)
        found.append(
            Service(
                name=info.name,
                port=info.port,
                version=str(version),
                uses_kafka=bool(settings.uses_kafka),
                uses_redis=bool(settings.uses_redis),
                groups=groups,
                facts=read_facts(doc, info.name),
                consumes=tuple(dict.fromkeys(reads)),
                produces=tuple(registered.produces),
                readme=read_readme(package, manifest),
            )
        )
    return found


def meta(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "labels": labels}


def dump(header: str, docs: list[tuple[str, dict[str, Any]]]) -> str:
    """YAML documents, each after its comment lines (may be empty)."""
    parts = []
    for comment, doc in docs:
        lines = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
        parts.append(lines + yaml.safe_dump(doc, sort_keys=False, width=100))
    return header + "---\n".join(parts)


def header(what: str) -> str:
    return (
        f"# Generated by {GENERATOR} from each service's deploy/k8s/base/<name>.yaml (its\n"
        f"# stocksync.io/ annotations) and its code; do not edit. Regenerate: uv run python\n"
        f"# {GENERATOR}\n{what}"
    )


# --- PodDisruptionBudgets --------------------------------------------------------------------


def render_pdbs(found: list[Service]) -> str:
    docs = [
        (
            "",
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": meta(s.name, s.labels),
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": s.labels}},
            },
        )
        for s in found
    ]
    return dump(
        header(
            "# PodDisruptionBudgets: a voluntary disruption (node drain, cluster upgrade) takes\n"
            "# at most one pod of a service at a time. maxUnavailable (not minAvailable) so that\n"
            "# a one-replica overlay (local) can still be drained.\n"
        ),
        docs,
    )


# --- NetworkPolicies -------------------------------------------------------------------------


def _ports(*numbers: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": n} for n in numbers]


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


DNS_RULE = {
    "to": [{"namespaceSelector": {}}],
    "ports": _ports(DNS_PORT, protocol="UDP") + _ports(DNS_PORT),
}


def policy(service: Service, found: list[Service]) -> tuple[str, dict[str, Any]]:
    comment = [f"{service.name}:"]
    if service.fact("ingress") == "public":
        ingress: dict[str, Any] = {"ports": _ports(service.port)}
        comment.append(f"  ingress: port {service.port} from anywhere;")
    else:
        namespaces = [MONITORING_NAMESPACE] + [
            n.strip() for n in service.fact("ingress-namespaces").split(",") if n.strip()
        ]
        peers = [{"podSelector": {}}, *(_namespace(n) for n in namespaces)]
        ingress = {"from": peers, "ports": _ports(service.port)}
        comment.append(
            f"  ingress: port {service.port} from this namespace and {', '.join(namespaces)};"
        )
    egress: list[dict[str, Any]] = [DNS_RULE]
    reaches = ["DNS"]
    if service.uses_kafka:
        egress.append({"ports": _ports(KAFKA_PORT)})
        reaches.append("Kafka")
    if service.uses_redis:
        egress.append({"ports": _ports(REDIS_PORT)})
        reaches.append("Redis")
    if service.fact("egress-services") == "true":
        others = [s.port for s in found if s.name != service.name]
        egress.append({"to": [{"podSelector": {"matchLabels": PART_OF}}], "ports": _ports(*others)})
        reaches.append("the other services' HTTP ports")
    if https := service.fact("egress-https"):
        egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": _ports(HTTPS_PORT)})
        reaches.append(f"HTTPS to {https}")
    comment.append(f"  egress: {', '.join(reaches)}.")
    doc = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(service.name, service.labels),
        "spec": {
            "podSelector": {"matchLabels": service.labels},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [ingress],
            "egress": egress,
        },
    }
    return "\n".join(comment), doc


TOPICS_JOB = "stocksync-topics"
FIRST_ADMIN_JOB = "stocksync-first-admin"


def job_policy(name: str, port: int) -> dict[str, Any]:
    """A Job's policy: DNS and one port out (Kafka or Redis), no ingress."""
    labels = {"app.kubernetes.io/name": name, **PART_OF}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(name, labels),
        "spec": {
            "podSelector": {"matchLabels": labels},
            "policyTypes": ["Ingress", "Egress"],
            "egress": [DNS_RULE, {"ports": _ports(port)}],
        },
    }


def render_policies(found: list[Service]) -> str:
    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "stocksync-default-deny"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    docs = [("", deny), *(policy(s, found) for s in found)]
    docs.append(
        ("The topics Job: DNS and Kafka only, no ingress.", job_policy(TOPICS_JOB, KAFKA_PORT))
    )
    docs.append(("The first-admin Job: DNS and Redis only, no ingress.",
                 job_policy(FIRST_ADMIN_JOB, REDIS_PORT)))  # fmt: skip
    return dump(
        header(
            "# NetworkPolicies: everything is denied, then each pod gets exactly what it needs:\n"
            "# ingress to its HTTP port from this namespace and Prometheus's (namespace\n"
            "# monitoring), from anywhere for stocksync.io/ingress: public, and from the\n"
            "# stocksync.io/ingress-namespaces (the ops console's Ingress controller); egress to\n"
            "# DNS, Kafka (9092) and Redis (6379) when its Settings use them, HTTPS (443) for\n"
            "# stocksync.io/egress-https, the other services' ports for\n"
            "# stocksync.io/egress-services.\n"
            "# Kafka and Redis are matched by port, not by pod, because they usually live in\n"
            "# another namespace (Strimzi's, a managed Redis). Tighten `to:` in an overlay if\n"
            "# yours are known.\n"
        ),
        docs,
    )


# --- autoscaling -----------------------------------------------------------------------------


def max_replicas(service: Service, root: Path) -> int:
    """A consumer: the fewest partitions among its topics (a replica beyond owns none)."""
    if service.groups:
        return min(partitions_for(t, root) for ts in service.groups.values() for t in ts)
    return int(service.fact("autoscale-max"))


def autoscaled(found: list[Service]) -> list[Service]:
    return [s for s in found if s.groups or s.fact("autoscale-max")]


def _target(name: str) -> dict[str, str]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}


def scaled_object(service: Service, root: Path) -> dict[str, Any]:
    triggers: list[dict[str, Any]] = []
    for group, topics in service.groups.items():
        for topic in topics:
            metadata = {
                "bootstrapServers": KEDA_BOOTSTRAP,
                "consumerGroup": group,
                "topic": topic,
                "lagThreshold": LAG_THRESHOLD,
                "activationLagThreshold": "0",
                "offsetResetPolicy": "earliest",
                "allowIdleConsumers": "false",
                "sasl": "scram_sha512",
                "tls": "enable",
            }
            triggers.append(
                {
                    "type": "kafka",
                    "metadata": metadata,
                    "authenticationRef": {"name": "stocksync-kafka"},
                }
            )
    if not service.groups:
        cpu = service.fact("autoscale-cpu", str(CONSUMER_CPU))
        triggers.append({"type": "cpu", "metricType": "Utilization", "metadata": {"value": cpu}})
        if query := service.fact("autoscale-query"):
            metadata = {
                "serverAddress": PROMETHEUS,
                "query": query,
                "threshold": service.fact("autoscale-threshold"),
                "activationThreshold": "0",
            }
            triggers.append({"type": "prometheus", "metadata": metadata})
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": meta(service.name, service.labels),
        "spec": {
            "scaleTargetRef": _target(service.name),
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "minReplicaCount": service.replicas,
            "maxReplicaCount": max_replicas(service, root),
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}
                }
            },
            "triggers": triggers,
        },
    }


def hpa(service: Service, root: Path) -> dict[str, Any]:
    cpu = int(service.fact("autoscale-cpu", str(CONSUMER_CPU)))
    behavior: dict[str, Any] = {"scaleDown": {"stabilizationWindowSeconds": 300}}
    if not service.groups:  # requests arrive in bursts: scale up at once
        behavior = {"scaleUp": {"stabilizationWindowSeconds": 0}, **behavior}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(service.name, service.labels),
        "spec": {
            "scaleTargetRef": _target(service.name),
            "minReplicas": service.replicas,
            "maxReplicas": max_replicas(service, root),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu},
                    },
                }
            ],
            "behavior": behavior,
        },
    }


KEDA_HEADER = (
    "# KEDA ScaledObjects: a consumer scales on the lag of the groups it registers, one\n"
    "# kafka trigger per group and topic (KEDA takes the largest), from its production\n"
    "# replicas up to the partitions of its topics (a replica beyond would own none). A\n"
    "# service that consumes nothing and declares stocksync.io/autoscale-max scales on\n"
    "# CPU and its stocksync.io/autoscale-query (webhook-receiver: webhooks per second\n"
    "# from the Prometheus Operator's Prometheus). KEDA reads the lag as the Kafka user\n"
    "# stocksync-keda (SCRAM over TLS, allowed to describe these groups and topics only:\n"
    "# overlays/production/users.yaml) through the TriggerAuthentication stocksync-kafka\n"
    "# (triggerauthentication.yaml). KEDA creates and owns the HPA: never with ../hpa.\n"
)
HPA_HEADER = (
    "# The HPA alternative to ../keda, for a cluster without KEDA: autoscaling/v2 on\n"
    "# CPU, which needs only metrics-server. Consumers are CPU-bound when they have lag,\n"
    "# so CPU follows lag closely enough; for scaling on the lag itself, serve\n"
    "# stocksync_consumer_lag_records through prometheus-adapter and use an External\n"
    "# metric. Same floors and caps as the ScaledObjects.\n"
)


def render_scalers(
    found: list[Service], root: Path, what: str, scaler: Callable[[Service, Path], dict[str, Any]]
) -> str:
    """One scaler (``scaled_object`` or ``hpa``) per autoscaled service, after ``what``."""
    return dump(header(what), [("", scaler(s, root)) for s in autoscaled(found)])


# --- blocks in the kustomizations ------------------------------------------------------------

BEGIN = f"# begin generated by {GENERATOR}; do not edit inside"
END = f"# end generated by {GENERATOR}"


def replace_block(text: str, key: str, body: list[str], path: Path, indent: str = "  ") -> str:
    """The marked block under ``key:`` (``key`` with its own indentation, if any; the block's
    lines ``indent`` deeper) replaced by ``body``."""
    pattern = re.compile(
        rf"^(?P<key>{re.escape(key)}:\n)(?P<pre>(?:{indent}.*\n)*?){indent}{re.escape(BEGIN)}\n"
        rf"(?:.*\n)*?{indent}{re.escape(END)}\n",
        re.MULTILINE,
    )
    match = pattern.search(text)
    if match is None:
        where = key.strip()
        raise SystemExit(f"{path}: no generated block under `{where}:` ({BEGIN!r} ... {END!r})")
    block = "".join(f"{indent}{line}\n" for line in [BEGIN, *body, END])
    return text[: match.start()] + match["key"] + match["pre"] + block + text[match.end() :]


def base_kustomization(text: str, found: list[Service], path: Path) -> str:
    return replace_block(text, "resources", [f"- {s.name}.yaml" for s in found], path)


def overlay_kustomization(text: str, found: list[Service], local: bool, path: Path) -> str:
    replicas = []
    images = []
    for s in found:
        replicas += [f"- name: {s.name}", f"  count: {1 if local else s.replicas}"]
        images += [f"- name: stocksync/{s.name}", f"  newTag: {'dev' if local else s.version}"]
    text = replace_block(text, "replicas", replicas, path)
    return replace_block(text, "images", images, path)


def resources_patch(service: Service) -> list[str]:
    """Its production resources and its replicas spread over nodes: a JSON patch of its
    Deployment (lines of a ``patches:`` entry)."""
    cpu, memory, limit = (service.fact(k, d) for k, d in PRODUCTION_RESOURCES.items())
    return [
        "- target:",
        "    kind: Deployment",
        f"    name: {service.name}",
        "  patch: |-",
        "    - op: replace",
        "      path: /spec/template/spec/containers/0/resources",
        "      value:",
        f"        requests: {{cpu: {cpu}, memory: {memory}}}",
        f"        limits: {{memory: {limit}}}",
        "    - op: add",
        "      path: /spec/template/spec/topologySpreadConstraints",
        "      value:",
        "        - maxSkew: 1",
        "          topologyKey: kubernetes.io/hostname",
        "          whenUnsatisfiable: ScheduleAnyway",
        "          labelSelector:",
        "            matchLabels:",
        f"              app.kubernetes.io/name: {service.name}",
    ]


def production_patches(text: str, found: list[Service], path: Path) -> str:
    patched = [s for s in found if s.fact("production-resources") != "base"]
    return replace_block(text, "patches", [x for s in patched for x in resources_patch(s)], path)


def prometheus_config(text: str, found: list[Service], path: Path) -> str:
    jobs = []
    for s in found:
        jobs += [f"- job_name: stocksync-{s.name}", "  static_configs:"]
        jobs += [f'    - targets: ["{s.name}:{s.port}"]']
    return replace_block(text, "scrape_configs", jobs, path)


# --- the ops console's services --------------------------------------------------------------

CONSOLE = "ops-console"
CONSOLE_SETTING = "STOCKSYNC_CONSOLE_SERVICES"


def on_console(found: list[Service]) -> list[Service]:
    """The services the ops console shows: those declaring ``stocksync.io/console: "true"``."""
    return [s for s in found if s.fact("console") == "true"]


def shown_on_console(root: Path = ROOT) -> tuple[str, ...]:
    """Their names, in the order of their ports, from their files alone (the local run's)."""
    return tuple(
        s.name
        for s in services(root)
        if read_facts(deployment(root, s.name), s.name).get("console") == "true"
    )


def console_urls(found: list[Service]) -> dict[str, str]:
    """Each shown service at its name and port (its k8s Service, its compose host)."""
    return {s.name: f"http://{s.name}:{s.port}" for s in on_console(found)}


def folded_json(urls: dict[str, str]) -> list[str]:
    """The setting's JSON object, an entry a line, for a YAML folded scalar (``>-``: its lines
    join with spaces into the one-line object)."""
    items = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in urls.items()]
    return ("{" + ",\n".join(items) + "}").splitlines()


def console_env(text: str, found: list[Service], path: Path) -> str:
    """base/ops-console.yaml: the setting among its container's ``env``."""
    lines = [f"- name: {CONSOLE_SETTING}", "  value: >-"]
    lines += [f"    {line}" for line in folded_json(console_urls(found))]
    return replace_block(text, "          env", lines, path, indent=" " * 12)


def compose_console_env(text: str, found: list[Service], path: Path) -> str:
    """docker-compose.yml: the setting in the ops console's ``environment``."""
    lines = [f"{CONSOLE_SETTING}: >-", *(f"  {line}" for line in folded_json(console_urls(found)))]
    return replace_block(text, "    environment", lines, path, indent=" " * 6)


# --- the README's services table --------------------------------------------------------------

README_BEGIN = f"<!-- begin generated by {GENERATOR}; do not edit inside -->"
README_END = f"<!-- end generated by {GENERATOR} -->"


def _cell(service: Service, topics: tuple[str, ...], column: str) -> str:
    readme = service.readme
    notes = dict(readme.consumes_notes if column == "consumes" else readme.produces_notes)
    stale = sorted(set(notes) - set(topics))
    if stale:
        raise SystemExit(f"{service.name}: {column}-notes on {stale}, which it does not {column}")
    named = [f"`{t}` ({notes[t]})" if t in notes else f"`{t}`" for t in topics]
    extra = readme.consumes if column == "consumes" else readme.produces
    return ", ".join([*named, *extra]) or "nothing"


def services_table(found: list[Service]) -> list[str]:
    """The README's table: a row per service, its topics from its code."""
    lines = ["| service | port | does | consumes | produces |", "|---|---|---|---|---|"]
    for s in found:
        consumes, produces = _cell(s, s.consumes, "consumes"), _cell(s, s.produces, "produces")
        lines.append(f"| `{s.name}` | {s.port} | {s.readme.does} | {consumes} | {produces} |")
    return lines


def readme_table(text: str, found: list[Service], path: Path) -> str:
    pattern = re.compile(rf"^{re.escape(README_BEGIN)}\n(?:.*\n)*?{re.escape(README_END)}\n", re.M)
    match = pattern.search(text)
    if match is None:
        raise SystemExit(f"{path}: no generated services table ({README_BEGIN} ... {README_END})")
    block = "\n".join([README_BEGIN, *services_table(found), README_END]) + "\n"
    return text[: match.start()] + block + text[match.end() :]


def outputs(root: Path = ROOT) -> dict[Path, str]:
    """Every file this writes, with its content."""
    k8s = root / "deploy" / "k8s"
    found = read_services(root)
    base = k8s / "base" / "kustomization.yaml"
    production = k8s / "overlays" / "production" / "kustomization.yaml"
    local = k8s / "overlays" / "local" / "kustomization.yaml"
    prometheus = root / "deploy" / "monitoring" / "prometheus.yml"
    console = k8s / "base" / f"{CONSOLE}.yaml"
    compose = root / "docker-compose.yml"
    readme = root / "README.md"
    return {
        base: base_kustomization(base.read_text(), found, base),
        k8s / "base" / "pdb.yaml": render_pdbs(found),
        k8s / "base" / "networkpolicies.yaml": render_policies(found),
        k8s / "components" / "keda" / "scaledobjects.yaml": render_scalers(
            found, root, KEDA_HEADER, scaled_object
        ),
        k8s / "components" / "hpa" / "hpa.yaml": render_scalers(found, root, HPA_HEADER, hpa),
        production: production_patches(
            overlay_kustomization(production.read_text(), found, False, production),
            found,
            production,
        ),
        local: overlay_kustomization(local.read_text(), found, True, local),
        prometheus: prometheus_config(prometheus.read_text(), found, prometheus),
        console: console_env(console.read_text(), found, console),
        compose: compose_console_env(compose.read_text(), found, compose),
        readme: readme_table(readme.read_text(), found, readme),
    }


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    return int(_topics_generator(root).write_files(outputs(root), args.check, GENERATOR))


if __name__ == "__main__":
    raise SystemExit(main())
