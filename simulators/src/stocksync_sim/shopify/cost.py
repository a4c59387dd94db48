"""Requested query cost, computed from the document the way Shopify approximates it.

Scalars cost 0, objects 1, a connection ``2 + first * (cost of one node)``, ``pageInfo`` 0,
and each mutation root field 10. Actual cost is measured while executing (see executor).
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
