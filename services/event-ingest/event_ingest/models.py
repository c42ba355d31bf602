"""The EventBridge envelope and the SES event detail, as SES sends them (extra fields ignored)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class Loose(BaseModel):
    # AWS adds fields over time: accept and ignore what we do not use.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class EventBridgeEnvelope(Loose):
    version: str = Field(max_length=16)
    id: str = Field(min_length=1, max_length=256)
    detail_type: str = Field(alias="detail-type", min_length=1, max_length=256)
    source: Literal["aws.ses"]
    account: str | None = Field(default=None, max_length=32)
    time: AwareDatetime
    region: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any]


class Mail(Loose):
    timestamp: AwareDatetime | None = None
    message_id: str = Field(alias="messageId", min_length=1, max_length=256)
    destination: list[str] = Field(default_factory=list, max_length=100)
    tags: dict[str, list[str]] = Field(default_factory=dict)

    def tag(self, name: str) -> str | None:
        values = self.tags.get(name) or []
        return values[0] if values else None


class BouncedRecipient(Loose):
    email_address: str = Field(alias="emailAddress", max_length=320)
    action: str | None = None
    status: str | None = None
    diagnostic_code: str | None = Field(default=None, alias="diagnosticCode")


class Bounce(Loose):
    bounce_type: Literal["Undetermined", "Permanent", "Transient"] = Field(alias="bounceType")
    bounce_sub_type: str = Field(alias="bounceSubType", max_length=100)
    bounced_recipients: list[BouncedRecipient] = Field(alias="bouncedRecipients", default_factory=list)
    timestamp: AwareDatetime
    feedback_id: str | None = Field(default=None, alias="feedbackId")
    reporting_mta: str | None = Field(default=None, alias="reportingMTA")


class ComplainedRecipient(Loose):
    email_address: str = Field(alias="emailAddress", max_length=320)


class Complaint(Loose):
    complained_recipients: list[ComplainedRecipient] = Field(
        alias="complainedRecipients", default_factory=list
    )
    timestamp: AwareDatetime
    feedback_id: str | None = Field(default=None, alias="feedbackId")
    complaint_feedback_type: str | None = Field(default=None, alias="complaintFeedbackType")


class Delivery(Loose):
    timestamp: AwareDatetime
    processing_time_millis: int | None = Field(default=None, alias="processingTimeMillis")
    recipients: list[str] = Field(default_factory=list)
    smtp_response: str | None = Field(default=None, alias="smtpResponse")
    reporting_mta: str | None = Field(default=None, alias="reportingMTA")


class Open(Loose):
    timestamp: AwareDatetime
    ip_address: str | None = Field(default=None, alias="ipAddress")
    user_agent: str | None = Field(default=None, alias="userAgent")


class Click(Loose):
    timestamp: AwareDatetime
    link: str = Field(max_length=8000)
    ip_address: str | None = Field(default=None, alias="ipAddress")
    user_agent: str | None = Field(default=None, alias="userAgent")
    link_tags: dict[str, list[str]] = Field(default_factory=dict, alias="linkTags")


class Reject(Loose):
    reason: str = Field(max_length=2000)


class Failure(Loose):
    template_name: str | None = Field(default=None, alias="templateName")
    error_message: str = Field(alias="errorMessage", max_length=2000)


class DelayedRecipient(Loose):
    email_address: str = Field(alias="emailAddress", max_length=320)
    status: str | None = None
    diagnostic_code: str | None = Field(default=None, alias="diagnosticCode")


class DeliveryDelay(Loose):
    timestamp: AwareDatetime
    delay_type: str = Field(alias="delayType", max_length=100)
    expiration_time: AwareDatetime | None = Field(default=None, alias="expirationTime")
    reporting_mta: str | None = Field(default=None, alias="reportingMTA")
    delayed_recipients: list[DelayedRecipient] = Field(alias="delayedRecipients", default_factory=list)


class SesEventDetail(Loose):
    """A message-level SES event. Both spellings of the type are understood."""

    event_type: str = Field(alias="eventType", min_length=1, max_length=64)
    mail: Mail
    bounce: Bounce | None = None
    complaint: Complaint | None = None
    delivery: Delivery | None = None
    open: Open | None = None
    click: Click | None = None
    reject: Reject | None = None
    failure: Failure | None = None
    delivery_delay: DeliveryDelay | None = Field(default=None, alias="deliveryDelay")
    send: dict[str, Any] | None = None
    subscription: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _type_spelling(cls, value: Any) -> Any:
        if isinstance(value, dict) and "eventType" not in value and "notificationType" in value:
            return {**value, "eventType": value["notificationType"]}
        return value


class SendingStatus(Loose):
    """Account-level "Sending Status Enabled/Disabled" (detail shape not fully documented)."""

    status: str | None = None
    reason: str | None = Field(default=None, max_length=2000)
