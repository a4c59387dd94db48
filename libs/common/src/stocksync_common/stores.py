"""The stores file (``STOCKSYNC_STORES_FILE``): every Shopify store StockSync serves."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEFAULT_API_VERSION = "2026-10"


def resolve_secret(value: str) -> str:
    """``env:NAME`` reads the environment variable NAME; anything else is the value itself."""
    if value.startswith("env:"):
        name = value[4:]
        try:
            return os.environ[name]
        except KeyError:
            raise ValueError(f"environment variable {name} is not set") from None
    return value


class Store(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    shop: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
    role: Literal["parent", "child"] = "child"
    admin_base_url: str | None = None
    access_token: SecretStr
    webhook_secret: SecretStr
    webhook_secret_previous: SecretStr | None = None
    api_version: str = DEFAULT_API_VERSION
    locations: dict[str, str] = Field(default_factory=dict)
    plan: str | None = None  # informational; pacing learns the real budget from responses
    # Catalog propagation (a child): product fields this child keeps for itself (title,
    # description, vendor, product_type, status, tags, images, price, metafields); the
    # parent owns every other one. Metafields propagate in one namespace. (ADR 0011)
    child_owned_fields: tuple[str, ...] = ()
    catalog_metafield_namespace: str = "catalog"

    @field_validator("access_token", "webhook_secret", "webhook_secret_previous", mode="before")
    @classmethod
    def _resolve(cls, value: object) -> object:
        return resolve_secret(value) if isinstance(value, str) else value

    @property
    def base_url(self) -> str:
        return (self.admin_base_url or f"https://{self.shop}").rstrip("/")

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/admin/api/{self.api_version}/graphql.json"

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


def load_stores(path: str | Path) -> StoresConfig:
    raw = yaml.safe_load(Path(path).read_text())
    return StoresConfig.model_validate(raw)
