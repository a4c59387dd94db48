"""Request bodies read within a bound: refused before or while reading, never after.

``await request.body()`` reads the whole body into memory before anyone can look at its
size, so a size check after it bounds nothing (a client can send gigabytes). :func:`read_bounded`
refuses a declared ``Content-Length`` above the limit before reading a byte, and stops reading
an undeclared (chunked) body as soon as it passes the limit. Both answer 413.
"""

from __future__ import annotations

from fastapi import HTTPException, Request


async def read_bounded(request: Request, limit: int, what: str = "body") -> bytes:
    """The whole body, at most ``limit`` bytes; ``HTTPException(413)`` beyond."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"{what} too large (more than {limit} bytes)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"{what} too large (more than {limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)
