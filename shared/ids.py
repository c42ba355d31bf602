"""Time-ordered ids (UUIDv7, RFC 9562): unique, unguessable enough for ids, index-friendly.

Rows keyed by them are inserted at the right edge of the primary-key index
instead of on a random page, which matters for bulk imports.
"""

from __future__ import annotations

import os
import time
import uuid

_VARIANT = "89ab"


def uuid7_strings(count: int) -> list[str]:
    """`count` UUIDv7s as strings sharing this millisecond (cheap in bulk)."""
    prefix = f"{time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}"
    head = f"{prefix[:8]}-{prefix[8:]}-7"
    random = os.urandom(10 * count).hex()
    out = []
    for i in range(0, 20 * count, 20):
        r = random[i : i + 20]
        out.append(f"{head}{r[:3]}-{_VARIANT[int(r[3], 16) & 3]}{r[4:7]}-{r[7:19]}")
    return out


def uuid7() -> uuid.UUID:
    return uuid.UUID(uuid7_strings(1)[0])
