"""The stores file (``STOCKSYNC_STORES_FILE``): every Shopify store StockSync serves."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from stocksync_common.settings import secret_problem

DEFAULT_API_VERSION = "2026-10"
# The store secrets a service may be given (least privilege: each service names its own).
ACCESS_TOKEN = "access_token"  # noqa: S105 - a field name, not a secret
WEBHOOK_SECRET = "webhook_secret"  # noqa: S105 - a field name
STORE_SECRETS = frozenset({ACCESS_TOKEN, WEBHOOK_SECRET})
# What a secret the service was not given reads as: never sent anywhere that would accept it
# (Shopify refuses it as a token; no signature made with it matches a real one).
WITHHELD = "<withheld: not given to this service>"
_FIELD_SECRET = {
    "access_token": ACCESS_TOKEN,
    # the client credentials grant's (docs/shopify-app.md): the means to an access token
    "client_id": ACCESS_TOKEN,
    "client_secret": ACCESS_TOKEN,
    "webhook_secret": WEBHOOK_SECRET,
    "webhook_secret_previous": WEBHOOK_SECRET,
}


def resolve_secret(value: str) -> str:
    """``env:NAME`` reads the environment variable NAME; anything else is the value itself."""
    if value.startswith("env:"):
        name = value[4:]
        try:
            return os.environ[name]
        except KeyError:
            raise ValueError(f"environment variable {name} is not set") from None
    return value


class Routing(BaseModel):
    """Where an order line of the store reserves (docs/order-routing.md, ADR 0018): at the
    first of ``locations`` (internal ids, in priority order) that covers the whole line,
    else, with ``split``, across them in that order; else the line is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    locations: tuple[str, ...] = Field(min_length=1, max_length=32)
    split: bool = False

    @field_validator("locations")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("routing locations must be distinct")
        if any(not loc or "|" in loc for loc in value):
            raise ValueError("a routing location is a non-empty internal id without '|'")
        return value


class Store(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    shop: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
    role: Literal["parent", "child"] = "child"
    admin_base_url: str | None = None
    # Admin API access: a fixed token, or an app's client id and secret that get expiring
    # tokens through the client credentials grant (one of the two; docs/shopify-app.md)
    access_token: SecretStr | None = None
    client_id: SecretStr | None = None
    client_secret: SecretStr | None = None
    webhook_secret: SecretStr
    webhook_secret_previous: SecretStr | None = None
    api_version: str = DEFAULT_API_VERSION
    locations: dict[str, str] = Field(default_factory=dict)
    # Order routing: None keeps a line at its own location (or the default one).
    routing: Routing | None = None
    plan: str | None = None  # informational; pacing learns the real budget from responses
    # Catalog propagation (a child): product fields this child keeps for itself (title,
    # description, vendor, product_type, status, tags, images, price, metafields) and
    # collection fields (collection_title, collection_description, collection_sort_order,
    # collection_image, collection_rules, collection_products, collection_seo,
    # collection_product_order, collection_metafields, collection_publications); the parent
    # owns every other one.
    # Metafields (of products and collections) propagate in one namespace, the parent's
    # catalog_metafield_namespace. (ADR 0011, ADR 0021, ADR 0035)
    child_owned_fields: tuple[str, ...] = ()
    catalog_metafield_namespace: str = "catalog"

    @field_validator(
        "access_token", "client_id", "client_secret", "webhook_secret", "webhook_secret_previous",
        mode="before",
    )  # fmt: skip
    @classmethod
    def _resolve(cls, value: object, info: ValidationInfo) -> object:
        """``env:NAME`` read now, but only for the secrets this service is given (see
        :func:`load_stores`): another's stays unread, whatever the environment holds."""
        given = (info.context or {}).get("secrets", STORE_SECRETS)
        if info.field_name is not None and _FIELD_SECRET[info.field_name] not in given:
            return WITHHELD
        return resolve_secret(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_kind_of_access(self) -> Store:
        pair = (self.client_id is None, self.client_secret is None)
        if pair[0] != pair[1]:
            raise ValueError("client_id and client_secret go together")
        if (self.access_token is None) == (self.client_id is None):
            raise ValueError(
                "give access_token (a fixed Admin API token) or client_id and client_secret "
                "(expiring tokens from the client credentials grant), one of the two"
            )
        return self

    @model_validator(mode="after")
    def _real_secrets_in_production(self, info: ValidationInfo) -> Store:
        if (info.context or {}).get("environment") != "production":
            return self
        for name in ("access_token", "client_secret", "webhook_secret", "webhook_secret_previous"):
            value: SecretStr | None = getattr(self, name)
            if value is None or value.get_secret_value() == WITHHELD:
                continue
            problem = secret_problem(f"{self.shop} {name}", value, PLACEHOLDER_STORE_SECRETS)
            if problem:
                raise ValueError(problem)
        return self

    @property
    def base_url(self) -> str:
        return (self.admin_base_url or f"https://{self.shop}").rstrip("/")

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/admin/api/{self.api_version}/graphql.json"

    @property
    def token_url(self) -> str:
        """Where the client credentials grant is asked for an access token."""
        return f"{self.base_url}/admin/oauth/access_token"

    def webhook_secrets(self) -> list[bytes]:
        secrets = [self.webhook_secret.get_secret_value().encode()]
        if self.webhook_secret_previous is not None:
            secrets.append(self.webhook_secret_previous.get_secret_value().encode())
        return secrets

    def default_location(self) -> str:
        return next(iter(self.locations), "default")

    def location_for_gid(self, gid: str) -> str | None:
        return next((loc for loc, g in self.locations.items() if g == gid), None)


class StoresConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stores: list[Store]

    @model_validator(mode="after")
    def _unique_shops(self) -> StoresConfig:
        shops = [s.shop for s in self.stores]
        dupes = {s for s in shops if shops.count(s) > 1}
        if dupes:
            raise ValueError(f"shop listed twice: {sorted(dupes)}")
        return self

    def by_shop(self, shop: str) -> Store | None:
        return next((s for s in self.stores if s.shop == shop), None)


# Values from the example stores file and the demo: fine on a laptop, refused in production.
PLACEHOLDER_STORE_SECRETS = frozenset(
    {"shpat_demo_child_eu", "shpat_demo_child_us", "demo-child-eu-secret",
     "demo-child-us-secret", "demo-child-us-old-secret"}
)  # fmt: skip


def load_stores(
    path: str | Path,
    secrets: frozenset[str] = STORE_SECRETS,
    environment: str | None = None,
) -> StoresConfig:
    """The stores file. ``secrets``: the store secrets this service uses (``ACCESS_TOKEN``,
    ``WEBHOOK_SECRET``); the others are never read (their ``env:`` variables need not exist)
    and read as ``WITHHELD``. In ``production`` every secret read must be a real one: not
    empty, not an example value, at least 32 characters; the error names the shop and the
    field, never the value."""
    unknown = secrets - STORE_SECRETS
    if unknown:
        raise ValueError(f"unknown store secrets: {sorted(unknown)}")
    raw = yaml.safe_load(Path(path).read_text())
    context = {"secrets": secrets, "environment": environment}
    try:
        return StoresConfig.model_validate(raw, context=context)
    except ValidationError as exc:  # pydantic's own text prints the input: the secrets
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in error["loc"]) or "stores"
            problems.append(f"{where}: {error['msg']}")
        raise BadStoresFile(f"{path}: " + "; ".join(problems)) from None


class BadStoresFile(ValueError):
    """The stores file cannot be used; the message names each problem, never a secret."""
