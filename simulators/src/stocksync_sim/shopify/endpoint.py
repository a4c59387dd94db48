"""``POST /admin/api/{version}/graphql.json``: auth, parsing, validation, cost, execution."""

from __future__ import annotations

import json
import uuid
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
    parse,
    value_from_ast_untyped,
)
from graphql.execution.values import get_variable_values

from stocksync_sim.shopify.collections import webhook_body
from stocksync_sim.shopify.control_ops import notify, notify_product
from stocksync_sim.shopify.cost import max_cost, max_cost_exceeded, requested_cost
from stocksync_sim.shopify.executor import Executor
from stocksync_sim.shopify.resolvers import RequestContext, mutation_root, query_root
from stocksync_sim.shopify.runtime import Simulator, get_sim
from stocksync_sim.shopify.state import Product, StoreState

AUTH_ERROR: dict[str, Any] = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
BAD_QUERY: dict[str, Any] = {"errors": {"query": "Required parameter missing or invalid"}}
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"
SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}

router = APIRouter()
SimDep = Annotated[Simulator, Depends(get_sim)]


@lru_cache(maxsize=4096)
def parse_document(text: str) -> DocumentNode:
    return parse(text)


def _error_json(error: GraphQLError) -> dict[str, Any]:
    body: dict[str, Any] = {"message": error.message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        body["path"] = list(error.path)
    body["extensions"] = {"code": "GRAPHQL_VALIDATION_FAILED", **(error.extensions or {})}
    return body


class GraphQLRun:
    """One GraphQL request against one store."""

    def __init__(
        self, sim: Simulator, store: StoreState, version: str, ctx: RequestContext
    ) -> None:
        self.sim = sim
        self.store = store
        self.version = version
        self.ctx = ctx
        self.requested = 0

    def cost(self, actual: int | None) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": self.requested,
                "actualQueryCost": actual,
                "throttleStatus": self.store.bucket.status(),
            }
        }

    def errors(self, errors: list[dict[str, Any]], actual: int | None = 0) -> dict[str, Any]:
        return {"errors": errors, "extensions": self.cost(actual)}

    def run(self, query: str, raw_variables: dict[str, Any], name: str | None) -> dict[str, Any]:
        try:
            document = parse_document(query)
        except GraphQLError as exc:
            return self.errors([_error_json(exc) | {"extensions": {"code": "PARSE_ERROR"}}])
        invalid = self.sim.schemas.validate(self.version, query, document)
        if invalid:
            return self.errors([_error_json(error) for error in invalid])
        operation = get_operation_ast(document, name)
        if operation is None:
            message = f"No operation named '{name}'" if name else "An operation name is required"
            return self.errors([{"message": message, "extensions": {"code": "BAD_REQUEST"}}])
        if operation.operation == OperationType.SUBSCRIPTION:
            message = "Subscriptions are not supported over HTTP"
            return self.errors([{"message": message, "extensions": {"code": "BAD_REQUEST"}}])
        variables = self._variables(operation, raw_variables)
        if isinstance(variables, list):
            return self.errors(variables)
        fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.requested = requested_cost(operation, fragments, variables)
        limit = max_cost(self.store.bucket.maximum)
        if self.requested > limit:
            return self.errors([max_cost_exceeded(self.requested, limit)], None)
        if not self.store.bucket.try_take(self.requested):
            throttled = {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC},
            }
            return self.errors([throttled], None)
        return self._execute(operation, fragments, variables)

    def _variables(
        self, operation: OperationDefinitionNode, raw: dict[str, Any]
    ) -> dict[str, Any] | list[dict[str, Any]]:
        definitions = operation.variable_definitions or ()
        schema = self.sim.schemas.schema(self.version)
        if schema is not None:
            coerced = get_variable_values(schema, definitions, raw)
            if isinstance(coerced, list):
                return [
                    {"message": error.message, "extensions": {"code": "INVALID_VARIABLE"}}
                    for error in coerced
                ]
        variables = dict(raw)
        for definition in definitions:
            name = definition.variable.name.value
            if name not in variables and definition.default_value is not None:
                variables[name] = value_from_ast_untyped(definition.default_value)
        return variables

    def _execute(
        self,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> dict[str, Any]:
        is_mutation = operation.operation == OperationType.MUTATION
        executor = Executor(variables, fragments, charge_objects=not is_mutation)
        root = (
            mutation_root(self.store, self.ctx) if is_mutation else query_root(self.store, self.ctx)
        )
        data = executor.run(root, operation.selection_set)
        actual = self.requested if is_mutation else min(executor.actual_cost, self.requested)
        self.store.bucket.refund(self.requested - actual)
        body: dict[str, Any] = {}
        if executor.errors:
            body["errors"] = executor.errors
        body["data"] = data
        body["extensions"] = self.cost(actual)
        return body


def _read_body(content_type: str, raw: bytes) -> tuple[str, dict[str, Any], str | None] | None:
    if content_type.startswith("application/graphql"):
        return raw.decode("utf-8", errors="replace"), {}, None
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return None
    variables = payload.get("variables") or {}
    name = payload.get("operationName")
    if not isinstance(variables, dict) or not (name is None or isinstance(name, str)):
        return None
    return payload["query"], variables, name


Parsed = tuple[str, dict[str, Any], str | None]


async def _run_with_faults(
    sim: Simulator, store: StoreState, run: GraphQLRun, parsed: Parsed
) -> tuple[int, Any]:
    """Apply the store's fault switches around one GraphQL run."""
    decision = store.faults.decide()
    if decision.latency_s:
        await sim.sleep(decision.latency_s)
    if decision.error_status is not None:
        store.stats.injected_errors += 1
        return decision.error_status, {"errors": SERVER_ERRORS.get(decision.error_status, "Error")}
    if decision.hang_s and not decision.hang_after:
        store.stats.injected_timeouts += 1
        await sim.sleep(decision.hang_s)
        return 504, {"errors": "Gateway Timeout"}
    if decision.throttle_storm:
        store.bucket.set_available(0)
    body = run.run(*parsed)
    if decision.hang_s:  # applied, but the client gave up before the answer came
        store.stats.injected_timeouts += 1
        await sim.sleep(decision.hang_s)
    return 200, body


async def _send_outbox(sim: Simulator, store: StoreState) -> None:
    """The products/* and collections/* webhooks the request's writes caused (the store's own
    echo included)."""
    queued, store.outbox = store.outbox, []
    for topic, subject in queued:
        if isinstance(subject, Product):
            await notify_product(sim, store, topic, subject)
        else:
            await notify(sim, store, topic, webhook_body(topic, subject))


async def _handle(sim: Simulator, request: Request, version: str, shop: str | None) -> JSONResponse:
    raw = await request.body()
    stores = sim.state.stores_for_token(request.headers.get("x-shopify-access-token"), shop)
    headers = {"X-Shopify-API-Version": version, "X-Request-Id": str(uuid.uuid4())}
    parsed = _read_body(request.headers.get("content-type", ""), raw)
    query, variables, name = parsed if parsed else (raw.decode("utf-8", "replace"), None, None)
    status: int
    body: Any
    ctx = RequestContext(str(request.base_url).rstrip("/"), sim.settings.bulk_delay_s)
    if len(stores) != 1:
        status, body = 401, AUTH_ERROR
    elif parsed is None:
        status, body = 400, BAD_QUERY
    else:
        store = stores[0]
        run = GraphQLRun(sim, store, version, ctx)
        status, body = await _run_with_faults(sim, store, run, (query, variables or {}, name))
        store.stats.count(store.now(), status, body)
        await _send_outbox(sim, store)
    sim.state.record(
        shop=stores[0].shop if len(stores) == 1 else shop,
        api_version=version,
        status_code=status,
        document=query,
        variables=variables,
        operation_name=name,
        response=body,
        writes=ctx.writes,
    )
    return JSONResponse(body, status_code=status, headers=headers)


@router.post("/admin/api/{version}/graphql.json")
async def graphql_by_token(version: str, request: Request, sim: SimDep) -> JSONResponse:
    return await _handle(sim, request, version, None)


@router.post("/shops/{shop}/admin/api/{version}/graphql.json")
async def graphql_by_shop(shop: str, version: str, request: Request, sim: SimDep) -> JSONResponse:
    return await _handle(sim, request, version, shop.lower())
