"""Per-client rate limits for public routes: who the client is, and whether it may go on.

Pure (no I/O): the client's address from the peer and X-Forwarded-For
(trusted only from configured proxies), and a moving-window limiter with a
block period, from the `limits` library.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client: the peer, or, behind trusted proxies, the last address they did not add."""
    address = peer or "unknown"
    if not forwarded_for or not _trusted(address, trusted):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _trusted(hop, trusted):
            return hop
        address = hop
    return address


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class RateLimiter:
    """N requests per window per client (moving window); past it, blocked for a while."""

    def __init__(
        self, limit: int, window_seconds: int, block_seconds: int, clock: Callable[[], float] = time.monotonic
    ):
        self._item = RateLimitItemPerSecond(limit, window_seconds)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._block_seconds = block_seconds
        self._blocked_until: dict[str, float] = {}
        self._clock = clock

    def allow(self, client: str) -> float | None:
        """Counts one request: None when allowed; else the seconds until the client may try again."""
        return self.blocked(client) or self.record(client)

    def blocked(self, client: str) -> float | None:
        """The seconds this client is still blocked for, without counting a request."""
        until = self._blocked_until.get(client)
        if until is None:
            return None
        now = self._clock()
        if now < until:
            return until - now
        del self._blocked_until[client]
        return None

    def record(self, client: str) -> float | None:
        """Counts one (a request, or a failure); the one that reaches the limit still counts
        as allowed, and blocks the client from the next."""
        allowed = self._limiter.hit(self._item, client)
        if allowed and self._limiter.test(self._item, client):
            return None
        self._blocked_until[client] = self._clock() + self._block_seconds
        return None if allowed else float(self._block_seconds)
