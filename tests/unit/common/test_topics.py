from stocksync_common.topics import INVENTORY_LEVELS, all_topics, dlq_topic, registered

# The groups the services register (each in its own bootstrap).
CONSUMER_GROUPS = registered().consumers


def test_every_consumed_topic_has_a_dlq():
    names = {t.name for t in all_topics()}
    for group, topics in CONSUMER_GROUPS.items():
        for topic in topics:
            assert dlq_topic(topic, group) in names


def test_levels_topic_is_compacted():
    spec = next(t for t in all_topics() if t.name == INVENTORY_LEVELS)
    assert spec.config["cleanup.policy"] == "compact"


def test_names_are_versioned():
    assert all(".v1" in t.name for t in all_topics())
