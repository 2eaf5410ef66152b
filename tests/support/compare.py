"""Comparing warehouse tables row for row."""

from __future__ import annotations

import math


def same_rows(a: list[tuple], b: list[tuple]) -> bool:
    """Row for row; doubles equal to 1e-12 relative (sums in another order differ in the last bits)."""
    return len(a) == len(b) and all(
        len(x) == len(y) and all(
            math.isclose(u, v, rel_tol=1e-12, abs_tol=1e-15) if isinstance(u, float) and isinstance(v, float) else u == v
            for u, v in zip(x, y))
        for x, y in zip(a, b))
