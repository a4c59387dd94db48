"""Requested query cost, computed from the document the way Shopify approximates it.

Scalars cost 0, objects 1, a connection ``2 + first * (cost of one node)``, ``pageInfo`` 0,
and each mutation root field 10. Actual cost is measured while executing (see executor).

A query whose requested cost is above the most one query may cost is refused before it runs
with ``MAX_COST_EXCEEDED`` (never THROTTLED: waiting would not help). That limit is 1,000
points, or the bucket's size when the store's limits were cut below it (a query can never
cost more than the bucket holds).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

from stocksync_sim.shopify.executor import CONNECTION_WRAPPERS, evaluate_arguments

MUTATION_FIELD_COST = 10
SINGLE_QUERY_MAX_COST = 1000
FREE_OBJECT_FIELDS = frozenset({"pageInfo"})
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"
BULK_QUERIES_DOC = "https://shopify.dev/docs/api/usage/bulk-operations/queries"


def max_cost(bucket_maximum: float) -> int:
    """The most one query may cost against a bucket of this size."""
    return min(SINGLE_QUERY_MAX_COST, int(bucket_maximum))


def max_cost_exceeded(requested: int, limit: int) -> dict[str, Any]:
    """Shopify's error for a query that costs more than ``limit`` (its text and shape)."""
    message = (
        f"Query cost is {requested}, which exceeds the single query max cost limit ({limit})."
        f"\n\nSee {RATE_LIMITS_DOC} for more information on how the\ncost of a query is "
        "calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations "
        f"should be used instead.\nSee {BULK_QUERIES_DOC} for usage details.\n"
    )
    extensions = {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": limit,
                  "documentation": RATE_LIMITS_DOC}  # fmt: skip
    return {"message": message, "extensions": extensions}


def requested_cost(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    estimator = _Estimator(fragments, variables)
    if operation.operation == OperationType.MUTATION:
        return MUTATION_FIELD_COST * estimator.count_fields(operation.selection_set, set())
    return estimator.selection(operation.selection_set, set())


class _Estimator:
    def __init__(
        self, fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]
    ) -> None:
        self.fragments = fragments
        self.variables = variables

    def _children(self, selection_set: SelectionSetNode, seen: set[str]) -> list[FieldNode]:
        fields: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                fields.extend(self._children(selection.selection_set, seen))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    fields.extend(self._children(fragment.selection_set, seen | {name}))
        return fields

    def count_fields(self, selection_set: SelectionSetNode, seen: set[str]) -> int:
        keys = {(node.alias or node.name).value for node in self._children(selection_set, seen)}
        keys.discard("__typename")
        return len(keys)

    def selection(self, selection_set: SelectionSetNode, seen: set[str]) -> int:
        return sum(self.field(node, seen) for node in self._children(selection_set, seen))

    def field(self, node: FieldNode, seen: set[str]) -> int:
        if node.selection_set is None or node.name.value in FREE_OBJECT_FIELDS:
            return 0
        inner = self.selection(node.selection_set, seen)
        args = evaluate_arguments(node.arguments or (), self.variables)
        ids = args.get("ids")
        if isinstance(ids, list):  # nodes(ids:): every id is an object
            return len(ids) * (1 + inner)
        if node.name.value == "node" and "id" in args:  # the root field node(id:)
            return 1 + inner
        if node.name.value in CONNECTION_WRAPPERS:
            return inner
        page = args.get("first", args.get("last"))
        if isinstance(page, int) and not isinstance(page, bool):
            return 2 + max(page, 0) * inner
        return 1 + inner
