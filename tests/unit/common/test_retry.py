"""Retry scheduling, retry headers and failure classification."""

import pytest
import redis.exceptions

from stocksync_common.retry import (
    ATTEMPT,
    NOT_BEFORE,
    ORIGIN,
    DependencyUnavailable,
    Origin,
    RetrySchedule,
    attempts_of,
    classify,
    is_retry_topic,
    not_before_ms,
    origin_of,
    retry_headers,
)
from stocksync_common.topics import all_topics, retry_topic
from support.redis_errors import cluster_refusal, cluster_unreachable


def test_schedule_is_1_2_4_8_seconds_then_dlq():
    schedule = RetrySchedule()
    assert [schedule.delay_after(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, None]
    assert schedule.delay_after(0) is None


def test_retry_headers_keep_the_originals_and_replace_ours():
    original = [("correlation-id", b"c1"), ("type", b"t"), (ATTEMPT, b"1"), (NOT_BEFORE, b"5")]
    origin = Origin("orders.v1", 2, 17)
    headers = retry_headers(original, origin, 2, 12345)
    assert headers[:2] == [("correlation-id", b"c1"), ("type", b"t")]
    assert attempts_of(headers) == 2 and not_before_ms(headers) == 12345
    assert [k for k, _ in headers].count(ATTEMPT) == 1
    assert origin_of("orders.v1.retry.g", 0, 3, headers) == origin


def test_origin_defaults_to_the_record_itself_and_parses_topics_with_colons():
    assert origin_of("a.v1", 1, 2, []) == Origin("a.v1", 1, 2)
    assert Origin.parse(Origin("we:ird", 4, 5).header()) == Origin("we:ird", 4, 5)
    assert attempts_of([]) == 0 and not_before_ms([(ORIGIN, b"0:0:x")]) == 0


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (DependencyUnavailable("shopify"), "dependency:shopify"),
        (redis.exceptions.ConnectionError("refused"), "dependency:redis"),
        (redis.exceptions.TimeoutError("slow"), "dependency:redis"),
        # a Redis Cluster between a master's loss and its replica's promotion (ADR 0029)
        (redis.exceptions.ClusterDownError("CLUSTERDOWN"), "dependency:redis"),
        (redis.exceptions.MasterDownError("MASTERDOWN"), "dependency:redis"),
        (redis.exceptions.TryAgainError("TRYAGAIN"), "dependency:redis"),
        (ConnectionRefusedError(), "dependency:network"),
        (ValueError("bug"), "exhausted"),
        # the cluster client's own (not RedisErrors): no node answered, a slot nobody serves;
        # a call it refused before sending is the record's bug, not Redis down
        (cluster_unreachable(), "dependency:redis"),
        (redis.exceptions.SlotNotCoveredError('Slot "7" is not covered'), "dependency:redis"),
        (cluster_refusal(), "exhausted"),
    ],
)
def test_classify(exc, reason):
    assert classify(exc) == reason


def test_classify_sees_a_wrapped_dependency_failure():
    try:
        try:
            raise KeyError("x")
        except KeyError as inner:
            raise RuntimeError("wrapped") from DependencyUnavailable("wms", str(inner))
    except RuntimeError as exc:
        assert classify(exc) == "dependency:wms"


def test_every_consumer_group_has_retry_topics_in_the_catalog():
    names = {t.name for t in all_topics()}
    assert retry_topic("inventory.commands.v1", "inventory-adjuster") in names
    assert not any(is_retry_topic(n) and "webhook-receiver" in n for n in names)
