"""What stores show for a SKU whose truth is ``n``: every store ``n`` while stock is ample,
or (channel allocation, on by default for low stock: ADR 0012) disjoint shares adding up
to ``n``."""

from __future__ import annotations

from collections.abc import Iterable


def shows_stock(levels: Iterable[int | None], n: int) -> bool:
    counts = [level or 0 for level in levels]
    return all(c == n for c in counts) or (sum(counts) == n and all(c <= n for c in counts))
