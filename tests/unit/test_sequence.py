"""The sequence's rules (shared.sequence) and which events stop it (projector.policy)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from projector.policy import stop_reasons
from shared.events import (
    ProspectAutoReplied,
    ProspectReplied,
    ProspectRepliedData,
    ProspectStatusChanged,
    ProspectStatusChangedData,
    ProspectUnsubscribedV2,
    ProspectUnsubscribedV2Data,
    SesBounce,
    SesClick,
    SesDelivery,
)
from shared.sequence import (
    FIRST_STEP,
    follow_up_subject,
    message_id_domain,
    next_step,
    steps_of,
    thread_headers,
)

CAMPAIGN = {"subject": "Hello {{ first_name }}", "body_html": "<p>Hi</p>", "body_text": ""}
A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))


def sequence(*ids: uuid.UUID):
    return steps_of(
        {**CAMPAIGN, "steps": [{"id": str(i), "wait": "P1D", "body_html": "<p>x</p>"} for i in ids]}
    )


def test_step_one_is_the_campaigns_own_message_and_follow_ups_are_numbered_after_it():
    steps = sequence(A, B)
    assert [(s.id, s.number) for s in steps] == [(FIRST_STEP, 1), (A, 2), (B, 3)]
    assert steps[0].wait is None and steps[1].wait is not None and steps[0].body_text is None


def test_the_next_step_follows_the_furthest_step_had_that_is_still_there():
    steps = sequence(A, B, C)
    assert next_step(steps, [FIRST_STEP]).id == A
    assert next_step(steps, [FIRST_STEP, A, B]).id == C
    assert next_step(steps, [FIRST_STEP, A, B, C]) is None
    # B removed: those who had it go on to C; those who had only A skip to C too.
    without_b = sequence(A, C)
    assert next_step(without_b, [FIRST_STEP, A, B]).id == C
    assert next_step(without_b, [FIRST_STEP, A]).id == C
    # A removed before anyone had it: step 1 leads to B.
    assert next_step(sequence(B, C), [FIRST_STEP]).id == B
    # A step added after someone finished: they get it.
    assert next_step(sequence(A, B, C), [FIRST_STEP, A, B]).id == C


def test_a_reply_subject_says_re_once():
    assert follow_up_subject("Hello Ada") == "Re: Hello Ada"
    assert follow_up_subject("RE: Hello Ada") == "RE: Hello Ada"


def test_thread_headers_quote_the_ses_message_ids_in_order():
    assert thread_headers([], "email.amazonses.com") is None
    assert thread_headers(["m1", "m2"], "eu-west-1.amazonses.com") == (
        "<m2@eu-west-1.amazonses.com>", "<m1@eu-west-1.amazonses.com> <m2@eu-west-1.amazonses.com>",
    )  # fmt: skip
    assert message_id_domain("us-east-1") == "email.amazonses.com"
    assert message_id_domain("eu-central-1") == "eu-central-1.amazonses.com"


def ses(cls, **data):
    base = {"eventbridge_id": "e", "ses_message_id": "m", "timestamp": datetime.now(UTC), "send_id": A,
            "campaign_id": B, "prospect_id": C}  # fmt: skip
    return cls.new(cls.model_fields["data"].annotation(**{**base, **data}))


def test_the_events_that_stop_a_sequence_and_those_that_do_not():
    replied = ProspectReplied.new(ProspectRepliedData(prospect_id=C, received_at=datetime.now(UTC)))
    assert stop_reasons(replied) == (C, None, ("reply",))
    automatic = ProspectAutoReplied.new(
        ProspectRepliedData(prospect_id=C, campaign_id=B, received_at=datetime.now(UTC))
    )
    assert stop_reasons(automatic) == (C, B, ("auto_reply",)), "only where stop_on lists auto_reply"
    asked = ProspectUnsubscribedV2.new(
        ProspectUnsubscribedV2Data(prospect_id=C, campaign_id=B, source="reply")
    )
    assert stop_reasons(asked) == (C, B, ("unsubscribe",))
    assert stop_reasons(ses(SesClick, link="https://x.example")) == (C, B, ("click", "open"))
    assert stop_reasons(ses(SesBounce, bounce_type="Permanent", bounce_subtype="General")) == (
        C,
        B,
        ("bounce",),
    )
    assert stop_reasons(ses(SesBounce, bounce_type="Transient", bounce_subtype="General")) is None
    assert stop_reasons(ses(SesDelivery)) is None
    changed = ProspectStatusChanged.new(
        ProspectStatusChangedData(prospect_id=C, from_status="active", to_status="unsubscribed")
    )
    assert stop_reasons(changed) == (C, None, ("unsubscribe",))
