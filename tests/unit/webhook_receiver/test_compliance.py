import json

from unit.webhook_receiver.harness import sample_body

from webhook_receiver.domain.compliance import COMPLIANCE_TOPICS, compliance_request


def test_the_three_mandatory_topics():
    assert {"customers/data_request", "customers/redact", "shop/redact"} == COMPLIANCE_TOPICS


def test_customers_redact_sample_keeps_ids_and_drops_contact_details():
    body = json.loads(sample_body("customers/redact"))
    req = compliance_request("customers/redact", "s.myshopify.com", "w1", body, event_id="e1")
    assert req.customer_id == str(body["customer"]["id"])
    assert req.order_ids == [str(o) for o in body["orders_to_redact"]]
    assert req.shop_id == str(body["shop_id"])
    assert req.event_id == "e1"
    dumped = req.model_dump_json()
    assert body["customer"]["email"] not in dumped
    assert body["customer"]["phone"] not in dumped


def test_data_request_sample():
    body = json.loads(sample_body("customers/data_request"))
    req = compliance_request("customers/data_request", "s.myshopify.com", "w2", body)
    assert req.data_request_id == str(body["data_request"]["id"])
    assert req.order_ids == [str(o) for o in body["orders_requested"]]
    assert req.customer_id == str(body["customer"]["id"])


def test_shop_redact_sample_and_odd_shapes_never_raise():
    body = json.loads(sample_body("shop/redact"))
    req = compliance_request("shop/redact", "s.myshopify.com", "w3", body)
    assert (req.shop_id, req.customer_id, req.order_ids) == (str(body["shop_id"]), None, [])
    odd = {"customer": "x", "orders_to_redact": [1, None, {"a": 1}, "7"], "data_request": []}
    req = compliance_request("customers/redact", "s.myshopify.com", "w4", odd)
    assert (req.customer_id, req.order_ids, req.data_request_id) == (None, ["1", "7"], None)
