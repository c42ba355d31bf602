"""The smoke test's reading of one message's life (ops.smoke.Watch), table-driven."""

from __future__ import annotations

import pytest

from ops.smoke import Watch

pytestmark = pytest.mark.unit

SENDING = {"status": "sending"}


def send(status: str, error: str | None = None, **milestones: str) -> dict:
    return {"status": status, "error": error, **{f"{name}_at": "2026-12-02T00:00:00Z" for name in milestones}}


@pytest.mark.parametrize(
    ("answers", "printed", "passed", "finished"),
    [
        ([None], ["queued"], False, False),
        ([None, send("claimed"), send("sent")], ["queued", "sent"], True, False),
        # Polls can miss states: what a later answer implies is printed in life order.
        ([send("clicked", delivered="", opened="", clicked="")], ["sent", "delivered", "opened", "clicked"],
         True, True),
        ([send("sent"), send("delivery_delayed")], ["sent", "delivery_delayed"], True, False),
        ([send("failed", "MessageRejected: bad address")], ["failed"], False, True),
        ([send("unknown")], ["unknown"], False, True),
        ([send("bounced", delivered="", bounced="")], ["sent", "delivered", "bounced"], False, True),
        ([send("complained", delivered="", complained="")], ["sent", "delivered", "complained"], False, True),
    ],
)  # fmt: skip
def test_each_state_is_printed_once_in_order(answers, printed, passed, finished):
    watch = Watch()
    seen = [state for answer in answers for state in watch.observe(SENDING, answer)]
    assert seen == printed
    assert (watch.passed, watch.finished) == (passed, finished)


def test_a_paused_campaign_is_a_failure_that_says_why():
    watch = Watch()
    paused = {"status": "paused", "pause_reason": "credentials", "status_reason": "InvalidClientTokenId"}
    assert watch.observe(paused, None) == ["paused", "queued"]
    assert watch.finished and not watch.passed
    assert watch.failure == "the campaign was paused (credentials): InvalidClientTokenId"


def test_a_failure_names_the_error():
    watch = Watch()
    watch.observe(SENDING, send("rejected", "Rejected by SES"))
    assert watch.failure == "the message is rejected: Rejected by SES"
