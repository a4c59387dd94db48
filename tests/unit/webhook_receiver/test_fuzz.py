"""Fuzzing the edge: schemathesis against the served OpenAPI, hypothesis on the parser.

Two properties hold for every generated request: no 5xx (the fakes always take the publish,
so a 5xx can only be a bug), and nothing is accepted without a genuine signature.
Schemathesis' requests are unsigned as generated; each is also sent a second time signed
with a configured shop's secret, which drives the generated bodies and headers past
verification into the parser, the routing and the publish.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import orjson
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from unit.webhook_receiver.harness import (
    SECRET,
    SHOP,
    WMS_SECRET,
    FakeLedger,
    FakeProducer,
    running_edge,
    settings,
    sign,
    stores,
)

from stocksync_common.topics import WEBHOOKS_SHOPIFY, WEBHOOKS_WMS
from webhook_receiver.bootstrap import Container
from webhook_receiver.domain.compliance import COMPLIANCE_TOPICS, shape_problem
from webhook_receiver.entrypoints.app import create_app
from webhook_receiver.intake import Intake
from webhook_receiver.verify import verify_shopify, verify_wms

PRODUCER, LEDGER = FakeProducer(), FakeLedger()
SETTINGS = settings(shop_rate_limit_per_s=1_000_000, wms_rate_limit_per_s=1_000_000)


def _container(s: Any) -> Container:
    return Container(
        s, stores(), PRODUCER, Intake(PRODUCER, LEDGER, s.publish_timeout_s, s.claim_ttl_s)
    )


APP = create_app(SETTINGS, build_container=_container)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
FUZZ = hsettings(
    max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def _raw(case: Any) -> bytes:
    """The bytes schemathesis sends for this case's body (JSON, as its transport does)."""
    body = case.body
    if isinstance(body, bytes):
        return body
    if body is None or type(body).__name__ == "NotSet":
        return b""
    return json.dumps(body).encode()


def _published(topic: str) -> int:
    return len(PRODUCER.on(topic))


@schema.parametrize()
@FUZZ
def test_served_openapi_no_5xx_no_accepted_forgery(case: Any) -> None:
    before = {t: _published(t) for t in (WEBHOOKS_SHOPIFY, WEBHOOKS_WMS)}
    response = case.call()
    # Unsigned data that fits the schema is rightly refused (no positive_data_acceptance), and
    # schemathesis does not count 413, the body bound, as a rejection of invalid data.
    excluded = [positive_data_acceptance]
    if response.status_code == 413:
        excluded.append(negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded)
    assert response.status_code < 500, response.text
    if case.method.upper() != "POST":  # probes of unsupported methods: 405, checked above
        return
    raw = _raw(case)
    headers = {k.lower(): v for k, v in (case.headers or {}).items()}
    if case.path == "/webhooks/shopify":
        genuine = verify_shopify(raw, headers.get("x-shopify-hmac-sha256"), [SECRET])
        if response.status_code == 200:
            assert genuine and headers.get("x-shopify-shop-domain") == SHOP
        else:
            assert _published(WEBHOOKS_SHOPIFY) == before[WEBHOOKS_SHOPIFY]
        signed = case.call(
            data=raw,
            headers={"X-Shopify-Shop-Domain": SHOP, "X-Shopify-Hmac-Sha256": sign(raw)},
        )
    elif case.path == "/webhooks/wms":
        genuine = verify_wms(raw, headers.get("x-wms-signature"), [WMS_SECRET])
        if response.status_code == 200:
            assert genuine
        signature = hmac.new(WMS_SECRET, raw, hashlib.sha256).hexdigest()
        signed = case.call(data=raw, headers={"X-WMS-Signature": signature})
    else:
        return
    assert signed.status_code < 500, signed.text
    sent = {k.lower(): v for k, v in signed.request.headers.items()}
    if (sent.get("x-shopify-shop-domain") == SHOP and "x-shopify-hmac-sha256" in sent) or (
        "x-wms-signature" in sent
    ):
        assert signed.status_code in (200, 400, 413, 415), (signed.text, sent)
    else:  # a negative case that leaves out a required header, the signature among them
        assert signed.status_code == 401, signed.text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.one_of(
        st.binary(max_size=400),
        json_values.map(orjson.dumps),
        st.dictionaries(st.text(max_size=10), json_values, max_size=6).map(orjson.dumps),
    ),
    topic=st.sampled_from(["orders/create", "shop/redact", "customers/redact", "x/y"])
    | st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30),
)
async def test_signed_arbitrary_bodies_never_5xx_and_objects_are_accepted(body, topic):
    async with running_edge() as edge:
        r = await edge.shopify(body, topic)
        assert r.status_code < 500, r.text
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        # an object is accepted, but on a compliance topic only in that topic's shape
        accepted = isinstance(doc, dict) and (
            topic not in COMPLIANCE_TOPICS or shape_problem(topic, SHOP, doc) is None
        )
        assert r.status_code == (200 if accepted else 400), r.text
        assert len(edge.producer.sent) == 1  # published, or kept in the DLQ
        forged = await edge.shopify(body, topic, X_Shopify_Hmac_Sha256=sign(body + b"x"))
        assert forged.status_code == 401
        assert len(edge.producer.sent) == 1
