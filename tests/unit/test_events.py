"""The event catalog: envelope, routing keys, versioned parsing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.events import (
    CATALOG,
    ROUTING_KEYS,
    CampaignRequested,
    CampaignRequestedData,
    SendAttempted,
    SendAttemptedData,
    SesBounce,
    SesBounceData,
    UnknownEventError,
    parse_event,
)

pytestmark = pytest.mark.unit

REQUIRED_TYPES = {
    "CampaignRequested", "CampaignChunkCompleted", "CampaignPaused", "CampaignResumed",
    "CampaignCompleted", "SendAttempted", "SesSend", "SesDelivery", "SesBounce", "SesComplaint",
    "SesOpen", "SesClick", "SesReject", "SesRenderingFailure", "SesDeliveryDelay",
    "ProspectUnsubscribed", "ProspectStatusChanged",
}  # fmt: skip


def test_the_catalog_holds_every_required_event_once_per_type_and_version():
    assert {cls.__name__ for cls in CATALOG} >= REQUIRED_TYPES
    versions = [(cls.model_fields["type"].default, cls.model_fields["version"].default) for cls in CATALOG]
    assert len(set(versions)) == len(CATALOG)
    assert {type_ for type_, _ in versions} == ROUTING_KEYS  # versions of a type share its routing key
    for cls in CATALOG:
        assert set(cls.model_fields) == {
            "event_id", "type", "version", "occurred_at", "correlation_id", "causation_id", "data",
        }  # fmt: skip


def test_an_event_round_trips_through_json():
    event = SendAttempted.new(
        SendAttemptedData(
            send_id=uuid.uuid4(),
            campaign_id=uuid.uuid4(),
            prospect_id=uuid.uuid4(),
            outcome="sent",
            ses_message_id="0100018f-abc",
        ),
        correlation_id="req-1",
    )
    body = event.model_dump_json()
    assert parse_event(body) == event
    assert parse_event(body.encode()) == event
    assert parse_event(json.loads(body)) == event
    assert json.loads(body)["type"] == event.routing_key == "send.attempted"


def test_a_caused_event_inherits_the_correlation_id_and_names_its_cause():
    cause = CampaignRequested.new(CampaignRequestedData(campaign_id=uuid.uuid4()), correlation_id="c-9")
    effect = SendAttempted.new(
        SendAttemptedData(
            send_id=uuid.uuid4(),
            campaign_id=cause.data.campaign_id,
            prospect_id=uuid.uuid4(),
            outcome="unknown",
        ),
        cause=cause,
    )
    assert effect.correlation_id == "c-9"
    assert effect.causation_id == cause.event_id


def test_events_are_immutable_and_refuse_unknown_fields():
    event = CampaignRequested.new(CampaignRequestedData(campaign_id=uuid.uuid4()))
    with pytest.raises(ValidationError):
        event.correlation_id = "other"  # type: ignore[misc]
    body = json.loads(event.model_dump_json())
    body["data"]["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        parse_event(body)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "campaign.requested", "version": 2, "data": {}},
        {"type": "campaign.nope", "version": 1, "data": {}},
        {"version": 1},
    ],
)
def test_an_unknown_type_or_version_is_reported_as_such(body):
    with pytest.raises(UnknownEventError):
        parse_event(body)


@pytest.mark.parametrize("body", [b"{", b"null", b'"text"', b"[]"])
def test_a_body_that_is_not_a_json_object_is_refused(body):
    with pytest.raises(ValueError):
        parse_event(body)


def test_occurred_at_must_carry_a_timezone():
    event = CampaignRequested.new(CampaignRequestedData(campaign_id=uuid.uuid4()))
    body = json.loads(event.model_dump_json())
    body["occurred_at"] = "2026-01-01T00:00:00"
    with pytest.raises(ValidationError, match="timezone"):
        parse_event(body)


def test_ses_bounce_types_are_constrained():
    data = {
        "eventbridge_id": "e-1", "ses_message_id": "m-1", "timestamp": datetime.now(UTC),
        "bounce_type": "Permanent", "bounce_subtype": "General",
    }  # fmt: skip
    assert SesBounce.new(SesBounceData(**data)).data.bounce_type == "Permanent"
    with pytest.raises(ValidationError):
        SesBounceData(**{**data, "bounce_type": "Soft"})


def test_a_version_1_ses_event_is_read_as_version_2_without_personal_data():
    """A body in a queue at the upgrade: upcast the way migration 0015 rewrote the stored ones."""
    body = {
        "event_id": str(uuid.uuid4()), "type": "ses.bounce", "version": 1, "occurred_at": "2026-01-01T00:00:00Z",
        "correlation_id": "c",
        "data": {
            "eventbridge_id": "eb", "ses_message_id": "m", "timestamp": "2026-01-01T00:00:00Z",
            "recipients": ["jane@example.com"], "bounce_type": "Permanent", "bounce_subtype": "General",
            "bounced_recipients": [{"email": "jane@example.com", "action": "failed", "status": "5.1.1",
                                    "diagnostic_code": "smtp; 550 <jane@example.com> unknown"}],
        },
    }  # fmt: skip
    event = parse_event(body)
    assert isinstance(event, SesBounce) and event.version == 2
    assert "jane@example.com" not in event.model_dump_json()
    assert event.data.diagnostics[0].diagnostic_code == "smtp; 550 <<address>> unknown"
    assert event.data.diagnostics[0].status == "5.1.1"
    opened = parse_event({**body, "type": "ses.open", "data": {
        **{k: body["data"][k] for k in ("eventbridge_id", "ses_message_id", "timestamp", "recipients")},
        "ip_address": "203.0.113.7", "user_agent": "Mail/1.0"}})  # fmt: skip
    assert opened.version == 2 and "203.0.113.7" not in opened.model_dump_json()
