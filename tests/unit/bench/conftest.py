"""The benches live in bench/ at the repository root, which is not on pytest's path."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # worker processes the hot-SKU bench spawns inherit it
