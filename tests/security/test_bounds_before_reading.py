"""A body too large is refused before or while it is read, not once it sits in memory (#22):
the console's forms (its login form is open to anyone who reaches it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from unit.ops_console.fakes import console

CHUNK = 64 * 1024


class Flood:
    """A request body of ``chunks`` chunks of 64 KiB, sent without a Content-Length
    (chunked), counting how many the server asked for."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.sent += 1
            yield b"a" * CHUNK


async def test_the_login_form_stops_reading_a_flood() -> None:
    flood = Flood(chunks=1600)  # 100 MiB
    async with console() as (client, _):
        r = await client.post(
            "/login", content=flood, headers={"content-type": "application/x-www-form-urlencoded"}
        )
    assert r.status_code == 413 and "form too large" in r.text
    assert flood.sent <= 3  # the form limit is 64 KiB: it stopped after it


async def test_the_login_form_refuses_a_declared_flood_unread() -> None:
    async with console() as (client, _):
        r = await client.post(
            "/login",
            content=b"secret=x",
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "content-length": str(100 * 1024 * 1024),
            },
        )
    assert r.status_code == 413
