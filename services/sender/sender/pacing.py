"""Per-domain pacing: at most DOMAIN_RATE_PER_MINUTE sends a minute to any one recipient
domain, inside the global cadence. A domain's sends are spaced evenly (60 / rate seconds
apart): a receiving provider sees a steady trickle, never a burst, and no 60-second span
holds more than the rate. gmail.com, outlook.com, yahoo.com are each a domain like any other.

Pure, no I/O: times are the event loop's (the cadence's). A chunk's items whose domain
must wait are held back in a PacedQueue while the others go on; the reads skip the held
domains, so a list full of one provider never crowds out the rest.
"""

from __future__ import annotations

import heapq
import math
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Generic, Protocol, TypeVar

from shared.addresses import domain_of


class Paced(Protocol):
    @property
    def email(self) -> str: ...

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]: ...


class DomainPacer:
    """When each recipient domain may next be sent to. `per_minute` None: no pacing."""

    PRUNE_AT = 50_000  # domains remembered before the ones long open are forgotten

    def __init__(self, per_minute: int | None) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._next: dict[str, float] = {}

    def opens_at(self, domain: str) -> float:
        return self._next.get(domain, -math.inf)

    def take(self, domain: str, at: float) -> bool:
        """Book a send to `domain` at `at` if the domain is open then; False if it must wait."""
        if not self.interval:
            return True
        if self._next.get(domain, -math.inf) > at:
            return False
        self._next[domain] = at + self.interval
        if len(self._next) > self.PRUNE_AT:
            self._next = {d: t for d, t in self._next.items() if t > at}
        return True

    def seed(self, last_sent: dict[str, float]) -> None:
        """Sends made before this process started (a restart): their domains wait their turn."""
        for domain, at in last_sent.items():
            self._next[domain] = max(self.opens_at(domain), at + self.interval)


T = TypeVar("T", bound=Paced)


class PacedQueue(Generic[T]):
    """A chunk's items in the order read; each `take` answers the next one whose domain is
    open, the held ones (read earlier) first. A domain's items keep their order."""

    def __init__(self, pacer: DomainPacer) -> None:
        self._pacer = pacer
        self._new: deque[T] = deque()
        self._held: dict[str, deque[T]] = {}
        self._opening: list[tuple[float, str]] = []  # one entry per held domain

    def add(self, items: Iterable[T]) -> None:
        self._new.extend(items)

    def take(self, at: float) -> T | None:
        """The next item that may go at `at` (its domain booked for it), or None for now."""
        while self._opening and self._opening[0][0] <= at:
            _, domain = heapq.heappop(self._opening)
            if self._pacer.take(domain, at):
                waiting = self._held[domain]
                item = waiting.popleft()
                if waiting:
                    heapq.heappush(self._opening, (self._pacer.opens_at(domain), domain))
                else:
                    del self._held[domain]
                return item
            heapq.heappush(self._opening, (self._pacer.opens_at(domain), domain))
        while self._new:
            item = self._new.popleft()
            domain = domain_of(item.email)
            if domain in self._held:
                self._held[domain].append(item)
            elif self._pacer.take(domain, at):
                return item
            else:
                self._held[domain] = deque([item])
                heapq.heappush(self._opening, (self._pacer.opens_at(domain), domain))
        return None

    def next_opening(self) -> float | None:
        """When the first held domain opens (None: nothing held)."""
        return self._opening[0][0] if self._opening else None

    @property
    def held_domains(self) -> list[str]:
        return sorted(self._held)

    @property
    def held(self) -> int:
        return sum(len(items) for items in self._held.values())

    def keys(self) -> set[tuple[uuid.UUID, uuid.UUID]]:
        """Every item in hand, held or not yet taken."""
        keys = {item.key for item in self._new}
        for items in self._held.values():
            keys.update(item.key for item in items)
        return keys
