"""One process-wide fix for httpx's hot path, applied by the simulators' entry points.

httpcore 1.0.9 runs ``import sniffio`` every time it sets up a lock or an event (several
times per request). anyio 4 no longer installs sniffio, and a failed import is not
remembered: each one searches every ``sys.path`` entry again (stat calls). Profiled in the
Shopify simulator delivering storefront webhooks (``bench.sim_capacity``), that search was
45% of the process's CPU. Marking the module absent once makes the import fail at once,
and httpcore then picks asyncio, as it does after the slow failure.
"""

from __future__ import annotations

import importlib.util
import sys


def skip_missing_sniffio() -> bool:
    """Mark ``sniffio`` absent when it is not installed; True when it did."""
    if "sniffio" in sys.modules or importlib.util.find_spec("sniffio") is not None:
        return False
    sys.modules["sniffio"] = None  # type: ignore[assignment]  # import now fails at once
    return True
