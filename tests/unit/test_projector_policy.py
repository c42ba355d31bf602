from __future__ import annotations

import pytest

from projector.policy import ReputationLimits, reputation_breach, status_of

pytestmark = pytest.mark.unit
LIMITS = ReputationLimits(min_sends=100, max_bounce_rate=0.05, max_complaint_rate=0.001)


@pytest.mark.parametrize(
    ("facts", "status"),
    [
        ({"sent_at": 1}, "sent"),
        ({"sent_at": 1, "delivered_at": 1, "opened_at": 1}, "opened"),
        ({"sent_at": 1, "delivered_at": 1, "clicked_at": 1, "opened_at": 1}, "clicked"),
        ({"sent_at": 1, "bounced_at": 1}, "bounced"),
        ({"sent_at": 1, "delivered_at": 1, "complained_at": 1, "clicked_at": 1}, "complained"),
        ({"unknown_at": 1, "delivered_at": 1}, "delivered"),
        ({"sent_at": 1, "rejected_at": 1}, "rejected"),  # SES accepted it, then rejected it: never sent on
        ({"sent_at": 1, "delayed_at": 1, "rendering_failed_at": 1}, "rendering_failed"),
        ({"failed_at": 1, "rejected_at": 1}, "rejected"),
        ({}, None),
    ],
)
def test_the_status_is_the_highest_fact(facts, status):
    assert status_of(facts)[0] == status


@pytest.mark.parametrize(
    ("sent", "bounced", "complained", "breach"),
    [
        (99, 50, 5, None),  # too few sends to judge
        (100, 5, 0, None),  # exactly 5 %: not above
        (100, 6, 0, "bounce rate 6.0% (6 of 100)"),
        (1000, 0, 1, None),  # exactly 0.1 %
        (1000, 0, 2, "complaint rate 0.20% (2 of 1000)"),
    ],
)
def test_the_reputation_thresholds(sent, bounced, complained, breach):
    reason = reputation_breach(sent, bounced, complained, LIMITS)
    assert (reason is None) == (breach is None)
    if breach:
        assert reason.startswith(breach)
