"""Per-domain pacing's rules (sender.pacing), without a broker or a clock: times are given."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sender.pacing import DomainPacer, PacedQueue, domain_of


@dataclass(frozen=True)
class Send:
    email: str
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return self.id, self.id


def sends(*emails: str) -> list[Send]:
    return [Send(e) for e in emails]


def test_the_domain_is_the_part_after_the_last_at_in_lower_case():
    assert domain_of('"a@b"@Gmail.COM') == "gmail.com"


def test_a_domain_is_booked_at_most_once_an_interval():
    pacer = DomainPacer(60)
    assert pacer.interval == 1.0
    assert pacer.take("gmail.com", 10.0)
    assert not pacer.take("gmail.com", 10.5)
    assert pacer.take("outlook.com", 10.5), "another domain is not held up"
    assert pacer.take("gmail.com", 11.0)


def test_no_pacing_books_everything():
    pacer = DomainPacer(None)
    assert all(pacer.take("gmail.com", 0.0) for _ in range(100))


def test_seeded_sends_from_before_a_restart_make_their_domain_wait():
    pacer = DomainPacer(6)  # one every 10 s
    pacer.seed({"gmail.com": 95.0})
    assert not pacer.take("gmail.com", 100.0)
    assert pacer.take("gmail.com", 105.0)


def test_a_held_domain_does_not_stall_the_others_and_keeps_its_order():
    queue: PacedQueue[Send] = PacedQueue(DomainPacer(60))
    batch = sends("a@gmail.com", "b@gmail.com", "c@yahoo.com", "d@gmail.com", "e@corp.example")
    queue.add(batch)
    at = 0.0
    taken = []
    while (item := queue.take(at)) is not None:
        taken.append(item.email)
        at += 0.01
    assert taken == ["a@gmail.com", "c@yahoo.com", "e@corp.example"]
    assert queue.held == 2 and queue.held_domains == ["gmail.com"]
    assert queue.next_opening() == 1.0
    assert queue.keys() == {batch[1].key, batch[3].key}
    assert queue.take(0.99) is None
    assert queue.take(1.0).email == "b@gmail.com"
    assert queue.take(1.5) is None
    assert queue.take(2.0).email == "d@gmail.com"
    assert queue.held == 0 and queue.next_opening() is None


def test_held_items_go_before_newer_ones_of_open_domains():
    queue: PacedQueue[Send] = PacedQueue(DomainPacer(60))
    queue.add(sends("a@gmail.com", "b@gmail.com"))
    assert queue.take(0.0).email == "a@gmail.com"
    assert queue.take(0.1) is None
    queue.add(sends("c@corp.example"))
    assert queue.take(1.0).email == "b@gmail.com"
    assert queue.take(1.0).email == "c@corp.example"


def test_no_sixty_second_span_holds_more_than_the_rate():
    """However the items come, the sends to one domain in any 60 s are at most the rate."""
    rate = 12
    pacer = DomainPacer(rate)
    queue: PacedQueue[Send] = PacedQueue(pacer)
    queue.add(sends(*(f"p{i}@{'gmail.com' if i % 3 else 'yahoo.com'}" for i in range(600))))
    booked: dict[str, list[float]] = {}
    at = 0.0
    while at < 600:
        item = queue.take(at)
        if item is not None:
            booked.setdefault(domain_of(item.email), []).append(at)
        at = round(at + 0.1, 1)
    for domain, times in booked.items():
        assert len(times) == rate * 10, domain  # at its rate, not slower: one every 5 s for 600 s
        for i, start in enumerate(times):
            assert sum(1 for t in times[i:] if t < start + 60) <= rate, (domain, start)
