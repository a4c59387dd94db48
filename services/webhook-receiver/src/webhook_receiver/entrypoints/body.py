"""Reading a request body with a size bound."""

from __future__ import annotations

from fastapi import HTTPException, Request


async def read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def require_headers(request: Request, names: list[str]) -> dict[str, str]:
    missing = [n for n in names if not request.headers.get(n)]
    if missing:
        raise HTTPException(400, f"missing header {missing[0]}")
    return {n: request.headers[n] for n in names}
