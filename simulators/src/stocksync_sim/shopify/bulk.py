"""Bulk query operations: ``bulkOperationRunQuery`` runs a query over the whole store (no
pagination) and serves the result as JSONL, one object per line, nested connection nodes on
their own lines with ``__parentId`` (Shopify's format, ``groupObjects: false``).

The query is executed when the operation is created (a snapshot); the status reads RUNNING
until ``bulk_delay_s`` of simulator time has passed, then COMPLETED with a ``url`` served by
``GET /_sim/bulk/{shop}/{number}.jsonl``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse

from stocksync_sim.delivery import rfc3339, utc_now
from stocksync_sim.shopify.executor import Call, Executor, FieldError, GqlObject
from stocksync_sim.shopify.objects import encode_cursor
from stocksync_sim.shopify.state import StoreState, gid, gid_number

MAX_CONCURRENT = 5  # bulk query operations per shop and app (2026-01 and later)
UNBOUNDED = 1_000_000_000
SLICE = 1000  # root objects read between two yields to the event loop
_TASKS: set[asyncio.Task[None]] = set()


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
    kind: str = "QUERY"  # or MUTATION (bulk_mutation)
    pending: bool = False  # a bulk mutation still working through its lines

    def status(self, now: float) -> str:
        if self.error_code:
            return "FAILED"
        return "COMPLETED" if now >= self.completes_at and not self.pending else "RUNNING"

    @property
    def id(self) -> str:
        return gid("BulkOperation", self.number)


@dataclass
class BulkExecutor(Executor):
    """Runs connections without ``first``/``last`` over every entry (bulk ignores paging);
    the root connection ``top`` can be read a slice at a time (``page`` after ``after``)."""

    top: FieldNode | None = None
    page: int | None = None
    after: str | None = None

    def arguments(self, node: Any) -> dict[str, Any]:
        args = super().arguments(node)
        if node is self.top and self.page is not None:
            args.update(first=self.page, after=self.after)
        elif "first" not in args and "last" not in args:
            args["first"] = UNBOUNDED
        return args


@dataclass
class Slice:
    lines: list[dict[str, Any]]
    roots: int
    connection: bool
    after: str | None  # the cursor of the next slice, None when this was the last


def read_slice(root: GqlObject, operation: OperationDefinitionNode, after: str | None) -> Slice:
    """One slice of the root connection (the whole result when the query has several root
    fields). Raises FieldError for an invalid query."""
    fields = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
    top = fields[0] if len(fields) == 1 else None
    page = SLICE if top is not None else None
    executor = BulkExecutor({}, {}, charge_objects=False, top=top, page=page, after=after)
    data = executor.run(root, operation.selection_set)
    if executor.errors:
        raise FieldError(f"Invalid bulk query: {executor.errors[0]['message']}", "INVALID")
    lines, roots = flatten(data)
    connection = any(_connection_nodes(value) is not None for value in data.values())
    last = next((line for line in reversed(lines) if "__parentId" not in line), None)
    more = page is not None and roots >= page and last is not None
    number = gid_number(str(last.get("id"))) if more and last is not None else ""
    cursor = encode_cursor(int(number)) if number.isdigit() else None
    return Slice(lines, roots, connection, cursor)


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


async def _rest(op: BulkOperation, root: GqlObject, operation: OperationDefinitionNode,
                after: str | None) -> None:  # fmt: skip
    """The slices after the first, in the background (other requests run in between)."""
    parts = [op.jsonl]
    while after is not None:
        await asyncio.sleep(0)
        part = read_slice(root, operation, after)
        parts.append(_jsonl(part.lines))
        op.object_count += len(part.lines)
        op.root_object_count += part.roots
        after = part.after
    op.jsonl = b"".join(parts)
    op.pending = False


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
    try:
        first = read_slice(root, operations[0], None)
    except FieldError as exc:
        return exc
    if not first.connection:
        return FieldError("Bulk queries must contain at least one connection.", "INVALID")
    lines, roots = first.lines, first.roots
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
        pending=first.after is not None,
    )
    store.bulk_operations[op.id] = op
    if first.after is not None:  # a large store: the rest is read in the background
        task = asyncio.get_running_loop().create_task(_rest(op, root, operations[0], first.after))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)
    return op


def running(store: StoreState) -> int:
    now = store.now()
    ops: list[BulkOperation] = list(store.bulk_operations.values())
    return sum(1 for op in ops if op.kind == "QUERY" and op.status(now) == "RUNNING")


def bulk_object(store: StoreState, op: BulkOperation, base_url: str) -> GqlObject:
    status = op.status(store.now())
    done = status == "COMPLETED"
    url = f"{base_url}/_sim/bulk/{store.shop}/{op.number}.jsonl" if done and op.jsonl else None
    return GqlObject(
        "BulkOperation",
        {
            "id": op.id,
            "status": status,
            "type": op.kind,
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
