"""``stocksync-dlq`` argument parsing and validation (no Kafka)."""

import pytest

from stocksync_common.dlq_cli import parser, validate


def parse(*argv: str):
    return parser().parse_args(list(argv))


def test_list_defaults_to_pending_and_accepts_filters():
    args = parse("list", "--topic", "t.dlq.g", "--reason", "dependency:", "--limit", "5")
    assert (args.status, args.reason, args.limit) == ("pending", "dependency:", 5)
    assert parse("--json", "--group", "notifier", "list").group == ["notifier"]
    with pytest.raises(SystemExit):
        parse("list", "--status", "deleted")


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["replay", "t.dlq.g:0:1"], None),
        (["replay", "t.dlq.g:0:1", "t.dlq.g:1:2"], None),
        (["replay", "--topic", "t.dlq.g", "--all"], None),
        (["replay", "--topic", "t.dlq.g", "--reason", "poison"], None),
        (["replay"], "give ids, or --topic with --reason or --all"),
        (["replay", "--topic", "t.dlq.g"], "give ids, or --topic with --reason or --all"),
        (["replay", "t.dlq.g:0:1", "--all"], "give ids or --topic, not both"),
    ],
)
def test_replay_needs_ids_or_a_topic_filter(argv, problem):
    assert validate(parse(*argv)) == problem


def test_purge_needs_a_topic_and_show_an_id():
    assert parse("purge", "--topic", "t", "--confirm", "t").confirm == "t"
    with pytest.raises(SystemExit):
        parse("purge")
    with pytest.raises(SystemExit):
        parse("show")
