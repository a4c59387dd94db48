"""stocksync_common.bodies: a body is refused before or while it is read, never after."""

from __future__ import annotations

import pytest
from fastapi import HTTPException, Request
from starlette.types import Message

from stocksync_common.bodies import read_bounded


class Sender:
    """An ASGI ``receive`` handing out ``chunks`` of a body, counting what was taken."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.taken = 0

    async def __call__(self) -> Message:
        if self.taken >= len(self.chunks):
            return {"type": "http.disconnect"}
        self.taken += 1
        more = self.taken < len(self.chunks)
        return {"type": "http.request", "body": self.chunks[self.taken - 1], "more_body": more}


def request(sender: Sender, length: int | None) -> Request:
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    return Request(scope, sender)


async def test_a_body_within_the_limit_is_read_whole() -> None:
    sender = Sender([b"a" * 10, b"b" * 10])
    assert await read_bounded(request(sender, 20), limit=20) == b"a" * 10 + b"b" * 10


async def test_a_declared_length_above_the_limit_is_refused_before_reading() -> None:
    sender = Sender([b"x" * 100] * 1000)
    with pytest.raises(HTTPException) as refused:
        await read_bounded(request(sender, 100_000), limit=1000, what="import")
    assert refused.value.status_code == 413 and "import too large" in refused.value.detail
    assert sender.taken == 0


async def test_an_undeclared_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    sender = Sender([b"x" * 100] * 1000)
    with pytest.raises(HTTPException) as refused:
        await read_bounded(request(sender, None), limit=1000)
    assert refused.value.status_code == 413
    assert sender.taken == 11  # 1,100 bytes read of 100,000: it stopped there
