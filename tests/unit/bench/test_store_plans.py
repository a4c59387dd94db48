"""The flash sale's stores can run on other Shopify plans (API rate limits) than the stores
file's: the simulator processes and the services read the same plans, and the report
states what each plan's restore rate pays for."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.flash_sale import parse_args, store_limits
from bench.sim_fleet import SimFleet


def test_default_plans_are_the_stores_files() -> None:
    limits = store_limits(())
    assert [v["plan"] for v in limits.values()] == ["plus", "advanced", "standard"]
    assert [v["writes_per_s"] for v in limits.values()] == [100, 20, 10]


def test_plans_override_every_stores_doc(tmp_path: Path) -> None:
    fleet = SimFleet.plan(tmp_path, 9000, 3, ("plus", "plus", "enterprise"))
    shops = list(fleet.ports)
    whole = fleet.stores_doc()
    assert [s["plan"] for s in whole["stores"]] == ["plus", "plus", "enterprise"]
    own = fleet.stores_doc([shops[2]])  # one process's own file
    assert [s["plan"] for s in own["stores"]] == ["enterprise"]
    assert store_limits(("plus", "plus", "plus"))[shops[2]]["writes_per_s"] == 100


def test_a_plan_per_store_or_none() -> None:
    with pytest.raises(ValueError, match="2 plans for 3 stores"):
        SimFleet.plan(Path("."), 9000, 3, ("plus", "plus"))
    assert parse_args(["--plans", "plus, plus,plus"]).plans == ("plus", "plus", "plus")


def test_service_settings_are_stocksync_names_with_values() -> None:
    args = parse_args(["--service-env", "STOCKSYNC_COALESCE_WINDOW_S=0"])
    assert args.service_env == [("STOCKSYNC_COALESCE_WINDOW_S", "0")]
    with pytest.raises(SystemExit):
        parse_args(["--service-env", "PATH=/tmp"])
