"""Shopify's published Admin GraphQL schema, when the npm package was fetched.

``scripts/fetch-shopify-packages.sh`` unpacks ``@shopify/dev-mcp``, whose
``dist/data/admin_<version>.json.gz`` is an introspection result. The simulator validates
documents against it when found (``--validate auto``), always (``on``) or never (``off``).
"""

from __future__ import annotations

import gzip
import json
from collections import OrderedDict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Literal

from graphql import DocumentNode, GraphQLError, GraphQLSchema, build_client_schema, validate

ValidationMode = Literal["auto", "on", "off"]
SCHEMA_SUBDIR = Path(".cache/npm/node_modules/@shopify/dev-mcp/dist/data")


class SchemaMissing(RuntimeError):
    pass


def schema_dirs(start_points: Iterable[Path]) -> list[Path]:
    """``.cache/npm/.../dist/data`` in each start point or any of its parents."""
    found: list[Path] = []
    for start in start_points:
        for directory in (start, *start.parents):
            candidate = directory / SCHEMA_SUBDIR
            if candidate.is_dir() and candidate not in found:
                found.append(candidate)
    return found


@lru_cache(maxsize=8)
def load_schema_file(path: Path) -> GraphQLSchema:
    """Parsed once per process (several simulator apps in one test run share it)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        introspection = json.load(handle)
    data = introspection.get("data", introspection)
    # Shopify's schema trips graphql-core 3.3's stricter schema checks (deprecated
    # implementations of non-deprecated interface fields); documents still validate fine.
    return build_client_schema(data, assume_valid=True)


class SchemaRegistry:
    """Loads schemas per API version on demand and caches validation results."""

    def __init__(
        self,
        mode: ValidationMode = "auto",
        schema_dir: Path | None = None,
        cache_size: int = 2048,
    ) -> None:
        self.mode = mode
        if schema_dir is not None:
            self.dirs = [schema_dir]
        else:
            self.dirs = schema_dirs([Path.cwd(), Path(__file__).resolve().parent])
        self._schemas: dict[str, GraphQLSchema | None] = {}
        self._validated: OrderedDict[tuple[str, str], list[GraphQLError]] = OrderedDict()
        self._cache_size = cache_size

    def path_for(self, version: str) -> Path | None:
        for directory in self.dirs:
            candidate = directory / f"admin_{version}.json.gz"
            if candidate.is_file():
                return candidate
        return None

    def schema(self, version: str) -> GraphQLSchema | None:
        if self.mode == "off":
            return None
        if version not in self._schemas:
            path = self.path_for(version)
            if path is None and self.mode == "on":
                raise SchemaMissing(
                    f"Admin GraphQL schema {version} not found (looked in "
                    f"{', '.join(map(str, self.dirs)) or SCHEMA_SUBDIR}); "
                    "run scripts/fetch-shopify-packages.sh"
                )
            self._schemas[version] = load_schema_file(path) if path else None
        return self._schemas[version]

    def validate(self, version: str, text: str, document: DocumentNode) -> list[GraphQLError]:
        schema = self.schema(version)
        if schema is None:
            return []
        key = (version, text)
        cached = self._validated.get(key)
        if cached is None:
            cached = validate(schema, document)
            self._validated[key] = cached
            if len(self._validated) > self._cache_size:
                self._validated.popitem(last=False)
        return cached
