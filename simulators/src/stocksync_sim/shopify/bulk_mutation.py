"""Bulk mutations through staged uploads, as Shopify runs them.

1. ``stagedUploadsCreate(input: [{resource: BULK_MUTATION_VARIABLES, ...}])`` answers an
   upload target on the simulator itself: ``POST /_sim/staged/{shop}/{token}`` (a
   multipart form: the target's parameters, then ``file``) stores the JSONL.
2. ``bulkOperationRunMutation(mutation:, stagedUploadPath:)`` (the ``key`` parameter) runs
   the mutation once per JSONL line with that line as its variables. One bulk mutation
   runs at a time per shop; the lines cost nothing against the bucket (only the call, 10).
3. The result, one JSONL line per input line (``data`` or ``errors`` and
   ``__lineNumber``), is served like a bulk query's.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from graphql import FragmentDefinitionNode, GraphQLError, OperationDefinitionNode, parse

from stocksync_sim.delivery import rfc3339, utc_now
from stocksync_sim.shopify.bulk import BulkOperation, bulk_object
from stocksync_sim.shopify.executor import Call, Executor, FieldError, GqlObject
from stocksync_sim.shopify.runtime import Simulator, get_sim
from stocksync_sim.shopify.state import StoreState

router = APIRouter(prefix="/_sim")
SimDep = Annotated[Simulator, Depends(get_sim)]
MAX_FILE_BYTES = 100 * 1024 * 1024  # Shopify's limit for a bulk mutation's variables
SLICE = 50  # lines run between two yields to the event loop
_TASKS: set[asyncio.Task[None]] = set()


def staged_uploads_create(store: StoreState, call: Call, base_url: str) -> GqlObject:
    targets: list[GqlObject] = []
    for entry in call.args.get("input") or []:
        token = uuid.uuid4().hex
        key = f"tmp/{store.shop_number}/bulk/{token}/{entry.get('filename', 'vars.jsonl')}"
        store.staged_keys[token] = key
        params = [
            GqlObject("StagedUploadParameter", {"name": name, "value": value}, cost=0)
            for name, value in (("key", key), ("Content-Type", str(entry.get("mimeType"))))
        ]
        url = f"{base_url}/_sim/staged/{store.shop}/{token}"
        targets.append(
            GqlObject(
                "StagedMediaUploadTarget",
                {"url": url, "resourceUrl": f"{url}/{key}", "parameters": params},
                cost=0,
            )
        )
    return GqlObject(
        "StagedUploadsCreatePayload", {"stagedTargets": targets, "userErrors": []}, cost=0
    )


def _error(message: str, code: str) -> GqlObject:
    fields = {"field": ["mutation"], "message": message, "code": code}
    return GqlObject("BulkMutationUserError", fields, cost=0)


def _payload(
    store: StoreState, op: BulkOperation | None, base_url: str, errors: list[GqlObject]
) -> GqlObject:
    return GqlObject(
        "BulkOperationRunMutationPayload",
        {"bulkOperation": bulk_object(store, op, base_url) if op else None, "userErrors": errors},
        cost=0,
    )


async def _work(
    op: BulkOperation,
    mutation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables_jsonl: bytes,
    root: Callable[[], GqlObject],
) -> None:
    """Run the lines in slices, letting other requests in between (Shopify runs a bulk
    mutation in the background too)."""
    out: list[bytes] = []
    for number, raw in enumerate(variables_jsonl.splitlines()):
        if number % SLICE == 0:
            await asyncio.sleep(0)
        if not raw.strip():
            continue
        executor = Executor(json.loads(raw), fragments, charge_objects=False)
        line: dict[str, Any] = {"data": executor.run(root(), mutation.selection_set)}
        if executor.errors:
            line["errors"] = executor.errors
        line["__lineNumber"] = number
        out.append(json.dumps(line).encode() + b"\n")
    op.jsonl, op.object_count, op.root_object_count = b"".join(out), len(out), len(out)
    op.pending = False


def run_mutation(
    store: StoreState, call: Call, root: Callable[[], GqlObject], base_url: str, delay_s: float
) -> GqlObject:
    """``bulkOperationRunMutation(mutation:, stagedUploadPath:)``."""
    text, path = call.args.get("mutation"), call.args.get("stagedUploadPath")
    if not isinstance(text, str) or not isinstance(path, str):
        raise FieldError("Field is missing required arguments", "missingRequiredArguments")
    now = store.now()
    if any(
        op.kind == "MUTATION" and op.status(now) == "RUNNING"
        for op in store.bulk_operations.values()
    ):
        message = "A bulk mutation operation for this app and shop is already in progress."
        return _payload(store, None, base_url, [_error(message, "OPERATION_IN_PROGRESS")])
    variables = store.staged_files.get(path)
    if variables is None:
        return _payload(
            store, None, base_url, [_error("The staged upload was not found.", "NO_SUCH_FILE")]
        )
    try:
        document = parse(text)
    except GraphQLError as exc:
        return _payload(
            store, None, base_url, [_error(f"Invalid mutation: {exc.message}", "INVALID_MUTATION")]
        )
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1 or ops[0].operation.value != "mutation":
        return _payload(
            store, None, base_url, [_error("Exactly one mutation is required.", "INVALID_MUTATION")]
        )
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    op = BulkOperation(
        number=store.next_id(), shop=store.shop, query=text, created_at=now,
        completes_at=now + delay_s, created_at_text=rfc3339(utc_now()), kind="MUTATION",
        pending=True,
    )  # fmt: skip
    store.bulk_operations[op.id] = op
    task = asyncio.get_running_loop().create_task(_work(op, ops[0], fragments, variables, root))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return _payload(store, op, base_url, [])


def _file_of(content_type: str, body: bytes) -> tuple[str | None, bytes | None]:
    """The ``key`` field and the ``file`` part of a multipart form."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    key: str | None = None
    data: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name == "key" and isinstance(payload, bytes):
            key = payload.decode()
        elif name == "file" and isinstance(payload, bytes):
            data = payload
    return key, data


@router.post("/staged/{shop}/{token}", status_code=201)
async def staged_upload(shop: str, token: str, request: Request, sim: SimDep) -> dict[str, Any]:
    """The staged upload target (what Shopify's storage bucket does for a form POST)."""
    store = sim.state.stores.get(shop.lower())
    if store is None or token not in store.staged_keys:
        raise HTTPException(404, "unknown upload target")
    body = await request.body()
    if len(body) > MAX_FILE_BYTES:
        raise HTTPException(413, "file too large")
    key, data = _file_of(request.headers.get("content-type", ""), body)
    if key != store.staged_keys[token] or data is None:
        raise HTTPException(400, "the form needs the target's key and a file part")
    store.staged_files[key] = data
    return {"key": key, "bytes": len(data)}
