"""The pure rules, table-driven: one row per case, readable as a spec.

SES error classification and the cadence (sender), the campaign and prospect
transitions (shared.lifecycle), EventBridge parsing and deduplication
(event-ingest), and what each event means for the read tables (projector).
"""

from __future__ import annotations

import copy
import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from event_ingest.domain import RejectedPayload, SendRef, dedupe_key, domain_event, parse_delivery
from projector.policy import changes_for
from sender.domain import (
    CATCH_UP_SECONDS,
    QUOTA_RECHECK,
    Cadence,
    Quota,
    Verdict,
    account_fault,
    cap_resumes_at,
    classify_error,
    quota_resumes_at,
    redact,
)
from shared.errors import Conflict
from shared.events import ProspectUnsubscribed, ProspectUnsubscribedData, SendAttempted, SendAttemptedData
from shared.lifecycle import campaign, prospect
from shared.schedule import day_start
from shared.ses_account import SesAccount, problems_of
from tests.harness.ses_events import FIXTURES, addressed

pytestmark = pytest.mark.unit

# ------------------------------------------------------------------ sender: SES errors


FROM = "outreach@example.com"


@pytest.mark.parametrize(
    ("code", "http_status", "message", "verdict", "pause_code"),
    [
        ("TooManyRequestsException", 429, "", Verdict.THROTTLED, None),  # the same recipient goes again
        ("Throttling", 429, "", Verdict.THROTTLED, None),  # any 429
        ("LimitExceededException", 400, "", Verdict.PAUSE, "daily_quota"),
        ("SendingPausedException", 400, "", Verdict.PAUSE, "account_paused"),
        ("AccountSuspendedException", 400, "", Verdict.PAUSE, "account_paused"),
        ("MailFromDomainNotVerifiedException", 400, "", Verdict.PAUSE, "configuration"),
        ("NotFoundException", 404, "", Verdict.PAUSE, "configuration"),  # configuration set or identity
        ("InvalidClientTokenId", 403, "The security token is invalid.", Verdict.PAUSE, "credentials"),
        ("SignatureDoesNotMatch", 403, "Check your AWS Secret Access Key", Verdict.PAUSE, "credentials"),
        ("ExpiredToken", 403, "", Verdict.PAUSE, "credentials"),
        ("ExpiredTokenException", 403, "", Verdict.PAUSE, "credentials"),
        ("UnrecognizedClientException", 403, "", Verdict.PAUSE, "credentials"),
        ("AccessDenied", 403, "", Verdict.PAUSE, "credentials"),
        ("AccessDeniedException", 403, "not authorized to perform ses:SendEmail", Verdict.PAUSE, "credentials"),
        # In the sandbox every unverified recipient is refused alike: the account, not the message.
        ("MessageRejected", 400, "Email address is not verified. The following identities failed the check"
         " in region US-EAST-1: jane@customer.example", Verdict.PAUSE, "sandbox"),
        ("MessageRejected", 400, "Email address is not verified. The following identities failed the check"
         " in region US-EAST-1: outreach@example.com", Verdict.PAUSE, "configuration"),  # our own sender
        ("MessageRejected", 400, "Illegal address", Verdict.FAILED, None),  # this message only
        ("BadRequestException", 400, "", Verdict.FAILED, None),
        ("SomethingNew", 403, "", Verdict.FAILED, None),  # an unknown 4xx: this message, not the account
        ("InternalFailure", 500, "", Verdict.AMBIGUOUS, None),  # SES may have accepted: never resent
        ("ServiceUnavailable", 503, "", Verdict.AMBIGUOUS, None),
        ("", None, "", Verdict.AMBIGUOUS, None),  # no status at all: assume the worst
    ],
)  # fmt: skip
def test_classify_error(code, http_status, message, verdict, pause_code):
    assert classify_error(code, http_status, message, FROM) is verdict
    fault = account_fault(code, message, FROM)
    assert (fault[0] if fault else None) == pause_code


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("The request signature we calculated does not match.\nCredential=AKIAIOSFODNN7EXAMPLE/20261201",
         "The request signature we calculated does not match."),  # only the first line
        ("Key AKIAIOSFODNN7EXAMPLE is not allowed", "Key [access key id] is not allowed"),
        ("x" * 400, "x" * 300),
        (None, ""),
    ],
)  # fmt: skip
def test_aws_messages_are_shown_without_key_ids(message, shown):
    assert redact(message) == shown


BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("now", "zone", "lifts_at"),
    [
        ("2026-12-01T15:00:00+00:00", ZoneInfo("UTC"), "2026-12-02T00:00:00+00:00"),
        ("2026-12-01T23:30:00+00:00", BERLIN, "2026-12-03T00:00:00+01:00"),  # already the 2nd in Berlin
        ("2026-03-28T12:00:00+00:00", BERLIN, "2026-03-29T00:00:00+01:00"),  # the night clocks go forward
    ],
)
def test_the_daily_cap_lifts_at_the_next_midnight_of_its_zone(now, zone, lifts_at):
    moment = datetime.fromisoformat(now)
    assert cap_resumes_at(moment, zone) == datetime.fromisoformat(lifts_at)
    assert day_start(moment, zone) <= moment < cap_resumes_at(moment, zone)


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("oldest", "resumes_at"),
    [
        (NOW - timedelta(hours=20), NOW + timedelta(hours=4)),  # when our oldest send leaves the window
        (NOW - timedelta(hours=24), NOW + QUOTA_RECHECK),  # about to leave: look again shortly
        (None, NOW + timedelta(hours=1)),  # none of ours in the window: the quota is used elsewhere
    ],
)
def test_the_quota_is_looked_at_again_when_room_should_return(oldest, resumes_at):
    assert quota_resumes_at(NOW, oldest) == resumes_at


# ------------------------------------------------------------------ sender: cadence and quota


@pytest.mark.parametrize(
    ("interval", "asked_at", "slots"),
    [
        (0.2, [0.0, 0.0, 0.0], [0.0, 0.2, 0.4]),  # back to back: one interval apart
        (0.2, [0.0, 0.1, 0.5], [0.0, 0.2, 0.4]),  # less than an interval late: at once, on schedule
        (0.001, [0.0, 0.009, 0.009], [0.0, 0.001, 0.002]),  # up to 10 ms late: on schedule still
        (0.001, [0.0, 0.03, 0.03], [0.0, 0.02, 0.021]),  # 29 ms late: only the 19 ms beyond 10 are lost
        (0.001, [0.0, 0.2, 0.2], [0.0, 0.2, 0.201]),  # idle for longer than a stall: the schedule restarts
        (0.2, [0.0, 0.1, 0.7, 0.7], [0.0, 0.2, 0.7, 0.9]),  # an interval of 0.2 s: late by more restarts
        (1.0, [0.0, 10.0, 10.0], [0.0, 10.0, 11.0]),  # after idling: no burst to catch up
        (0.5, [3.0, 3.2, 3.3, 3.4], [3.0, 3.5, 4.0, 4.5]),
    ],
)
def test_cadence(interval, asked_at, slots):
    cadence = Cadence(interval)
    assert [cadence.next_slot(now) for now in asked_at] == pytest.approx(slots)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 0.15), min_size=2, max_size=200), st.floats(0.001, 0.02))
def test_the_cadence_never_bursts_whatever_the_delays(delays, interval):
    """Each send starts at its slot or, asked late, at once; however late the asks come, no
    span of n intervals holds more than n + 1 + the catch-up allowance in intervals."""
    cadence, now, starts = Cadence(interval), 0.0, []
    for delay in delays:
        now += delay  # the dispatcher asks again after its own delay
        slot = cadence.next_slot(now)
        now = max(now, slot)
        starts.append(now)
    for i, first in enumerate(starts):
        for n in range(1, 6):
            within = sum(1 for t in starts[i:] if t < first + n * interval - 1e-12)
            assert within <= n + 1 + math.ceil(max(interval, CATCH_UP_SECONDS) / interval)


@pytest.mark.parametrize(
    ("quota", "exhausted"),
    [
        (Quota(), None),  # nothing known: no limit
        (Quota(max_24_hour_send=200, sent_last_24_hours=199), None),
        (Quota(max_24_hour_send=200, sent_last_24_hours=200), "daily_quota"),
        (Quota(max_24_hour_send=-1, sent_last_24_hours=10**6), None),  # -1: unlimited
        (Quota(daily_cap=50, sent_by_us_today=50), "daily_cap"),
        (Quota(daily_cap=50, sent_by_us_today=49), None),
    ],
)
def test_quota_exhaustion(quota, exhausted):
    assert quota.exhausted() == exhausted
    assert quota.try_reserve() is (exhausted is None)


# ------------------------------------------------------------------ campaign lifecycle


@pytest.mark.parametrize(
    ("transition", "status", "actor", "allowed"),
    [
        ("request", "draft", "admin", True),
        ("request", "paused", "admin", False),  # that is a resume
        ("resume", "paused", "admin", True),
        ("resume", "paused", "sender", True),  # a self-lifting pause (daily quota or cap), once due
        ("resume", "paused", "reputation", False),
        ("pause", "sending", "admin", True),
        ("pause", "sending", "sender", True),
        ("pause", "sending", "ses", True),
        ("pause", "sending", "reputation", True),
        ("pause", "draft", "admin", False),
        ("pause", "completed", "sender", False),
        ("complete", "sending", "sender", True),
        ("complete", "sending", "admin", False),  # the admin cancels instead
        ("complete", "paused", "sender", False),
        ("cancel", "draft", "admin", True),
        ("cancel", "paused", "admin", True),
        ("cancel", "sending", "admin", False),  # pause it first
        ("cancel", "completed", "admin", False),
        ("reopen", "completed", "admin", True),
        ("reopen", "cancelled", "admin", False),
        ("redraft", "paused", "admin", True),
        ("redraft", "sending", "admin", False),
    ],
)
def test_campaign_transitions(transition, status, actor, allowed):
    assert campaign.may(transition, status, actor) is allowed


@pytest.mark.parametrize(
    ("status", "decision"),
    [
        ("draft", "request"),
        ("paused", "resume"),
        ("sending", "already_sending"),
        ("completed", "reopen"),  # to the prospects added since
        ("cancelled", "not_sendable"),
    ],
)
def test_decide_send(status, decision):
    try:
        assert campaign.decide_send(status) == decision
    except Conflict as exc:
        assert exc.code == decision


@pytest.mark.parametrize(
    ("check", "status", "refused"),
    [
        (campaign.check_editable, "draft", None),
        (campaign.check_editable, "paused", None),
        (campaign.check_editable, "sending", "not_editable"),
        (campaign.check_editable, "completed", "not_editable"),
        (campaign.check_pausable, "sending", None),
        (campaign.check_pausable, "paused", None),  # asking again changes nothing
        (campaign.check_pausable, "draft", "not_pausable"),
        (campaign.check_cancellable, "paused", None),
        (campaign.check_cancellable, "sending", "not_cancellable"),
    ],
)
def test_the_admins_campaign_checks(check, status, refused):
    if refused is None:
        check(status)
    else:
        with pytest.raises(Conflict) as raised:
            check(status)
        assert raised.value.code == refused


# ------------------------------------------------------------------ prospect lifecycle


@pytest.mark.parametrize(
    ("current", "wanted", "override", "allowed"),
    [
        ("active", "unsubscribed", False, True),
        ("active", "bounced", False, True),
        ("bounced", "active", False, True),  # a bounce is not a person's no
        ("unsubscribed", "active", False, False),
        ("unsubscribed", "active", True, True),
        ("complained", "active", False, False),
        ("complained", "active", True, True),
        ("complained", "unsubscribed", False, True),  # still an opt-out: no override needed
        ("unsubscribed", "bounced", False, False),  # else bounced, then active, would need none
        ("complained", "bounced", False, False),
        ("unsubscribed", "bounced", True, True),
    ],
)
def test_check_status_change(current, wanted, override, allowed):
    if allowed:
        prospect.check_status_change(current, wanted, override_suppression=override)
    else:
        with pytest.raises(Conflict) as raised:
            prospect.check_status_change(current, wanted, override_suppression=override)
        assert raised.value.code == "suppressed"


@pytest.mark.parametrize(
    ("current", "target", "rises"),
    [
        ("active", "bounced", True),
        ("active", "complained", True),
        ("bounced", "unsubscribed", True),  # the recipient's no outranks a bounce
        ("unsubscribed", "bounced", False),  # a late bounce never hides an unsubscribe
        ("complained", "unsubscribed", False),
        ("unsubscribed", "unsubscribed", False),
    ],
)
def test_status_rank(current, target, rises):
    assert prospect.rises(current, target) is rises


def test_the_rank_and_the_statuses_agree():
    assert sorted(prospect.RANK) == sorted(prospect.STATUSES)
    assert set(prospect.SUPPRESSED_AS.values()) <= set(prospect.STATUSES) - {"active"}


# ------------------------------------------------------------------ event-ingest: parsing

SEND = {
    "id": uuid.UUID("0190a0a0-0000-7000-8000-000000000001"),
    "campaign_id": uuid.UUID("0190a0a0-0000-7000-8000-000000000002"),
    "prospect_id": uuid.UUID("0190a0a0-0000-7000-8000-000000000003"),
    "ses_message_id": "0100018f-test-message",
}


def fixture(kind: str, **detail_changes: object) -> dict:
    payload = addressed(kind, SEND)
    payload["detail"].update(detail_changes)
    return payload


@pytest.mark.parametrize(
    ("payload", "event_type", "rejected"),
    [
        (fixture("delivery"), "Delivery", None),
        (fixture("bounce-permanent"), "Bounce", None),
        (fixture("complaint"), "Complaint", None),
        (fixture("click"), "Click", None),
        (json.loads((FIXTURES / "sending-status-disabled.json").read_text()), None, None),  # account-level
        ({"id": "x"}, None, "not an EventBridge SES event"),
        (fixture("delivery", mail={"messageId": 7}), None, "the SES event detail is invalid"),
        (fixture("bounce-permanent", bounce=None), None, "a Bounce event without its bounce object"),
    ],
)
def test_parse_delivery(payload, event_type, rejected):
    if rejected:
        with pytest.raises(RejectedPayload) as raised:
            parse_delivery(payload)
        assert raised.value.reason == rejected
        return
    incoming = parse_delivery(payload)
    assert incoming.event_type == event_type
    if event_type is not None:
        assert incoming.tagged == SendRef(SEND["id"], SEND["campaign_id"], SEND["prospect_id"])


def key_of(payload: dict) -> str:
    incoming = parse_delivery(payload)
    assert incoming.detail is not None
    return dedupe_key(incoming.detail, datetime(2026, 1, 1, tzinfo=UTC))


def other_recipient(payload: dict) -> dict:
    changed = copy.deepcopy(payload)
    changed["detail"]["mail"]["destination"] = ["someone.else@example.com"]
    return changed


def other_envelope(payload: dict) -> dict:
    changed = copy.deepcopy(payload)
    changed["id"] = str(uuid.uuid4())
    changed["time"] = "2030-01-01T00:00:00Z"
    return changed


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (fixture("delivery"), other_envelope(fixture("delivery")), True),  # EventBridge's retry
        (fixture("delivery"), fixture("open"), False),  # another kind of event
        # Our messages have one recipient each: the key needs no address (and keeps none).
        (fixture("delivery"), other_recipient(fixture("delivery")), True),
        (fixture("bounce-permanent"), other_envelope(fixture("bounce-permanent")), True),  # by feedback id
    ],
)
def test_dedupe_key(first, second, same):
    assert (key_of(first) == key_of(second)) is same
    for payload in (first, second):
        assert not any(a.lower() in key_of(payload).lower() for a in payload["detail"]["mail"]["destination"])


# ------------------------------------------------------------------ projector: what an event means


def ses_event(kind: str):
    incoming = parse_delivery(fixture(kind))
    return domain_event(incoming, incoming.tagged, "test")


@pytest.mark.parametrize(
    ("kind", "facts", "prospect_status", "unsubscribe_source"),
    [
        ("send", {"sent_at"}, None, None),
        ("delivery", {"sent_at", "delivered_at"}, None, None),
        ("open", {"sent_at", "delivered_at", "opened_at"}, None, None),  # an open proves delivery
        ("click", {"sent_at", "delivered_at", "opened_at", "clicked_at"}, None, None),
        ("bounce-permanent", {"sent_at", "bounced_at"}, "bounced", None),
        ("bounce-transient", {"sent_at", "transient_bounce_at"}, None, None),  # logged only
        ("complaint", {"sent_at", "delivered_at", "complained_at"}, "complained", "complaint"),
        ("reject", {"rejected_at"}, None, None),
        ("rendering-failure", {"rendering_failed_at"}, None, None),
        ("delivery-delay", {"sent_at", "delayed_at"}, None, None),
    ],
)
def test_changes_for_ses_events(kind, facts, prospect_status, unsubscribe_source):
    changes = changes_for(ses_event(kind))
    assert changes is not None
    assert (changes.send_id, changes.campaign_id, changes.prospect_id) == (
        SEND["id"], SEND["campaign_id"], SEND["prospect_id"],
    )  # fmt: skip
    assert set(changes.facts) == facts
    assert changes.prospect_status == prospect_status
    assert changes.unsubscribe_source == unsubscribe_source


@pytest.mark.parametrize(
    ("outcome", "fact", "error_kept"),
    [("sent", "sent_at", False), ("failed", "failed_at", True), ("unknown", "unknown_at", True)],
)
def test_changes_for_the_senders_outcome(outcome, fact, error_kept):
    event = SendAttempted.new(
        SendAttemptedData(
            send_id=SEND["id"], campaign_id=SEND["campaign_id"], prospect_id=SEND["prospect_id"],
            outcome=outcome, error_message="boom",
        ),
        correlation_id="test",
    )  # fmt: skip
    changes = changes_for(event)
    assert changes is not None and set(changes.facts) == {fact}
    assert (changes.error == "boom") is error_kept


@pytest.mark.parametrize(("send_id", "facts"), [(SEND["id"], {"unsubscribed_at"}), (None, set())])
def test_changes_for_an_unsubscribe(send_id, facts):
    event = ProspectUnsubscribed.new(
        ProspectUnsubscribedData(prospect_id=SEND["prospect_id"], send_id=send_id, source="one_click"),
        correlation_id="test",
    )
    changes = changes_for(event)
    assert changes is not None
    assert set(changes.facts) == facts  # an unsubscribe with no send sets no send fact
    assert (changes.prospect_status, changes.unsubscribe_source) == ("unsubscribed", "one_click")


def test_events_for_no_send_of_ours_change_nothing():
    incoming = parse_delivery(fixture("delivery"))
    untagged = domain_event(incoming, SendRef(None, None, None), "test")
    assert changes_for(untagged) is None


def ses_account(**known: str) -> SesAccount:
    values = {
        "mode": "aws", "credentials": "yes", "production_access": "yes", "sending_enabled": "yes",
        "max_send_rate": 14.0, "max_24_hour_send": 50000.0, "sent_last_24_hours": 0.0, "identity": "example.com",
        "identity_verified": "yes", "dkim_status": "SUCCESS", "configuration_set": "outreach",
        "configuration_set_exists": "yes", "event_destination": "yes", "unknown_because": {}, "problems": [],
    }  # fmt: skip
    return SesAccount(**{**values, **known})


@pytest.mark.parametrize(
    ("known", "problem"),
    [
        ({}, None),
        ({"credentials": "no"}, "refuses the credentials"),
        ({"production_access": "no"}, "sandbox"),
        ({"sending_enabled": "no"}, "paused sending"),
        ({"identity_verified": "no"}, "not verified"),
        ({"configuration_set_exists": "no"}, "does not exist"),
        ({"event_destination": "no"}, "no enabled event destination"),
        ({"production_access": "unknown", "identity_verified": "unknown"}, None),  # unknown is not a problem
        ({"mode": "emulator", "identity_verified": "no"}, None),  # the emulator sends whatever it says
    ],
)
def test_what_stops_sending_is_named(known, problem):
    found = problems_of(ses_account(**known))
    assert (found == []) if problem is None else (len(found) == 1 and problem in found[0])


# ------------------------------------------------------------------ event-ingest: which send


class CountingPool:
    """Answers FIND_SENDS from a list of rows, counting the queries (no database: the rule
    under test is which lookups need one)."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows, self.queries = rows, 0

    async def fetch(self, _sql: str, message_ids: list[str], send_ids: list) -> list[dict]:
        self.queries += 1
        return [r for r in self.rows if r["ses_message_id"] in message_ids or r["id"] in send_ids]


async def test_a_message_ids_send_is_looked_up_once_and_forged_tags_still_fail():
    from datetime import UTC, datetime

    from event_ingest.adapters.store import SendLookup

    send = {"id": uuid.uuid4(), "campaign_id": uuid.uuid4(), "prospect_id": uuid.uuid4(),
            "ses_message_id": "m-1", "sent_at": datetime.now(UTC)}  # fmt: skip
    pool = CountingPool([send])
    lookup = SendLookup(remembered=2)
    tagged = SendRef(send["id"], send["campaign_id"], send["prospect_id"])
    for _ in range(3):
        ref, sent_at = await lookup.match(pool, tagged, "m-1")  # type: ignore[arg-type]
        assert ref == tagged and sent_at == send["sent_at"]
    assert pool.queries == 1, "the binding is remembered"
    forged = SendRef(send["id"], send["campaign_id"], uuid.uuid4())
    assert (await lookup.match(pool, forged, "m-1"))[0] == SendRef(None, None, None)  # type: ignore[arg-type]
    for other in ("m-2", "m-3"):  # unknown ids are not remembered, and the oldest goes first
        assert (await lookup.match(pool, SendRef(None, None, None), other))[0].send_id is None  # type: ignore[arg-type]
    assert pool.queries == 3


# ------------------------------------------------------------------ event-ingest: no personal data in events

PERSONAL_KINDS = ("send", "delivery", "open", "click", "bounce-permanent", "bounce-transient", "complaint",
                  "reject", "rendering-failure", "delivery-delay")  # fmt: skip


@pytest.mark.parametrize("kind", PERSONAL_KINDS)
def test_the_domain_event_of_an_ses_event_holds_no_personal_data(kind):
    """The recipient's address (with a name, and quoted in the SMTP texts), their IP address
    and user agent are in the payload; none of them is in the event."""
    payload = fixture(kind)
    recipient = "Jane.Roe@Recipients.example"
    payload["detail"]["mail"]["destination"] = [recipient]
    payload["detail"]["mail"].setdefault("commonHeaders", {})["to"] = [f"Jane Roe <{recipient}>"]
    own = {"bounce-permanent": "bounce", "bounce-transient": "bounce", "delivery-delay": "deliveryDelay",
           "rendering-failure": "renderingFailure"}.get(kind, kind)  # fmt: skip
    section = payload["detail"].get(own, {})
    for key in ("bouncedRecipients", "delayedRecipients", "complainedRecipients"):
        for r in section.get(key, []):
            r["emailAddress"] = recipient
            if "diagnosticCode" in r:
                r["diagnosticCode"] = f"smtp; 550 5.1.1 <{recipient}>: Recipient address rejected"
    if "smtpResponse" in section:
        section["smtpResponse"] = f"250 2.0.0 OK: queued for {recipient}"
    if "link" in section:
        section["link"] = f"https://example.com/welcome?e={recipient.replace('@', '%40')}"
    section.update({k: "203.0.113.7" for k in ("ipAddress",) if k in section})
    event = ses_event_of(payload)
    text = event.model_dump_json().lower()
    for trace in (recipient.lower(), "jane roe", "jane.roe%40recipients.example", "203.0.113.7"):
        assert trace not in text, (kind, trace)
    assert "user_agent" not in text and "recipients" not in event.data.model_dump()


def ses_event_of(payload: dict):
    incoming = parse_delivery(payload)
    return domain_event(incoming, incoming.tagged, "test")
