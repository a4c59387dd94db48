"""Every GraphQL document shopify-sync sends validates against Shopify's published schema,
for the default version and for every version a stores file in the repo configures; and
inventory mutations carry ``@idempotent``.

The schema is fetched by scripts/setup.sh; without it this test fails (it never skips),
because an unvalidated document is exactly the bug it exists to catch.
"""

from pathlib import Path

import pytest
import yaml
from graphql import DirectiveNode, FieldNode, OperationDefinitionNode, parse

from shopify_sync.adapters.documents import ALL_DOCUMENTS
from shopify_sync.settings import MIN_API_VERSION
from stocksync_common.stores import DEFAULT_API_VERSION
from support.shopify_schema import REPO_ROOT, validate_document

INVENTORY_MUTATIONS = {
    "inventorySetQuantities",
    "inventoryAdjustQuantities",
    "inventoryMoveQuantities",
}
STORES_FILES = [
    REPO_ROOT / "config/stores.example.yaml",
    REPO_ROOT / "deploy/compose/stores.yaml",
    REPO_ROOT / "deploy/k8s/base/stores.yaml",
]


def configured_versions() -> list[str]:
    versions = {DEFAULT_API_VERSION}
    for path in STORES_FILES:
        if Path(path).is_file():
            doc = yaml.safe_load(Path(path).read_text()) or {}
            for store in doc.get("stores") or []:
                versions.add(str(store.get("api_version") or DEFAULT_API_VERSION))
    return sorted(versions)


VERSIONS = configured_versions()


def test_configured_versions_are_supported() -> None:
    assert all(v >= MIN_API_VERSION for v in VERSIONS), VERSIONS


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_document_is_valid(name: str, version: str) -> None:
    assert validate_document(ALL_DOCUMENTS[name], version) == []


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


def test_there_is_an_inventory_mutation_to_check() -> None:
    names = {f.name.value for doc in ALL_DOCUMENTS.values() for f in _root_fields(doc)}
    assert "inventorySetQuantities" in names


def test_the_check_itself_catches_a_wrong_document() -> None:
    bad = "mutation { inventorySetQuantities(input: {name: 1}) { nonsense } }"
    assert validate_document(bad, "2026-10") != []
