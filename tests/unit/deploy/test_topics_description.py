"""One description of the topics, three creators: the topics job (Kubernetes and compose,
through the generated ``base/all-topics.yaml``), the production Strimzi topics (tested in
test_k8s_production) and the services' start-up (a consumer loop's missing retry and DLQ
topics, shopify-sync's extra ones, all through ``ensure_topics``). Each test fails when one of
them drifts from ``stocksync_common.topics``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from unit.deploy.test_compose import bind_mounts
from unit.deploy.test_compose import environment as compose_environment
from unit.deploy.test_k8s import BASE, Workload, kustomization
from unit.deploy.test_k8s_production import load_generator

from stocksync_common import consumer as consumer_module
from stocksync_common.consumer import ConsumerLoop
from stocksync_common.topics import (
    DLQ_CONFIG,
    RAW_BODY_RETENTION_MS,
    RETRY_CONFIG,
    WEBHOOKS_PARKED,
    TopicSpec,
    all_topics,
    dlq_topic,
    load_topics,
    registered,
    retry_topic,
    spec_of,
)

ALL_TOPICS = BASE / "all-topics.yaml"


def test_the_jobs_topics_file_is_the_description() -> None:
    generator = load_generator()
    assert ALL_TOPICS.read_text() == generator.render_all_topics(), (
        "run `uv run python deploy/k8s/generate_topics.py`"
    )
    assert load_topics(ALL_TOPICS) == all_topics()
    names = {s.name for s in load_topics(ALL_TOPICS)}
    for group, topics in registered().consumers.items():  # every group, not one service's
        assert {retry_topic(t, group) for t in topics} <= names, group
        assert {dlq_topic(t, group) for t in topics} <= names, group


def test_the_kubernetes_job_reads_the_topics_file() -> None:
    job = Workload("stocksync-topics", "Job", "common")
    env = {e["name"]: e.get("value") for e in job.container["env"]}
    path = Path(env["STOCKSYNC_TOPICS_FILE"])
    [mount] = [m for m in job.container["volumeMounts"] if path.parent == Path(m["mountPath"])]
    [volume] = [v for v in job.pod["volumes"] if v["name"] == mount["name"]]
    generators = {g["name"]: g for g in kustomization(BASE)["configMapGenerator"]}
    files = generators[volume["configMap"]["name"]]["files"]
    assert files == [path.name] and (BASE / path.name) == ALL_TOPICS


def test_the_compose_job_reads_the_topics_file() -> None:
    path = compose_environment("topics")["STOCKSYNC_TOPICS_FILE"]
    assert bind_mounts("topics")[path].resolve() == ALL_TOPICS.resolve()


def test_creating_a_topic_by_name_gives_it_the_descriptions_config() -> None:
    """``ensure_topics`` (every start-up's path) configures a topic by :func:`spec_of`: the
    same config as the job's file for every topic it lists, and a renamed group's topics
    configured like any other group's."""
    for spec in all_topics():
        assert spec_of(spec.name) == spec, spec.name
    assert spec_of(retry_topic("t.v1", "a-test-group")).config == RETRY_CONFIG
    assert spec_of(dlq_topic("t.v1", "a-test-group")) == TopicSpec(
        "t.v1.dlq.a-test-group", DLQ_CONFIG
    )


def test_shopify_syncs_extra_topics_at_start_up_are_described() -> None:
    """shopify-sync creates a few topics itself at start-up (through ``ensure_topics``, so
    with :func:`spec_of`'s config): each is one the job creates too."""
    from shopify_sync.bootstrap import Container
    from shopify_sync.settings import Settings

    extra = Container.extra_topics(SimpleNamespace(settings=Settings()))  # type: ignore[arg-type]
    assert set(extra) <= {s.name for s in all_topics()}


async def test_a_consumer_loop_creates_its_missing_topics_with_the_descriptions_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[Any] = []

    async def ensure(bootstrap: str, partitions: Any, replication: Any, **kw: Any) -> list[str]:
        created.append(
            (bootstrap, dict(partitions), replication, kw.get("configs"), kw.get("min_isr"))
        )
        return list(partitions)

    monkeypatch.setattr(consumer_module, "ensure_topics", ensure)

    class Kafka:
        async def topics(self) -> set[str]:
            made = {name for _, names, *_ in created for name in names}
            return {"orders.v1", *made}

        async def partitions_for(self, _topic: str) -> set[int]:
            return {0, 1, 2}

    kafka: Any = Kafka()
    loop = ConsumerLoop(kafka, kafka, "g", ["orders.v1"], handler=kafka, bootstrap="b:9092")
    await loop._create_missing()
    retry, dlq = retry_topic("orders.v1", "g"), dlq_topic("orders.v1", "g")
    assert created == [
        ("b:9092", {retry: 3, dlq: 3}, None, {retry: RETRY_CONFIG, dlq: DLQ_CONFIG}, None),
    ]


async def test_every_creator_replicates_by_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replication factor and min.insync.replicas of the settings reach every path that
    creates topics: a consumer loop the runtime builds (its group's retry and DLQ topics),
    shopify-sync's extra topics and the topics command (#24: a three-broker cluster runs
    with 3 and 2 through the settings alone)."""
    from shopify_sync import bootstrap as sync_bootstrap
    from shopify_sync.settings import Settings as SyncSettings
    from stocksync_common import topics as topics_module
    from stocksync_common.runtime import Consumer, consumer_loop
    from stocksync_common.settings import CommonSettings

    calls: list[tuple[Any, Any]] = []
    made: set[str] = set()

    async def ensure(_bootstrap: str, partitions: Any, replication: Any, **kw: Any) -> list[str]:
        calls.append((replication, kw.get("min_isr")))
        made.update(partitions)
        return list(partitions)

    for module in (consumer_module, sync_bootstrap, topics_module):
        monkeypatch.setattr(module, "ensure_topics", ensure)
    monkeypatch.setenv("STOCKSYNC_TOPIC_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("STOCKSYNC_TOPIC_MIN_INSYNC_REPLICAS", "2")

    async def handle(_tp: Any, _items: Any) -> None:
        return None

    class Kafka:
        async def topics(self) -> set[str]:
            return {"orders.v1", *made}

        async def partitions_for(self, _topic: str) -> set[int]:
            return {0}

    spec = Consumer[Any]("g", ("orders.v1",), lambda _c: handle)
    loop = consumer_loop(spec, None, CommonSettings(kafka_bootstrap_servers="b:1"), Kafka())  # type: ignore[arg-type]
    await loop.consumer.stop()  # built, never started: the fake answers instead
    loop.consumer = Kafka()  # type: ignore[assignment]
    await loop._create_missing()
    container = SimpleNamespace(settings=SyncSettings(), extra_topics=lambda: ["a.v1"])
    await sync_bootstrap.create_extra_topics(container)  # type: ignore[arg-type]
    assert await asyncio.to_thread(topics_module.main, ["create"]) == 0
    assert calls == [(3, 2)] * 3


async def test_min_insync_above_the_replicas_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A topic whose min.insync.replicas exceeds its replicas would refuse every acks=all
    write: the settings refuse it, and so does ``ensure_topics`` when the factor comes from
    the cluster's size; a topic made with a min.insync.replicas carries it as its config."""
    from pydantic import ValidationError

    from stocksync_common import topics as topics_module
    from stocksync_common.settings import CommonSettings

    with pytest.raises(ValidationError, match="MIN_INSYNC_REPLICAS \\(3\\) exceeds"):
        CommonSettings(topic_replication_factor=2, topic_min_insync_replicas=3)
    made: list[Any] = []

    class Admin:
        def __init__(self, **_kw: Any) -> None: ...
        async def start(self) -> None: ...
        async def close(self) -> None: ...

        async def list_topics(self) -> list[str]:
            return []

        async def describe_cluster(self) -> dict[str, Any]:
            return {"brokers": [{"node_id": 1}]}  # one broker: one replica

        async def create_topics(self, new: list[Any], **_kw: Any) -> None:
            made.extend(new)

    monkeypatch.setattr(topics_module, "AIOKafkaAdminClient", Admin)
    with pytest.raises(ValueError, match="min.insync.replicas 2 exceeds the 1 replicas"):
        await topics_module.ensure_topics("b:1", {"orders.v1": 3}, None, min_isr=2)
    assert made == []
    await topics_module.ensure_topics("b:1", {"orders.v1": 3}, 3, min_isr=2)
    [topic] = made
    assert topic.replication_factor == 3
    assert topic.topic_configs["min.insync.replicas"] == "2"


def test_a_bad_topics_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "topics.yaml"
    for text, reason in [
        ("topics: []\n", "not a stocksync-topics/1 file"),
        ("format: stocksync-topics/1\ntopics: []\n", "lists no topics"),
        ("format: stocksync-topics/1\ntopics: [{config: {}}]\n", "entry 0 needs a name"),
        ("format: stocksync-topics/1\ntopics: [{name: a, config: [1]}]\n", "entry 0 needs"),
        ("{", "cannot read it"),
    ]:
        bad.write_text(text)
        with pytest.raises(ValueError, match=reason) as caught:
            load_topics(bad)
        assert str(bad) in str(caught.value)
    with pytest.raises(ValueError, match="cannot read it"):
        load_topics(tmp_path / "missing.yaml")


def test_topics_holding_records_as_they_arrived_have_a_bounded_retention() -> None:
    """Dead letters and parked webhooks keep bodies as they arrived (personal data the
    receiver strips elsewhere): every one of them is kept two weeks at most, whatever the
    broker's default (#22)."""
    raw = [s for s in all_topics() if ".dlq." in s.name or s.name == WEBHOOKS_PARKED]
    assert raw and any(".dlq." in s.name for s in raw)
    for spec in raw:
        assert int(spec.config["retention.ms"]) <= RAW_BODY_RETENTION_MS, spec.name
    assert RAW_BODY_RETENTION_MS <= 14 * 24 * 3600 * 1000
