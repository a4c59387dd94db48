"""The channels: a Slack-compatible incoming webhook, a generic HMAC-signed webhook, email."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

from notifier.domain.alerts import Alert
from notifier.domain.templates import email_subject, render

SIGNATURE_HEADER = "X-StockSync-Signature"
TIMESTAMP_HEADER = "X-StockSync-Timestamp"


class DeliveryError(Exception):
    """A failed delivery; ``permanent`` ones (the receiver refuses it) are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    name: str

    async def send(self, alert: Alert) -> None: ...


async def _post(http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        resp = await http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        # The URL can hold a secret (a Slack webhook's path is its credential): never echo it.
        reason = str(exc).replace(url, "<url>")
        raise DeliveryError(f"{type(exc).__name__}: {reason}") from exc
    if resp.status_code >= 400:
        # 408/429 and 5xx are the receiver's trouble, worth retrying; other 4xx are not.
        permanent = resp.status_code < 500 and resp.status_code not in (408, 429)
        raise DeliveryError(f"HTTP {resp.status_code}", permanent=permanent)


@dataclass
class SlackChannel:
    http: httpx.AsyncClient
    url: str
    console_url: str
    name: str = "slack"

    async def send(self, alert: Alert) -> None:
        r = render(alert, self.console_url)
        doc = {
            "text": r.text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{r.title}*"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(r.lines) or "-"}},
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"<{r.link}|Ops console>"}],
                },
            ],
        }
        body = httpx.Request("POST", self.url, json=doc).content
        await _post(self.http, self.url, body, {"content-type": "application/json"})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``{timestamp}.{body}`` (replay-resistant)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


@dataclass
class WebhookChannel:
    http: httpx.AsyncClient
    url: str
    secret: str
    console_url: str
    name: str = "webhook"

    async def send(self, alert: Alert) -> None:
        r = render(alert, self.console_url)
        doc = {"alert": alert.model_dump(mode="json"), "text": r.text, "link": r.link}
        body = httpx.Request("POST", self.url, json=doc).content
        ts = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "X-StockSync-Alert-Id": alert.id,
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: sign(self.secret, ts, body),
        }
        await _post(self.http, self.url, body, headers)


@dataclass
class EmailChannel:
    """Plain SMTP (optionally STARTTLS and login), run in a thread: smtplib blocks."""

    host: str
    port: int
    sender: str
    recipients: list[str]
    console_url: str
    timeout_s: float = 10.0
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    name: str = "email"

    async def send(self, alert: Alert) -> None:
        msg = EmailMessage()
        msg["Subject"] = email_subject(alert, self.console_url)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["X-StockSync-Alert-Id"] = alert.id
        msg.set_content(render(alert, self.console_url).text)
        try:
            await asyncio.to_thread(self._send_sync, msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"recipients refused: {sorted(exc.recipients)}", permanent=True
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc

    def _send_sync(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(msg)
