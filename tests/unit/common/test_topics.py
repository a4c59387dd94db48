import pytest

from stocksync_common.topics import (
    INVENTORY_LEVELS,
    TopicSpec,
    all_topics,
    dlq_topic,
    dump_topics,
    main,
    registered,
)

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


def test_the_command_lists_the_topics_of_the_topics_file_when_one_is_set(
    tmp_path, monkeypatch, capsys
):
    path = tmp_path / "all-topics.yaml"
    path.write_text(dump_topics([TopicSpec("a.v1", {"retention.ms": "1"}), TopicSpec("b.v1")]))
    monkeypatch.setenv("STOCKSYNC_TOPICS_FILE", str(path))
    assert main(["list"]) == 0
    assert capsys.readouterr().out == "a.v1\nb.v1\n"
    monkeypatch.delenv("STOCKSYNC_TOPICS_FILE")
    assert main(["list"]) == 0
    assert capsys.readouterr().out.split() == [t.name for t in all_topics()]


def test_the_command_refuses_a_bad_topics_file_with_the_reason(tmp_path, monkeypatch, capsys):
    path = tmp_path / "all-topics.yaml"
    path.write_text("topics: [a]\n")
    monkeypatch.setenv("STOCKSYNC_TOPICS_FILE", str(path))
    assert main(["create"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "not a stocksync-topics/1 file" in err
    with pytest.raises(SystemExit):
        main(["nonsense"])
