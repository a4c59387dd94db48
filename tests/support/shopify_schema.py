"""Shopify's published Admin GraphQL schema, for validating the documents StockSync sends.

The schema comes from the npm package ``@shopify/dev-mcp`` (an introspection result at
``dist/data/admin_<version>.json.gz``), fetched into the gitignored ``.cache/npm`` by
``scripts/fetch-shopify-packages.sh``.

    from support.shopify_schema import schema_available, validate_document

    assert validate_document(MY_MUTATION) == []
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema, parse, validate
from graphql.error import GraphQLSyntaxError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT / ".cache/npm/node_modules/@shopify/dev-mcp/dist/data"
DEFAULT_VERSION = "2026-10"
FETCH_HINT = "run scripts/fetch-shopify-packages.sh to fetch it (npm, into .cache/npm)"


class SchemaNotFetched(FileNotFoundError):
    """The schema file is missing: the fetch script has not been run."""


def schema_path(version: str = DEFAULT_VERSION) -> Path:
    return SCHEMA_DIR / f"admin_{version}.json.gz"


def schema_available(version: str = DEFAULT_VERSION) -> bool:
    return schema_path(version).is_file()


@cache
def load_admin_schema(version: str = DEFAULT_VERSION) -> GraphQLSchema:
    """The Admin API schema of ``version``, built once per process."""
    path = schema_path(version)
    if not path.is_file():
        raise SchemaNotFetched(f"Shopify Admin schema {version} not found at {path}; {FETCH_HINT}")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        introspection = json.load(handle)
    # assume_valid: Shopify's schema fails graphql-core 3.3's stricter schema self-checks
    # (deprecated implementations of non-deprecated interface fields), which are irrelevant
    # to validating client documents.
    return build_client_schema(introspection.get("data", introspection), assume_valid=True)


def validate_document(document: str, version: str = DEFAULT_VERSION) -> list[str]:
    """Validation error messages of ``document`` against the schema (empty when valid)."""
    schema = load_admin_schema(version)
    try:
        ast = parse(document)
    except GraphQLSyntaxError as exc:
        return [exc.message]
    return [error.message for error in validate(schema, ast)]
