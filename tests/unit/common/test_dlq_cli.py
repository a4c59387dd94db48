"""``stocksync-dlq`` argument parsing and validation (no Kafka)."""

import pytest

from stocksync_common.dlq.cli import parser, validate


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


def test_json_and_group_are_read_before_or_after_the_command():
    assert parse("list", "--json").json is True
    assert parse("show", "t.dlq.g:0:1", "--json").json is True
    assert parse("--json", "replay", "t.dlq.g:0:1").json is True
    assert parse("list", "--group", "a", "--group", "b").group == ["a", "b"]
    assert parse("list").json is False and parse("list").group is None


def test_tables_are_aligned_and_show_a_dash_for_nothing(capsys):
    from stocksync_common.dlq.cli import _print

    rows: list[dict[str, object]] = [
        {"id": "a.dlq.g:0:1", "key": None, "n": 3},
        {"id": "b:0:22", "key": "SKU-1", "n": 10},
    ]
    _print(parse("list"), rows, ["id", "key", "n"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "key", "n"]
    assert lines[1].split() == ["a.dlq.g:0:1", "-", "3"]
    assert "None" not in "\n".join(lines)
    assert {line.index(line.split()[1]) for line in lines} == {len("a.dlq.g:0:1") + 2}
