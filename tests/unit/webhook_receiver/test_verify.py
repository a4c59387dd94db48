"""Signature checks, cross-checked against Shopify's own Python implementation
(``shopify_app.verify_webhook_req`` from the ``shopifyapp`` package) in both directions."""

import base64
import hashlib
import hmac

from hypothesis import example, given
from hypothesis import strategies as st
from shopify_app.verify import verify_webhook_req

from webhook_receiver.verify import shopify_signature, verify_shopify, verify_wms, wms_signature

BODY = b'{"id": 1, "line_items": []}'


def shopify_accepts(body: str, header: str, secret: str, old: str | None = None) -> bool:
    """What Shopify's library decides for this webhook request."""
    config = {"client_id": "stocksync", "client_secret": secret}
    if old is not None:
        config["old_client_secret"] = old
    request = {
        "method": "POST",
        "headers": {
            "X-Shopify-Hmac-Sha256": header,
            "X-Shopify-Shop-Domain": "example.myshopify.com",
            "X-Shopify-Topic": "orders/create",
        },
        "body": body,
    }
    return bool(verify_webhook_req(request, config).ok)  # type: ignore[arg-type]


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
    assert not verify_shopify(BODY, sig, [])


def test_only_the_canonical_base64_spelling_is_accepted():
    sig = shopify_signature(BODY, b"s3cret")
    # 32 bytes in base64 leave 2 unused bits in the last character: other spellings decode
    # to the same digest, but Shopify's library compares text, and so do we.
    last = sig[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sibling = alphabet[alphabet.index(last) ^ 1]
    twin = sig[:-2] + sibling + sig[-1]
    assert base64.b64decode(twin) == base64.b64decode(sig)
    assert not verify_shopify(BODY, twin, [b"s3cret"])
    assert not shopify_accepts(BODY.decode(), twin, "s3cret")
    assert not verify_shopify(BODY, f" {sig}", [b"s3cret"])


def test_either_secret_works_during_rotation():
    old = shopify_signature(BODY, b"old")
    new = shopify_signature(BODY, b"new")
    assert verify_shopify(BODY, old, [b"new", b"old"])
    assert verify_shopify(BODY, new, [b"new", b"old"])
    assert not verify_shopify(BODY, old, [b"new"])


def test_wms_signature_is_hex():
    sig = hmac.new(b"w", BODY, hashlib.sha256).hexdigest()
    assert wms_signature(BODY, b"w") == sig
    assert verify_wms(BODY, sig, [b"w"])
    assert verify_wms(BODY, sig.upper(), [b"w"])
    assert verify_wms(BODY, sig, [b"x", b"w"])
    assert not verify_wms(BODY, sig, [b"x"])
    assert not verify_wms(BODY, "zz", [b"w"])
    assert not verify_wms(BODY, None, [b"w"])
    assert not verify_wms(BODY, sig[:-1] + "\u212a", [b"w"])  # Kelvin sign lowercases to k


secrets_ = st.text(min_size=1, max_size=40)
bodies = st.text(max_size=400)


@given(body=bodies, secret=secrets_)
def test_what_we_sign_shopify_accepts(body, secret):
    header = shopify_signature(body.encode(), secret.encode())
    assert shopify_accepts(body, header, secret)
    assert verify_shopify(body.encode(), header, [secret.encode()])


@given(body=bodies, secret=secrets_, old=secrets_, which=st.sampled_from(["new", "old"]))
def test_what_shopify_signs_with_either_secret_we_accept(body, secret, old, which):
    header = base64.b64encode(
        hmac.new(
            (secret if which == "new" else old).encode(), body.encode(), hashlib.sha256
        ).digest()
    ).decode()
    assert shopify_accepts(body, header, secret, old)
    assert verify_shopify(body.encode(), header, [secret.encode(), old.encode()])


@given(
    body=bodies,
    secret=secrets_,
    old=st.none() | secrets_,
    # ASCII only: Shopify's library raises TypeError on a non-ASCII header (hmac.compare_digest
    # refuses such str); ours answers False, see test_no_forgery_is_accepted_and_no_header_raises.
    header=st.one_of(
        st.text(st.characters(max_codepoint=127), max_size=60),
        st.binary(min_size=32, max_size=32).map(lambda b: base64.b64encode(b).decode()),
    ),
)
@example(body="{}", secret="s", old=None, header="")
def test_we_and_shopify_agree_on_every_header(body, secret, old, header):
    ours = verify_shopify(
        body.encode(), header, [secret.encode()] + ([old.encode()] if old is not None else [])
    )
    assert ours == shopify_accepts(body, header, secret, old)


@given(body=st.binary(max_size=300), secret=st.binary(min_size=1, max_size=40), header=st.text())
def test_no_forgery_is_accepted_and_no_header_raises(body, secret, header):
    genuine = shopify_signature(body, secret)
    assert verify_shopify(body, header, [secret]) == (header == genuine)
    genuine_hex = wms_signature(body, secret)
    assert verify_wms(body, header, [secret]) == (
        header.lower() == genuine_hex and header.isascii()
    )
