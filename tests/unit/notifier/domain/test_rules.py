"""Rules: validation, and resolution default < tags (in the SKU's order) < SKU."""

import pytest
from pydantic import ValidationError

from notifier.domain.rules import Rule, RuleSet

DOC = {
    "default": {"low_stock": 10, "channels": {"out_of_stock": ["slack", "email"]}},
    "tags": {"TEE-1": ["apparel", "flash"], "MUG-1": ["kitchen"]},
    "by_tag": {"apparel": {"low_stock": 20, "quiet_period_s": 300}, "flash": {"low_stock": 50}},
    "by_sku": {"TEE-1": {"reorder_point": 5, "reorder_quantity": 100}},
}


def test_resolution_layers_default_tags_then_sku():
    rules = RuleSet.model_validate(DOC)
    tee = rules.resolve("TEE-1")
    assert tee.low_stock == 50  # "flash" comes after "apparel" for this SKU
    assert tee.quiet_period_s == 300
    assert (tee.reorder_point, tee.reorder_quantity) == (5, 100)
    assert tee.channels == {"out_of_stock": ["slack", "email"]}
    other = rules.resolve("MUG-1")
    assert other.low_stock == 10 and other.reorder_point is None and other.quiet_period_s == 0


def test_defaults_alert_on_stock_outs_and_oversells_on_every_configured_channel():
    eff = RuleSet().resolve("X")
    assert eff.out_of_stock and eff.back_in_stock and eff.oversell and eff.low_stock is None
    assert eff.channels_for("oversell", ("slack", "webhook")) == ["slack", "webhook"]


def test_routing_keeps_only_configured_channels():
    eff = RuleSet.model_validate(DOC).resolve("MUG-1")
    assert eff.channels_for("out_of_stock", ("slack",)) == ["slack"]
    assert RuleSet.model_validate(DOC).unknown_channels(("slack",)) == ["email"]


@pytest.mark.parametrize(
    "bad",
    [
        {"default": {"low_stock": 0}},
        {"default": {"reorder_point": 3}},  # no quantity
        {"default": {"reorder_point": 3, "reorder_quantity": 0}},
        {"default": {"velocity_per_minute": -1}},
        {"default": {"channels": {"out_of_stock": ["pager"]}}},
        {"default": {"channels": {"sold_out": ["slack"]}}},
        {"by_sku": {"A": {"lowstock": 3}}},  # typo: unknown field
        {"rules": []},
    ],
)
def test_invalid_rules_are_refused(bad):
    with pytest.raises(ValidationError):
        RuleSet.model_validate(bad)


def test_a_rule_may_override_a_single_field():
    assert Rule(low_stock=3).model_dump(exclude_none=True) == {"low_stock": 3}


def test_the_example_rules_file_is_valid():
    from pathlib import Path

    from notifier.adapters.rules_store import load_rules_file

    root = Path(__file__).resolve().parents[4]
    rules = load_rules_file(root / "services/notifier/rules.example.yaml")
    tee = rules.resolve("TEE-RED-M")
    assert (tee.low_stock, tee.velocity_per_minute, tee.reorder_quantity) == (25, 30, 120)
    assert rules.unknown_channels(("slack", "webhook", "email")) == []


def test_the_rules_in_effect_spell_out_every_default_and_route():
    empty = RuleSet().in_effect(("slack", "email"))
    default = empty["default"]
    assert default["out_of_stock"] is True and default["back_in_stock"] is True
    assert default["oversell"] is True and default["low_stock"] is None
    assert default["channels"]["back_in_stock"] == ["slack", "email"]
    assert empty["by_sku"] == {}
    rules = RuleSet.model_validate(DOC).in_effect(("slack", "email"))
    assert rules["default"]["low_stock"] == 10
    assert rules["default"]["channels"]["out_of_stock"] == ["slack", "email"]
    assert rules["by_sku"]["TEE-1"]["low_stock"] == 50  # its tags resolved
    assert rules["by_sku"]["TEE-1"]["reorder_point"] == 5
    assert rules["by_sku"]["MUG-1"]["low_stock"] == 10  # a tag without a rule changes nothing
