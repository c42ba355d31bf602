"""What the SES account can do right now, each answer `unknown` where SES does not say.

The admin's account page (`GET /api/ses/account`) and the operator's checks read
it: production access or the sandbox, sending enabled, the quota, the sender
identity's verification and DKIM, and the configuration set with an event
destination. An emulator without an operation, or an IAM policy that forbids a
read, gives `unknown` with the reason: never an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from shared.ses import CREDENTIAL_REFUSALS
from shared.settings import SesAccess

Known = Literal["yes", "no", "unknown"]


class SesAccount(BaseModel):
    mode: Literal["emulator", "aws"]
    credentials: Known  # "no": AWS refused them
    production_access: Known  # "no": the sandbox (verified recipients only)
    sending_enabled: Known
    max_send_rate: float | None
    max_24_hour_send: float | None
    sent_last_24_hours: float | None
    identity: str
    identity_verified: Known
    dkim_status: str | None
    configuration_set: str | None
    configuration_set_exists: Known
    event_destination: Known  # an enabled destination (EventBridge) on the configuration set
    unknown_because: dict[str, str]  # field -> why SES did not say
    problems: list[str]  # what stops sending, in plain words (the admin app's banner)


def _flag(value: Any) -> Known:
    return "unknown" if value is None else ("yes" if value else "no")


async def _ask(
    call: Callable[[], Awaitable[dict[str, Any]]], why: dict[str, str], field: str
) -> dict[str, Any] | None:
    try:
        return await call()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        why[field] = f"{error.get('Code', 'error')}: {str(error.get('Message', ''))[:200]}"
    except BotoCoreError as exc:
        why[field] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return None


async def read_account(client: Any, settings: SesAccess, from_email: str) -> SesAccount:
    """Every read SES allows, in turn (the emulator lacks some; that is `unknown`)."""
    why: dict[str, str] = {}
    read = await _ask(client.get_account, why, "account")
    account = read or {}
    domain = from_email.rsplit("@", 1)[-1]
    identity = await _ask(lambda: client.get_email_identity(EmailIdentity=domain), why, "identity")
    config_set = settings.ses_configuration_set
    destinations = exists = None
    if config_set:
        exists = await _ask(
            lambda: client.get_configuration_set(ConfigurationSetName=config_set), why, "configuration_set"
        )
        if exists is not None:
            destinations = await _ask(
                lambda: client.get_configuration_set_event_destinations(ConfigurationSetName=config_set),
                why, "event_destination",
            )  # fmt: skip
    refused = any(reason.split(":")[0] in CREDENTIAL_REFUSALS for reason in why.values())
    answered = any(x is not None for x in (read, identity, exists))
    config_set_exists: Known = "unknown"
    if config_set and "configuration_set" not in why:
        config_set_exists = "yes"
    elif why.get("configuration_set", "").startswith("NotFound"):
        config_set_exists = "no"
    quota = account.get("SendQuota", {})
    result = SesAccount(
        mode=settings.ses_mode,
        credentials="no" if refused else ("yes" if answered else "unknown"),
        production_access=_flag(account.get("ProductionAccessEnabled")),
        sending_enabled=_flag(account.get("SendingEnabled")),
        max_send_rate=quota.get("MaxSendRate"), max_24_hour_send=quota.get("Max24HourSend"),
        sent_last_24_hours=quota.get("SentLast24Hours"),
        identity=domain,
        identity_verified=_flag(identity.get("VerifiedForSendingStatus")) if identity else "unknown",
        dkim_status=(identity or {}).get("DkimAttributes", {}).get("Status"),
        configuration_set=config_set,
        configuration_set_exists=config_set_exists,
        event_destination=_flag(
            any(d.get("Enabled") for d in destinations.get("EventDestinations", [])) if destinations else None
        ),
        unknown_because=why, problems=[],
    )  # fmt: skip
    result.problems = problems_of(result)
    return result


def problems_of(account: SesAccount) -> list[str]:
    """What stops sending, in the admin's words; empty when nothing known does. The emulator
    takes any message whatever it says of identities, so only real SES is judged on those."""
    found = []
    if account.credentials == "no":
        found.append(
            "AWS refuses the credentials: fix AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the role."
        )
    if account.production_access == "no":
        found.append(
            "The SES account is in the sandbox: it sends only to verified addresses. Request production access."
        )
    if account.sending_enabled == "no":
        found.append("SES has paused sending for the account.")
    if account.mode == "emulator":
        return found
    if account.identity_verified == "no":
        found.append(f"The sender identity {account.identity} is not verified in SES.")
    if account.configuration_set_exists == "no":
        found.append(f"The configuration set {account.configuration_set} does not exist in SES.")
    elif account.event_destination == "no":
        found.append(f"The configuration set {account.configuration_set} has no enabled event destination.")
    return found
