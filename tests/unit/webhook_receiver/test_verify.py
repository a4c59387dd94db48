import base64
import hashlib
import hmac

from webhook_receiver.verify import shopify_signature, verify_shopify, verify_wms

BODY = b'{"id": 1, "line_items": []}'


def test_shopify_signature_matches_an_independent_computation():
    expected = base64.b64encode(hmac.new(b"s3cret", BODY, hashlib.sha256).digest()).decode()
    assert shopify_signature(BODY, b"s3cret") == expected
    assert verify_shopify(BODY, expected, [b"s3cret"])


def test_wrong_secret_tampered_body_or_garbage_fail():
    sig = shopify_signature(BODY, b"s3cret")
    assert not verify_shopify(BODY, sig, [b"other"])
    assert not verify_shopify(BODY + b" ", sig, [b"s3cret"])
    assert not verify_shopify(BODY, "not base64!!", [b"s3cret"])
    assert not verify_shopify(BODY, None, [b"s3cret"])
    assert not verify_shopify(BODY, "", [b"s3cret"])


def test_either_secret_works_during_rotation():
    old = shopify_signature(BODY, b"old")
    new = shopify_signature(BODY, b"new")
    assert verify_shopify(BODY, old, [b"new", b"old"])
    assert verify_shopify(BODY, new, [b"new", b"old"])


def test_wms_signature_is_hex():
    sig = hmac.new(b"w", BODY, hashlib.sha256).hexdigest()
    assert verify_wms(BODY, sig, [b"w"])
    assert verify_wms(BODY, sig.upper(), [b"w"])
    assert not verify_wms(BODY, sig, [b"x"])
    assert not verify_wms(BODY, "zz", [b"w"])
    assert not verify_wms(BODY, None, [b"w"])
