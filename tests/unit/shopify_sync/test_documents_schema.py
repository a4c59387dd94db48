"""Every GraphQL document shopify-sync sends validates against Shopify's published schema.

The schema is fetched by scripts/setup.sh; without it this test fails (it never skips),
because an unvalidated document is exactly the bug it exists to catch.
"""

import pytest
from graphql import DirectiveNode, FieldNode, OperationDefinitionNode, parse

from shopify_sync.adapters.documents import ALL_DOCUMENTS
from support.shopify_schema import validate_document

INVENTORY_MUTATIONS = {
    "inventorySetQuantities",
    "inventoryAdjustQuantities",
    "inventoryMoveQuantities",
}


@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_document_is_valid_for_2026_10(name: str) -> None:
    assert validate_document(ALL_DOCUMENTS[name], "2026-10") == []


def _root_fields(document: str) -> list[FieldNode]:
    out: list[FieldNode] = []
    for definition in parse(document).definitions:
        if isinstance(definition, OperationDefinitionNode):
            out.extend(s for s in definition.selection_set.selections if isinstance(s, FieldNode))
    return out


@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_inventory_mutations_carry_idempotent(name: str) -> None:
    for field in _root_fields(ALL_DOCUMENTS[name]):
        if field.name.value in INVENTORY_MUTATIONS:
            directives = [d for d in field.directives or () if isinstance(d, DirectiveNode)]
            assert any(d.name.value == "idempotent" for d in directives), name


def test_the_check_itself_catches_a_wrong_document() -> None:
    bad = "mutation { inventorySetQuantities(input: {name: 1}) { nonsense } }"
    assert validate_document(bad, "2026-10") != []
