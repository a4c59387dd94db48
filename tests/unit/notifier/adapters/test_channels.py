"""Slack and generic webhook channels against httpx.MockTransport."""

import hashlib
import hmac
import json

import httpx
import pytest

from notifier.adapters.channels import DeliveryError, SlackChannel, WebhookChannel, sign
from notifier.domain.alerts import Alert

ALERT = Alert(id="al-1", kind="out_of_stock", sku="A-1", available_before=1, available=0)
SECRET_URL = "https://hooks.slack.test/services/T000/B000/s3cr3t"


def client(handler):
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_slack_posts_text_and_blocks():
    seen = []

    def handler(request):
        seen.append(json.loads(request.content))
        return httpx.Response(200, text="ok")

    async with client(handler) as http:
        await SlackChannel(http, SECRET_URL, "https://ops.test").send(ALERT)
    assert "A-1 is out of stock" in seen[0]["text"]
    assert "https://ops.test/inventory/A-1" in json.dumps(seen[0]["blocks"])


async def test_webhook_body_is_signed_over_timestamp_and_body():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(204)

    async with client(handler) as http:
        await WebhookChannel(http, "https://hooks.test/in", "k3y", "https://ops.test").send(ALERT)
    req = seen[0]
    ts = req.headers["X-StockSync-Timestamp"]
    expected = hmac.new(b"k3y", ts.encode() + b"." + req.content, hashlib.sha256).hexdigest()
    assert req.headers["X-StockSync-Signature"] == f"sha256={expected}"
    assert req.headers["X-StockSync-Alert-Id"] == "al-1"
    assert json.loads(req.content)["alert"]["sku"] == "A-1"
    assert sign("k3y", ts, req.content + b"x") != req.headers["X-StockSync-Signature"]


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (429, False), (400, True)])
async def test_http_failures_are_transient_or_permanent(status, permanent):
    async with client(lambda _r: httpx.Response(status)) as http:
        with pytest.raises(DeliveryError) as err:
            await SlackChannel(http, SECRET_URL, "https://ops.test").send(ALERT)
    assert err.value.permanent is permanent


async def test_connection_errors_never_echo_the_secret_url():
    def handler(request):
        raise httpx.ConnectError(f"cannot reach {SECRET_URL}", request=request)

    async with client(handler) as http:
        with pytest.raises(DeliveryError) as err:
            await SlackChannel(http, SECRET_URL, "https://ops.test").send(ALERT)
    assert "s3cr3t" not in str(err.value) and not err.value.permanent
