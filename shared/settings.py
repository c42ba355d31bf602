"""Settings from the environment only (pydantic-settings): the part every process shares.

Each service declares its own class in its own package (its port, its secrets,
its knobs) on top of `Settings`, and keeps it under a typed app key, so no
service reads another's variables and nobody casts a settings object back.
Mixins here hold what two services read alike (SES access, the message
identity). `load_settings` turns a missing or unusable value into a one-line
error that names the variable.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.sequence import message_id_domain
from shared.warmup import Ramp, parse_schedule

MIN_SECRET_LENGTH = 16
# In production a secret is at least this long and none of the published examples.
MIN_PRODUCTION_SECRET_LENGTH = 32
# Every secret value the repository publishes (.env.example, docker-compose.yml, the docs):
# anyone can sign a token or a webhook with them. A fitness test keeps this list complete.
EXAMPLE_SECRETS = frozenset(
    {
        "dev-webhook-secret-change-me",
        "dev-proxy-secret-change-me",
        "dev-admin-jwt-secret-change-me-please",
        "dev-suppression-hash-key-change-me",
        "dev-db-password-change-me",
    }
)


class Settings(BaseSettings):
    """What every process reads: where the database and broker are, logging, pools, shutdown."""

    # An empty variable means "not set" (so SES_ENDPOINT_URL= selects real SES).
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, env_ignore_empty=True
    )

    # production (the default, and the image's): example or short secrets and an http
    # PUBLIC_BASE_URL stop the service. development: `make run` and `make up` set it.
    outreach_env: Literal["production", "development"] = "production"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/outreach"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Processes serving the same port (SO_REUSEPORT); every service is stateless.
    http_workers: int = Field(default=1, ge=1, le=64)
    http_host: str = "0.0.0.0"  # noqa: S104 - services run in containers behind a proxy

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    amqp_queue_type: Literal["quorum", "classic"] = "quorum"
    amqp_prefetch: int = Field(default=32, ge=1, le=1000)
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    outbox_poll_seconds: float = Field(default=5.0, gt=0)
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    # Every service applies pending migrations at start (serialised by an advisory lock).
    migrate_on_start: bool = True
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0)

    # A service stops on what production must not run with; the operator's CLI reports it.
    refuses_unfit_production: ClassVar[bool] = True
    # URL settings production takes over https only, and why (a class adds its own).
    https_in_production: ClassVar[dict[str, str]] = {
        # RFC 8058: the one-click unsubscribe URI in List-Unsubscribe must be HTTPS.
        "public_base_url": "RFC 8058 one-click needs an HTTPS unsubscribe URI",
    }

    @model_validator(mode="after")
    def _fit_for_production(self) -> Self:
        if self.outreach_env == "production" and self.refuses_unfit_production:
            problems = production_problems(self)
            if problems:
                raise ValueError("OUTREACH_ENV is production: " + "; ".join(problems))
        return self


def is_https(url: object) -> bool:
    return str(url or "").startswith("https://")


def secret_problem(name: str, secret: str) -> str | None:
    """Why production refuses this secret, naming its setting; None when it is fit."""
    if secret in EXAMPLE_SECRETS:
        return f"{name.upper()} is a published example value; set a secret of your own"
    if len(secret) < MIN_PRODUCTION_SECRET_LENGTH:
        return f"{name.upper()} is shorter than {MIN_PRODUCTION_SECRET_LENGTH} characters"
    return None


def production_problems(settings: Settings) -> list[str]:
    """What a production deployment must not run with, each naming its setting."""
    problems = [
        problem
        for name in type(settings).model_fields
        if isinstance(value := getattr(settings, name), SecretStr)
        and (problem := secret_problem(name, value.get_secret_value()))
    ]
    if isinstance(settings, MessageIdentity) and not (settings.sender_postal_address or "").strip():
        problems.append(
            "SENDER_POSTAL_ADDRESS is not set (every message must carry the sender's postal address)"
        )
    if (urlsplit(settings.database_url).password or "") in EXAMPLE_SECRETS:
        problems.append("DATABASE_URL holds a published example password; set a password of your own")
    for name, why in settings.https_in_production.items():
        url = getattr(settings, name, None)
        if url is not None and not is_https(url):
            problems.append(f"{name.upper()} must be https:// ({why})")
    return problems


class SesAccess(BaseSettings):
    """Where mail goes, said out loud: SES_MODE=emulator (the SES emulator at
    SES_ENDPOINT_URL: nothing is delivered) or SES_MODE=aws (Amazon SES in AWS_REGION).
    `aws` is the default; `make run` and `make up` choose `emulator` in their local
    defaults. A mode that does not match the endpoint stops the service: real mail must
    never be one silent step from the emulator, nor the emulator from real mail."""

    model_config = Settings.model_config
    ses_mode: Literal["emulator", "aws"] = "aws"
    aws_region: str = "us-east-1"
    ses_endpoint_url: AnyHttpUrl | None = None
    ses_configuration_set: str | None = None
    # The domain of the Message-ID SES gives each message (follow-ups quote it in
    # In-Reply-To and References); by default the one SES uses in AWS_REGION.
    ses_message_id_domain: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]+$")

    @property
    def message_id_domain(self) -> str:
        return self.ses_message_id_domain or message_id_domain(self.aws_region)

    @model_validator(mode="after")
    def _endpoint_matches_the_mode(self) -> Self:
        if self.ses_mode == "emulator" and self.ses_endpoint_url is None:
            raise ValueError("SES_MODE=emulator needs SES_ENDPOINT_URL (the emulator's address)")
        if self.ses_mode == "aws" and self.ses_endpoint_url is not None:
            raise ValueError(
                "SES_ENDPOINT_URL is set but SES_MODE is aws: set SES_MODE=emulator to use that endpoint, "
                "or unset SES_ENDPOINT_URL to send through Amazon SES"
            )
        return self

    def where_mail_goes(self) -> str:
        if self.ses_mode == "emulator":
            return (
                f"mail goes to the local SES emulator at {self.ses_endpoint_url} (nothing is delivered); "
                "set SES_MODE=aws to send for real"
            )
        return f"mail goes to Amazon SES in {self.aws_region}"


# The domain SES receives replies for (Reply-To: local+TOKEN@REPLY_DOMAIN); none: the
# campaign's own reply-to, and replies are not read.
ReplyDomain = Annotated[str | None, Field(default=None, pattern=r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")]


class MessageIdentity(BaseSettings):
    """What every message carries, read alike by the sender and the gateway's preview."""

    model_config = Settings.model_config
    # Campaigns send from this address or another address of its domain.
    ses_from_email: str = Field(min_length=3)
    # The base of the unsubscribe link in every message.
    public_base_url: AnyHttpUrl
    reply_domain: ReplyDomain = None
    # The sender's postal address, in every message's footer (shared.footer; CAN-SPAM and
    # the bulk-sender rules). Lines separated by a newline or " | ". Required in production.
    sender_postal_address: str | None = Field(
        default=None, max_length=500, pattern=r"^[^\r\x00-\x09\x0b-\x1f]*$"
    )


DEFAULT_WARMUP = "50,100,200,400,800,1600,3200,6400,12800,25600,51200"


class WarmupRamp(BaseSettings):
    """The warm-up of a new sending domain (shared.warmup), read alike by the sender and the gateway."""

    model_config = Settings.model_config
    # Sends a day on the domain's first, second … day; "off": no warm-up. Past the list
    # (or from the day it reaches the account's daily quota) the domain is warm.
    warmup_schedule: str = Field(default=DEFAULT_WARMUP, max_length=2000)
    # Where a warm-up day begins and ends (an IANA zone name).
    warmup_timezone: str = "UTC"

    @model_validator(mode="after")
    def _ramp_parses(self) -> Self:
        self.ramp  # noqa: B018 - raises ValueError with what is wrong
        return self

    @property
    def ramp(self) -> Ramp:
        try:
            zone = ZoneInfo(self.warmup_timezone)
        except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"WARMUP_TIMEZONE is not a time zone name: {self.warmup_timezone!r}") from exc
        return Ramp(parse_schedule(self.warmup_schedule), zone)


class ConfigError(SystemExit):
    """A setting is missing or invalid: the process stops (exit 1) with one line naming it."""


SettingsT = TypeVar("SettingsT", bound=Settings)


def load_settings(cls: type[SettingsT], service: str) -> SettingsT:
    try:
        return cls()
    except ValidationError as exc:
        raise ConfigError(f"{service}: {describe_settings_error(exc)}") from None


def describe_settings_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        if not error["loc"]:  # a rule across settings: its message names them
            problems.append(str(error["msg"]).removeprefix("Value error, "))
            continue
        name = str(error["loc"][0]).upper()
        if error["type"] == "missing":
            problems.append(f"missing required setting {name}")
        else:
            problems.append(f"invalid setting {name}: {error['msg']}")
    return "; ".join(problems)
