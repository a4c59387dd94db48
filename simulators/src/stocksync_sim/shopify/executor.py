"""A small GraphQL interpreter over graphql-core ASTs.

The simulator does not need Shopify's 10 MB schema to answer: resolvers hand back
:class:`GqlObject` trees and this module walks the client's selection sets over them
(aliases, fragments, ``@skip``/``@include``, variables), collecting errors in
Shopify's shape. Schema validation, when enabled, happens before (see ``endpoint``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    Node,
    SelectionNode,
    SelectionSetNode,
    Undefined,
    ValueNode,
    value_from_ast_untyped,
)

# Fields that only wrap connection nodes: their objects are paid for by the connection.
CONNECTION_WRAPPERS = frozenset({"edges", "nodes", "node"})


class FieldError(Exception):
    """A resolver failure reported in ``errors`` with the field set to null."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.extensions = extensions


@dataclass(frozen=True)
class Call:
    """What a resolver gets: evaluated arguments and the field node (for directives)."""

    args: dict[str, Any]
    node: FieldNode
    variables: Mapping[str, Any]

    def directive(self, name: str) -> dict[str, Any] | None:
        """Arguments of directive ``name`` on this field, or None when it is absent."""
        for directive in self.node.directives or ():
            if directive.name.value == name:
                return evaluate_arguments(directive.arguments or (), self.variables)
        return None


@dataclass(frozen=True)
class Resolve:
    """A field computed on demand (with arguments)."""

    fn: Callable[[Call], Any]


@dataclass
class GqlObject:
    """A GraphQL object value: field values, or :class:`Resolve` for computed ones."""

    typename: str
    fields: Mapping[str, Any]
    interfaces: tuple[str, ...] = ()
    cost: int = 1


def strip_undefined(value: Any) -> Any:
    """Drop entries whose variable was not provided (graphql-core's ``Undefined``)."""
    if isinstance(value, dict):
        return {key: strip_undefined(item) for key, item in value.items() if item is not Undefined}
    if isinstance(value, list):
        return [strip_undefined(item) for item in value if item is not Undefined]
    return value


def evaluate_value(node: ValueNode, variables: Mapping[str, Any]) -> Any:
    return strip_undefined(value_from_ast_untyped(node, dict(variables)))


def evaluate_arguments(arguments: Any, variables: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for argument in arguments:
        value = value_from_ast_untyped(argument.value, dict(variables))
        if value is not Undefined:
            values[argument.name.value] = strip_undefined(value)
    return values


def location_of(node: Node) -> list[dict[str, int]]:
    if node.loc is None:
        return []
    return [{"line": node.loc.start_token.line, "column": node.loc.start_token.column}]


@dataclass
class Executor:
    """Executes one operation's selection set against a root :class:`GqlObject`."""

    variables: Mapping[str, Any]
    fragments: Mapping[str, FragmentDefinitionNode]
    charge_objects: bool = True
    errors: list[dict[str, Any]] = field(default_factory=list)
    actual_cost: int = 0

    def run(self, root: GqlObject, selection_set: SelectionSetNode) -> dict[str, Any]:
        return self._execute(root, [selection_set], [])

    def error(self, message: str, code: str, node: Node, path: list[str | int], **ext: Any) -> None:
        self.errors.append(
            {
                "message": message,
                "locations": location_of(node),
                "path": list(path),
                "extensions": {"code": code, **ext},
            }
        )

    def _included(self, node: SelectionNode) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name in ("skip", "include"):
                condition = bool(
                    evaluate_arguments(directive.arguments or (), self.variables).get("if")
                )
                if (name == "skip") == condition:
                    return False
        return True

    def _collect(
        self,
        obj: GqlObject,
        selection_sets: list[SelectionSetNode],
        out: dict[str, list[FieldNode]],
        seen: set[str],
    ) -> None:
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    out.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or _applies(obj, condition.name.value):
                        self._collect(obj, [selection.selection_set], out, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is None or name in seen:
                        continue
                    if _applies(obj, fragment.type_condition.name.value):
                        self._collect(obj, [fragment.selection_set], out, seen | {name})

    def _execute(
        self, obj: GqlObject, selection_sets: list[SelectionSetNode], path: list[str | int]
    ) -> dict[str, Any]:
        collected: dict[str, list[FieldNode]] = {}
        self._collect(obj, selection_sets, collected, set())
        return {key: self._field(obj, nodes, [*path, key]) for key, nodes in collected.items()}

    def _field(self, obj: GqlObject, nodes: list[FieldNode], path: list[str | int]) -> Any:
        node = nodes[0]
        name = node.name.value
        if name == "__typename":
            return obj.typename
        if name not in obj.fields:
            self.error(
                f"Field '{name}' doesn't exist on type '{obj.typename}' "
                "(or is not implemented by the StockSync Shopify simulator)",
                "undefinedField",
                node,
                path,
                typeName=obj.typename,
                fieldName=name,
            )
            return None
        value = obj.fields[name]
        if isinstance(value, Resolve):
            call = Call(self.arguments(node), node, self.variables)
            try:
                value = value.fn(call)
            except FieldError as exc:
                self.error(exc.message, exc.code, node, path, **exc.extensions)
                return None
        # Objects under a connection are paid for by the connection; root lists are not.
        charge = name not in CONNECTION_WRAPPERS or obj.typename == "QueryRoot"
        return self._complete(value, nodes, path, charge=charge)

    def arguments(self, node: FieldNode) -> dict[str, Any]:
        """The field's arguments with variables substituted (a seam for bulk execution)."""
        return evaluate_arguments(node.arguments or (), self.variables)

    def _complete(
        self, value: Any, nodes: list[FieldNode], path: list[str | int], *, charge: bool
    ) -> Any:
        if value is None:
            return None
        if isinstance(value, GqlObject):
            selection_sets = [node.selection_set for node in nodes if node.selection_set]
            if not selection_sets:
                self.error(
                    f"Field must have selections (field '{nodes[0].name.value}' returns "
                    f"{value.typename} but has no selections)",
                    "selectionMismatch",
                    nodes[0],
                    path,
                )
                return None
            if charge and self.charge_objects:
                self.actual_cost += value.cost
            return self._execute(value, selection_sets, path)
        if isinstance(value, list | tuple):
            return [
                self._complete(item, nodes, [*path, index], charge=charge)
                for index, item in enumerate(value)
            ]
        return value


def _applies(obj: GqlObject, type_name: str) -> bool:
    return type_name == obj.typename or type_name in obj.interfaces
