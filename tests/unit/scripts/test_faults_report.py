"""docs/reliability.md has two writers: the fault suite's report and the cluster suite's
section (``report.py --cluster``). Each rewrites its own part and keeps the other's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faults import report

MACHINE = {"cpus": 2, "uname": "Linux test"}


def outcome(name: str, injected: dict[str, Any], outage: dict[str, Any]) -> dict[str, Any]:
    return {
        "fault": name, "events_in": 10, "accepted": 10, "applied": 5, "in_dlq": 0, "lost": 0,
        "double_applied": 0, "recover_s": 1.5, "fired": {"injected": injected, "healed": {}},
        "detail": {"quiesced": True, "truth_vs_model": {}, "outage": outage, "load_avg_1m": 3.2},
    }  # fmt: skip


def write(path: Path, faults: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"run_at": "T", "scale": 1.0, "machine": MACHINE, "faults": faults}))
    return path


def test_each_writer_keeps_the_others_part(tmp_path: Path) -> None:
    page = tmp_path / "reliability.md"
    main = write(tmp_path / "latest.json", [outcome("SIGKILL notifier", {"killed_pid": 1}, {})])
    kill = {"node": 2, "active_controller": True, "partitions_led": 40, "election_s": 11.1,
            "restart_s": 13.8, "in_sync_s": 0.6}  # fmt: skip
    seen = {"accepted_during": 44, "refused": 7, "first_s": 3.2, "last_s": 10.3, "window_s": 9.1}
    steps = [{"node": n, "restart_s": 20.0, "in_sync_s": 1.0, "accepted_during": 9} for n in (1, 2)]
    cluster = write(
        tmp_path / "cluster-latest.json",
        [
            outcome("SIGKILL the active controller", kill, seen),
            outcome("rolling restart", {"steps": steps}, {"accepted_during": 18, "refused": 0}),
        ],
    )
    report.main(["report.py", str(main), str(page)])
    first = page.read_text()
    assert report.CLUSTER_HEADING not in first and "SIGKILL notifier" in first

    report.main(["report.py", "--cluster", str(cluster), str(page)])
    both = page.read_text()
    assert both.startswith(first.partition(report.REPRODUCE_HEADING)[0])  # kept as it was
    row = next(line for line in both.splitlines() if "active controller |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "3.2" and "the active controller, leading 40" in cells[7]
    assert cells[8:14] == ["44", "11.1", "7", "9.1 (3.2-10.3)", "12.3", "13.8"]
    assert "node 2: restart 20.0 s, in sync 1.0 s, 9 accepted" in both
    assert both.count(report.REPRODUCE_HEADING) == 1 and both.endswith("```\n")

    report.main(["report.py", str(main), str(page)])  # the fault suite again
    assert page.read_text() == both


def test_a_redis_master_case_writes_its_own_section_and_keeps_the_brokers(tmp_path: Path) -> None:
    page = tmp_path / "reliability.md"
    main = write(tmp_path / "latest.json", [outcome("SIGKILL notifier", {"killed_pid": 1}, {})])
    kill = {"node": 2, "partitions_led": 40, "election_s": 11.1, "restart_s": 13.8,
            "in_sync_s": 0.6}  # fmt: skip
    brokers = write(tmp_path / "brokers.json", [outcome("SIGKILL a broker", kill, {})])
    master = {
        "node": 1,
        "slots": "0-5460",
        "promoted_s": 4.84,
        "restart_s": 0.65,
        "detected": {"checked": 2, "lost": ["A"], "s": 0.22},
        "repair": {"skus": 1},
    }
    seen = {"accepted_during": 19, "refused": 3, "first_s": 0.22, "last_s": 3.86, "window_s": 4.48}
    redis = write(tmp_path / "redis.json", [outcome("SIGKILL a Redis master", master, seen)])
    report.main(["report.py", str(main), str(page)])
    report.main(["report.py", "--cluster", str(brokers), str(page)])
    with_brokers = page.read_text()
    report.main(["report.py", "--cluster", str(redis), str(page)])
    both = page.read_text()
    assert both.startswith(with_brokers.partition(report.REPRODUCE_HEADING)[0])  # kept
    row = next(line for line in both.splitlines() if "Redis master |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[7] == "node 1, slots 0-5460"
    assert cells[8] == "none forced"
    assert cells[9:16] == [
        "4.84",
        "3",
        "4.48 (0.22-3.86)",
        "0.65",
        "2",
        "1 (1 rebuilt, 0 commands replayed, 0 keys re-marked)",
        "0.22",
    ]
    report.main(["report.py", "--cluster", str(brokers), str(page)])  # brokers again
    assert page.read_text() == both
    report.main(["report.py", str(main), str(page)])  # the fault suite again
    assert page.read_text() == both and both.count(report.REPRODUCE_HEADING) == 1


def test_the_happy_path_is_a_row_of_its_own(tmp_path: Path) -> None:
    """tests/cluster's run holds its happy path (nothing injected) beside the kills: the
    report died on it (KeyError 'node') and the broker table could not be written."""
    page = tmp_path / "reliability.md"
    main = write(tmp_path / "latest.json", [outcome("SIGKILL notifier", {"killed_pid": 1}, {})])
    kill = {"node": 3, "partitions_led": 40, "election_s": 7.4, "restart_s": 18.6,
            "in_sync_s": 0.5}  # fmt: skip
    cluster = write(
        tmp_path / "cluster-latest.json",
        [outcome("no fault: the happy path", {}, {"accepted_during": 0, "refused": 0}),
         outcome("SIGKILL a broker", kill, {})],
    )  # fmt: skip
    report.main(["report.py", str(main), str(page)])
    report.main(["report.py", "--cluster", str(cluster), str(page)])
    row = next(line for line in page.read_text().splitlines() if "happy path |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[7:16] == ["none (no fault)", "-", "-", "0", "none", "-", "-", "-", "1.5"]
    assert "SIGKILL a broker |" in page.read_text()


def test_a_forced_loss_row_says_what_the_replica_lacked_and_what_was_rebuilt(
    tmp_path: Path,
) -> None:
    """The case that pauses the replica before the SIGKILL (tests/cluster) records what the
    promoted replica lacked and the repair's counts; the row shows both, and a plain kill's
    row says it forced nothing."""
    page = tmp_path / "reliability.md"
    main = write(tmp_path / "latest.json", [outcome("SIGKILL notifier", {"killed_pid": 1}, {})])
    plain = {"node": 1, "slots": "0-5460", "promoted_s": 4.1, "restart_s": 0.4,
             "detected": {"checked": 3, "lost": [], "s": 0.2}, "repair": {}}  # fmt: skip
    forced = {
        "node": 2,
        "slots": "5461-10922",
        "promoted_s": 3.6,
        "restart_s": 0.9,
        "detected": {"checked": 3, "lost": ["A", "B"], "s": 0.3},
        "repair": {"skus": 2, "commands_replayed": 7, "keys_remarked": 40},
        "unreplicated": {
            "replica": 5,
            "paused_s": 6.42,
            "waited_s": 5.1,
            "unsent_bytes": 29_630_960,
            "stream_after_filler_bytes": 5_120,
            "filler_reached_replica": False,
            "skus_ahead": ["A", "B"],
            # C: a command applied on the promoted replica before it was read
            "versions": {"A": [10, 12], "B": [4, 5], "C": [8, 7]},
        },
    }
    seen = {"accepted_during": 19, "refused": 3, "first_s": 0.2, "last_s": 3.1, "window_s": 3.5}
    cluster = write(
        tmp_path / "cluster-latest.json",
        [outcome("SIGKILL a Redis master", plain, seen),
         outcome("SIGKILL a Redis master its paused replica lags", forced, seen)],
    )  # fmt: skip
    report.main(["report.py", str(main), str(page)])
    report.main(["report.py", "--cluster", str(cluster), str(page)])
    rows = [line for line in page.read_text().splitlines() if "Redis master" in line]
    cells = {r: [c.strip() for c in r.strip("|").split("|")] for r in rows if r.startswith("|")}
    plain_row, forced_row = list(cells.values())
    assert plain_row[8] == "none forced"
    assert forced_row[8] == (
        "replica node 5 paused 6.42 s; 28.3 MiB unsent; 2 SKUs seen ahead (3 writes)"
    )
    assert plain_row[14] == "0"
    assert forced_row[14] == "2 (2 rebuilt, 7 commands replayed, 40 keys re-marked)"
