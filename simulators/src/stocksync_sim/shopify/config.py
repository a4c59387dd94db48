"""The stores file (StockSync's own YAML format) as the simulator reads it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Plan = Literal["standard", "advanced", "plus", "enterprise"]

# Points restored per second by Shopify plan; the bucket holds 20 seconds' worth.
PLAN_RESTORE_RATES: Mapping[str, float] = {
    "standard": 100.0,
    "advanced": 200.0,
    "plus": 1000.0,
    "enterprise": 2000.0,
}
BUCKET_SECONDS = 20.0
DEFAULT_API_VERSION = "2026-10"

ENV_PREFIX = "env:"


class ConfigError(ValueError):
    """The stores file cannot be used (never echoes secret values)."""


def resolve_env(value: str, environ: Mapping[str, str]) -> str:
    """Resolve an ``env:NAME`` reference; plain values are returned unchanged."""
    if not value.startswith(ENV_PREFIX):
        return value
    name = value[len(ENV_PREFIX) :].strip()
    if not name:
        raise ConfigError("empty environment variable name in 'env:' reference")
    if name not in environ:
        raise ConfigError(f"environment variable {name} referenced by the stores file is not set")
    return environ[name]


class StoreConfig(BaseModel):
    """One store of the stores file. Unknown keys (used by StockSync itself) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    shop: str
    role: str = "child"
    admin_base_url: str | None = None
    # A fixed token, or the app's client credentials: the token endpoint (oauth.py) then
    # issues tokens that expire after token_ttl_s (the simulator's own; Shopify's 24 h).
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_ttl_s: float = Field(default=86399.0, gt=0)
    webhook_secret: str
    webhook_secret_previous: str | None = None
    api_version: str = DEFAULT_API_VERSION
    locations: dict[str, str] = Field(default_factory=dict)
    plan: Plan = "standard"
    # The simulator's own: scopes the app was granted (None: all StockSync may use).
    access_scopes: tuple[str, ...] | None = None

    @field_validator("shop")
    @classmethod
    def _shop_is_domain(cls, value: str) -> str:
        if not value or "/" in value or " " in value:
            raise ValueError(f"shop must be a shop domain like parent.myshopify.com, got {value!r}")
        return value.lower()

    @model_validator(mode="after")
    def _some_access(self) -> StoreConfig:
        if self.access_token is None and (self.client_id is None or self.client_secret is None):
            raise ValueError("give access_token, or client_id and client_secret")
        return self

    @property
    def restore_rate(self) -> float:
        return PLAN_RESTORE_RATES[self.plan]

    @property
    def bucket_size(self) -> float:
        return self.restore_rate * BUCKET_SECONDS


_SECRET_FIELDS = (
    "access_token", "client_id", "client_secret", "webhook_secret", "webhook_secret_previous"
)  # fmt: skip


def parse_stores(data: object, environ: Mapping[str, str] | None = None) -> list[StoreConfig]:
    """Build store configs from the decoded YAML document, resolving ``env:`` references."""
    env = os.environ if environ is None else environ
    if not isinstance(data, dict) or not isinstance(data.get("stores"), list):
        raise ConfigError("stores file must be a mapping with a 'stores:' list")
    stores: list[StoreConfig] = []
    for index, raw in enumerate(data["stores"]):
        if not isinstance(raw, dict):
            raise ConfigError(f"stores[{index}] must be a mapping")
        resolved = dict(raw)
        for key in _SECRET_FIELDS:
            value = resolved.get(key)
            if isinstance(value, str):
                resolved[key] = resolve_env(value, env)
        try:
            stores.append(StoreConfig.model_validate(resolved))
        except ValidationError as exc:
            # Field paths and messages only: input values may be secrets.
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            raise ConfigError(f"stores[{index}]: {problems}") from None
    shops = [store.shop for store in stores]
    duplicates = sorted({shop for shop in shops if shops.count(shop) > 1})
    if duplicates:
        raise ConfigError(f"duplicate shops in stores file: {', '.join(duplicates)}")
    if not stores:
        raise ConfigError("stores file lists no stores")
    return stores


def load_stores(path: Path, environ: Mapping[str, str] | None = None) -> list[StoreConfig]:
    """Read and parse a stores YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read stores file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"stores file {path} is not valid YAML: {exc}") from None
    return parse_stores(data, environ)
