"""Bulk query operations: ``bulkOperationRunQuery`` runs a query over the whole store (no
pagination) and serves the result as JSONL, one object per line, nested connection nodes on
their own lines with ``__parentId`` (Shopify's format, ``groupObjects: false``).

The query is executed when the operation is created (a snapshot); the status reads RUNNING
until ``bulk_delay_s`` of simulator time has passed, then COMPLETED with a ``url`` served by
``GET /_sim/bulk/{shop}/{number}.jsonl``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from stocksync_sim.delivery import rfc3339, utc_now
from stocksync_sim.shopify.executor import Call, Executor, FieldError, GqlObject
from stocksync_sim.shopify.state import StoreState, gid

MAX_CONCURRENT = 5  # bulk query operations per shop and app (2026-01 and later)
UNBOUNDED = 1_000_000_000


@dataclass
class BulkOperation:
    number: int
    shop: str
    query: str
    created_at: float
    completes_at: float
    created_at_text: str
    jsonl: bytes = b""
    object_count: int = 0
    root_object_count: int = 0
    error_code: str | None = None

    @property
    def id(self) -> str:
        return gid("BulkOperation", self.number)

    def status(self, now: float) -> str:
        if self.error_code:
            return "FAILED"
        return "COMPLETED" if now >= self.completes_at else "RUNNING"


class BulkExecutor(Executor):
    """Runs connections without ``first``/``last`` over every entry (bulk ignores paging)."""

    def arguments(self, node: Any) -> dict[str, Any]:
        args = super().arguments(node)
        if "first" not in args and "last" not in args:
            args["first"] = UNBOUNDED
        return args


def _connection_nodes(value: Any) -> list[Any] | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("edges"), list):
        return [edge.get("node") for edge in value["edges"] if isinstance(edge, dict)]
    if isinstance(value.get("nodes"), list):
        return list(value["nodes"])
    return None


def _strip(value: dict[str, Any], nested: list[list[Any]]) -> dict[str, Any]:
    """Copy an object without its connections, which are collected into ``nested``."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        children = _connection_nodes(item)
        if children is not None:
            nested.append(children)
        elif isinstance(item, dict):
            out[key] = _strip(item, nested)
        else:
            out[key] = item
    return out


def flatten(data: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """JSONL lines of a bulk result and the number of root objects."""
    lines: list[dict[str, Any]] = []
    roots = 0

    def emit(node: Any, parent: str | None) -> None:
        if not isinstance(node, dict):
            return
        nested: list[list[Any]] = []
        line = _strip(node, nested)
        if parent is not None:
            line["__parentId"] = parent
        lines.append(line)
        for children in nested:
            for child in children:
                emit(child, node.get("id"))

    for value in data.values():
        for node in _connection_nodes(value) or []:
            roots += 1
            emit(node, None)
    return lines, roots


def run_bulk_query(
    store: StoreState, query: str, root: GqlObject, delay_s: float
) -> BulkOperation | FieldError:
    try:
        document = parse(query)
    except GraphQLError as exc:
        return FieldError(f"Invalid bulk query: {exc.message}", "INVALID")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        return FieldError("Bulk queries must contain exactly one query operation.", "INVALID")
    executor = BulkExecutor({}, {}, charge_objects=False)
    data = executor.run(root, operations[0].selection_set)
    if executor.errors:
        return FieldError(f"Invalid bulk query: {executor.errors[0]['message']}", "INVALID")
    lines, roots = flatten(data)
    if not roots:
        return FieldError("Bulk queries must contain at least one connection.", "INVALID")
    now = store.now()
    op = BulkOperation(
        number=store.next_id(),
        shop=store.shop,
        query=query,
        created_at=now,
        completes_at=now + delay_s,
        created_at_text=rfc3339(utc_now()),
        jsonl=b"".join(json.dumps(line).encode() + b"\n" for line in lines),
        object_count=len(lines),
        root_object_count=roots,
    )
    store.bulk_operations[op.id] = op
    return op


def running(store: StoreState) -> int:
    now = store.now()
    ops: list[BulkOperation] = list(store.bulk_operations.values())
    return sum(1 for op in ops if op.status(now) == "RUNNING")


def bulk_object(store: StoreState, op: BulkOperation, base_url: str) -> GqlObject:
    status = op.status(store.now())
    done = status == "COMPLETED"
    url = f"{base_url}/_sim/bulk/{store.shop}/{op.number}.jsonl" if done else None
    return GqlObject(
        "BulkOperation",
        {
            "id": op.id,
            "status": status,
            "type": "QUERY",
            "errorCode": op.error_code,
            "createdAt": op.created_at_text,
            "completedAt": op.created_at_text if done else None,
            "objectCount": str(op.object_count if done else 0),
            "rootObjectCount": str(op.root_object_count if done else 0),
            "fileSize": str(len(op.jsonl)) if done else None,
            "url": url,
            "partialDataUrl": None,
            "query": op.query,
        },
        ("Node",),
    )


def _bulk_error(message: str, code: str) -> GqlObject:
    return GqlObject(
        "BulkOperationUserError", {"field": ["query"], "message": message, "code": code}, cost=0
    )


def run_query_mutation(
    store: StoreState, call: Call, root: GqlObject, base_url: str, delay_s: float
) -> GqlObject:
    """``bulkOperationRunQuery(query:, groupObjects:)``."""
    query = call.args.get("query")
    if not isinstance(query, str):
        raise FieldError("Field is missing required arguments: query", "missingRequiredArguments")
    errors: list[GqlObject] = []
    op: BulkOperation | None = None
    if running(store) >= MAX_CONCURRENT:
        message = "A bulk query operation for this app and shop is already in progress."
        errors.append(_bulk_error(message, "OPERATION_IN_PROGRESS"))
    else:
        result = run_bulk_query(store, query, root, delay_s)
        if isinstance(result, FieldError):
            errors.append(_bulk_error(result.message, result.code))
        else:
            op = result
    return GqlObject(
        "BulkOperationRunQueryPayload",
        {
            "bulkOperation": bulk_object(store, op, base_url) if op else None,
            "userErrors": errors,
        },
        cost=0,
    )
