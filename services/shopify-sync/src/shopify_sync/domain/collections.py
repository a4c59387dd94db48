"""Collection propagation, the pure part (ADR 0021): one view of a collection whether read
from the Admin API or carried by a collections/* webhook, the collection fields a child lets
the parent own (the same ``child_owned_fields`` list as products), the ``CollectionInput``
that writes exactly those, the fingerprint that recognises our own write echoed back, and
the membership plan of a custom collection: which child products to add, which to remove,
and which parent members the child does not have yet (pending until they arrive), and the
sales channels to publish on (with a publish date to come copied as it is: ADR 0038's
amendment) and to unpublish from.

Products are matched across stores by handle, as product propagation does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from stocksync_common.stores import Store

# The collection fields a child may keep for itself (``child_owned_fields``, beside the
# product fields); the parent owns every one the child does not list.
COLLECTION_FIELDS = frozenset(
    {
        "collection_title", "collection_description", "collection_sort_order",
        "collection_image", "collection_rules", "collection_products", "collection_seo",
        "collection_product_order", "collection_metafields", "collection_publications",
    }
)  # fmt: skip
# What a collections/* webhook carries reliably (its sort_order may be null; no image,
# rules or products): the echo fingerprint covers only these.
ECHO_FIELDS = frozenset({"collection_title", "collection_description"})
MANUAL = "MANUAL"  # the sort order whose product order the merchant sets by hand
JOURNAL_PREFIX = "collection:"  # journal and last-write keys, apart from product handles
IMAGE_PREFIX = "collection-image:"  # the image last written: the parent's and child's URLs


@dataclass(frozen=True, order=True)
class Rule:
    column: str
    relation: str
    condition: str


@dataclass(frozen=True)
class CollectionView:
    handle: str
    collection_id: str = ""
    title: str = ""
    description: str = ""
    sort_order: str = ""
    image: str = ""
    seo_title: str = ""  # the search engine listing; empty: Shopify's default (the title)
    seo_description: str = ""
    smart: bool = False
    disjunctive: bool = False
    rules: tuple[Rule, ...] = ()
    products: tuple[str, ...] = ()  # member product handles (a custom collection's matter)
    order: tuple[str, ...] = ()  # the same handles in the collection's order, as read
    # (namespace, key, type, value) in the propagated namespace, sorted
    metafields: tuple[tuple[str, str, str, str], ...] = ()
    publications: tuple[str, ...] = ()  # the sales channels (titles) it is published on
    # of those, the ones it is scheduled on: (title, publish date to come, RFC 3339 UTC)
    scheduled: tuple[tuple[str, str], ...] = ()
    updated_at: str = ""
    product_ids: Mapping[str, str] = field(default_factory=dict, compare=False)  # handle -> gid

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["product_ids"] = dict(self.product_ids)
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CollectionView:
        lists = ("rules", "products", "product_ids", "order", "metafields", "publications",
                 "scheduled")  # fmt: skip
        plain = {k: v for k, v in doc.items() if k not in lists}
        return cls(
            **plain,
            rules=tuple(Rule(*r) if isinstance(r, list) else Rule(**r) for r in doc["rules"]),
            products=tuple(doc.get("products") or ()),
            order=tuple(doc.get("order") or ()),
            metafields=tuple(tuple(m) for m in doc.get("metafields") or ()),
            publications=tuple(doc.get("publications") or ()),
            scheduled=tuple((str(t), str(d)) for t, d in doc.get("scheduled") or ()),
            product_ids=dict(doc.get("product_ids") or {}),
        )


def from_graphql(
    node: Mapping[str, Any], members: Iterable[Mapping[str, Any]], now: datetime | None = None
) -> CollectionView:
    """A ``Collection`` as ``CollectionForSync`` reads it, with every member product; a
    channel whose publish date is after ``now`` (the read's time) is scheduled (no ``now``:
    none is)."""
    rule_set = node.get("ruleSet")
    channels = [r for r in (node.get("resourcePublications") or {}).get("nodes") or []
                if r.get("isPublished")]  # fmt: skip
    rules = tuple(
        Rule(str(r["column"]), str(r["relation"]), str(r["condition"]))
        for r in (rule_set or {}).get("rules") or []
    )
    ids = {str(p["handle"]): str(p["id"]) for p in members}
    seo = node.get("seo") or {}
    return CollectionView(
        handle=str(node.get("handle") or ""),
        collection_id=str(node.get("id") or ""),
        title=str(node.get("title") or ""),
        description=str(node.get("descriptionHtml") or ""),
        sort_order=str(node.get("sortOrder") or ""),
        image=str((node.get("image") or {}).get("url") or ""),
        seo_title=str(seo.get("title") or ""),
        seo_description=str(seo.get("description") or ""),
        smart=rule_set is not None,
        disjunctive=bool((rule_set or {}).get("appliedDisjunctively")),
        rules=rules,
        products=tuple(sorted(ids)),
        order=tuple(ids),
        metafields=tuple(
            sorted(
                (str(m["namespace"]), str(m["key"]), str(m["type"]), str(m["value"]))
                for m in (node.get("metafields") or {}).get("nodes") or []
            )
        ),
        publications=tuple(sorted(_title(r) for r in channels)),
        scheduled=scheduled(channels, now) if now else (),
        updated_at=str(node.get("updatedAt") or ""),
        product_ids=ids,
    )


def _title(resource_publication: Mapping[str, Any]) -> str:
    return str(((resource_publication.get("publication") or {}).get("catalog") or {})
               .get("title") or "")  # fmt: skip


def scheduled(
    resource_publications: Iterable[Mapping[str, Any]], now: datetime
) -> tuple[tuple[str, str], ...]:
    """(channel title, publish date) of the resource publications whose date is after
    ``now``: scheduled, not published yet. The date in RFC 3339 UTC to the second, so the
    parent's and the child's compare equal however each store writes it."""
    found = []
    for r in resource_publications:
        try:
            date = datetime.fromisoformat(str(r.get("publishDate")))
        except ValueError:
            continue  # no date: published
        date = date if date.tzinfo else date.replace(tzinfo=UTC)
        if date > now:
            stamp = date.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            found.append((_title(r), stamp))
    return tuple(sorted(found))


def from_webhook(body: Mapping[str, Any]) -> CollectionView:
    """A ``collections/create`` / ``collections/update`` body (REST shape)."""
    order = str(body.get("sort_order") or "").upper().replace("-", "_")
    return CollectionView(
        handle=str(body.get("handle") or ""),
        collection_id=str(body.get("admin_graphql_api_id") or ""),
        title=str(body.get("title") or ""),
        description=str(body.get("body_html") or ""),
        sort_order=order,
        updated_at=str(body.get("updated_at") or ""),
    )


def parent_owned(child: Store) -> frozenset[str]:
    """The collection fields the parent writes in this child."""
    return COLLECTION_FIELDS - set(child.child_owned_fields)


def fingerprint(view: CollectionView, fields: Iterable[str]) -> str:
    """A hash of what a collections/* webhook shows of ``fields``: equal for our write and
    for the child's webhook that echoes it (also the one a membership change sends)."""
    doc: dict[str, Any] = {"handle": view.handle}
    for name in sorted(set(fields) & ECHO_FIELDS):
        doc[name] = getattr(view, name.removeprefix("collection_"))
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def collection_input(
    view: CollectionView, fields: Iterable[str], collection_id: str | None
) -> dict[str, Any]:
    """``CollectionInput`` writing ``fields`` of ``view`` (the handle always; ``id`` for an
    update). A smart collection's rules go as ``ruleSet``; membership is never written here
    (the add and remove steps do it, so each step can be undone on its own)."""
    chosen = set(fields)
    data: dict[str, Any] = {"handle": view.handle}
    if collection_id:
        data["id"] = collection_id
    if "collection_title" in chosen:
        data["title"] = view.title
    if "collection_description" in chosen:
        data["descriptionHtml"] = view.description
    if "collection_sort_order" in chosen and view.sort_order:
        data["sortOrder"] = view.sort_order
    if "collection_image" in chosen:
        data["image"] = {"src": view.image} if view.image else None
    if "collection_seo" in chosen:  # empty: cleared, the store shows its default again
        data["seo"] = {"title": view.seo_title or None, "description": view.seo_description or None}
    if "collection_rules" in chosen and view.smart:
        data["ruleSet"] = {
            "appliedDisjunctively": view.disjunctive,
            "rules": [asdict(r) for r in view.rules],
        }
    return data


@dataclass(frozen=True)
class Membership:
    """What to do to a child's custom collection so it holds the parent's members."""

    add: tuple[str, ...] = ()  # child product gids to add
    remove: tuple[str, ...] = ()  # child product gids to remove
    pending: tuple[str, ...] = ()  # parent member handles the child has no product for yet


def plan_membership(
    wanted: Iterable[str], shown: Mapping[str, str], found: Mapping[str, str]
) -> Membership:
    """``wanted``: the parent's member handles; ``shown``: the child collection's members
    now (handle -> gid); ``found``: the child's products with the wanted handles it lacks
    (handle -> gid). A member the child has no product for is pending, never an error."""
    want = list(dict.fromkeys(wanted))
    add = tuple(found[h] for h in want if h not in shown and h in found)
    pending = tuple(h for h in want if h not in shown and h not in found)
    keep = set(want)
    remove = tuple(gid for h, gid in shown.items() if h not in keep)
    return Membership(add, remove, pending)


def drifted(
    wanted: CollectionView,
    shown: CollectionView,
    fields: Iterable[str],
    pending: Iterable[str],
    channels: Iterable[str] = (),
) -> list[str]:
    """The parent-owned ``fields`` in which the child's collection (``shown``, read whole)
    no longer shows the parent's (``wanted``): what a child's collections/update may have
    changed (ADR 0035). Membership drifted when the child holds a product the parent does not
    list, or lacks a parent member that is not ``pending`` (its product not in the child
    yet). The image is not compared: a store serves an image from its own CDN address, so
    the parent's and the child's never match. Publications are compared over the child's
    sales ``channels`` (titles) only: one the child does not have cannot differ."""
    chosen, has = set(fields), set(channels)
    out = [
        name
        for name, differs in (
            ("collection_title", wanted.title != shown.title),
            ("collection_description", wanted.description != shown.description),
            ("collection_sort_order", bool(wanted.sort_order)
             and wanted.sort_order != shown.sort_order),
            ("collection_metafields", wanted.metafields != shown.metafields),
            ("collection_publications", bool(has)
             and (set(wanted.publications) & has != set(shown.publications) & has
                  or {s for s in wanted.scheduled if s[0] in has}
                  != {s for s in shown.scheduled if s[0] in has})),
            ("collection_seo", (wanted.seo_title, wanted.seo_description)
             != (shown.seo_title, shown.seo_description)),
            ("collection_product_order", manual_order(wanted, shown)
             and bool(reorder_moves(wanted.order, shown.order))),
            ("collection_rules", wanted.smart and (wanted.disjunctive, sorted(wanted.rules))
             != (shown.disjunctive, sorted(shown.rules))),
        )
        if differs and name in chosen
    ]  # fmt: skip
    if "collection_products" in chosen and not wanted.smart:
        waiting = set(pending)
        lacking = set(wanted.products) - set(shown.products) - waiting
        if lacking or set(shown.products) - set(wanted.products):
            out.append("collection_products")
    return out


def manual_order(wanted: CollectionView, shown: CollectionView) -> bool:
    """Whether the parent's product order is to be copied: both sorted by hand (a child that
    keeps another sort order shows its own order), a custom or a smart collection (ADR 0038:
    Shopify reorders either when sorted ``MANUAL``)."""
    return wanted.sort_order == MANUAL and shown.sort_order == MANUAL


def reorder_moves(wanted: Sequence[str], shown: Sequence[str]) -> list[tuple[str, int]]:
    """``collectionReorderProducts`` moves (item, zero-based position), applied in order as
    Shopify applies them, that make ``shown`` list the items of ``wanted`` it holds in
    ``wanted``'s order, followed by its others (members the parent does not list) in theirs.
    Only the items that move: none when the order is already right."""
    held = set(shown)
    target = [item for item in dict.fromkeys(wanted) if item in held]
    placed = set(target)
    target += [item for item in shown if item not in placed]
    now, moves = list(shown), []
    for position, item in enumerate(target):
        if now[position] != item:
            now.remove(item)
            now.insert(position, item)
            moves.append((item, position))
    return moves


def metafield_changes(
    wanted: CollectionView, shown: CollectionView, owner_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """What makes ``shown``'s metafields (in the propagated namespace) ``wanted``'s: the
    ``MetafieldsSetInput`` of each one missing or different, and the
    ``MetafieldIdentifierInput`` of each one ``wanted`` does not have."""
    have = set(shown.metafields)
    keep = {(ns, key) for ns, key, _, _ in wanted.metafields}
    to_set = [
        {"ownerId": owner_id, "namespace": ns, "key": key, "type": kind, "value": value}
        for ns, key, kind, value in wanted.metafields
        if (ns, key, kind, value) not in have
    ]
    to_delete = [
        {"ownerId": owner_id, "namespace": ns, "key": key}
        for ns, key, _, _ in shown.metafields
        if (ns, key) not in keep
    ]
    return to_set, to_delete


def publication_changes(
    wanted: CollectionView, shown: CollectionView, channels: Mapping[str, str]
) -> tuple[list[dict[str, str]], list[str]]:
    """What puts ``shown`` on the channels ``wanted`` is on, among the child's ``channels``
    (title -> id; a channel the child does not have is skipped): the ``PublicationInput``
    of each channel to publish on, with ``wanted``'s publish date when it is scheduled there
    (also for a channel ``shown`` is on already, published or scheduled for another date;
    none: published now), and the publication ids to unpublish from."""
    wanted_dates, shown_dates = dict(wanted.scheduled), dict(shown.scheduled)
    publish = []
    for title in wanted.publications:
        date = wanted_dates.get(title)
        if title in channels and (title not in shown.publications
                                  or date != shown_dates.get(title)):  # fmt: skip
            item = {"publicationId": channels[title]}
            publish.append(item | {"publishDate": date} if date else item)
    unpublish = [channels[t] for t in shown.publications
                 if t in channels and t not in wanted.publications]  # fmt: skip
    return publish, unpublish


def image_record(parent_url: str, child_url: str) -> str:
    """What the image was when written: the parent's URL and the one the child answered
    (a store copies an image to its own CDN, so the two never match; ADR 0035)."""
    return json.dumps([parent_url, child_url])


def handle_query(handles: Iterable[str]) -> str:
    """A products search for these handles (``handle:"a" OR handle:"b"``)."""
    return " OR ".join(f"handle:{json.dumps(h)}" for h in handles)
