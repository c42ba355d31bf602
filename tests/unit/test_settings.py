"""Settings: environment only; a missing secret stops the service with one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from api_gateway.settings import GatewaySettings
from event_ingest.settings import EventIngestSettings
from projector.settings import ProjectorSettings
from sender.settings import SenderSettings
from shared.settings import EXAMPLE_SECRETS, ConfigError, Settings, load_settings
from unsubscribe.settings import UnsubscribeSettings

pytestmark = pytest.mark.unit


def clear_environment(monkeypatch) -> None:
    for name in list(os.environ):
        if name.startswith(("DATABASE_", "AMQP_", "SEND_", "SES_", "AWS_", "PUBLIC_")) or name.endswith(
            "_PORT"
        ):
            monkeypatch.delenv(name, raising=False)


def test_defaults_are_those_for_local_use(monkeypatch):
    clear_environment(monkeypatch)
    settings = Settings()
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/outreach"
    assert settings.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    monkeypatch.setenv("SES_FROM_EMAIL", "outreach@example.com")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://links.example.com")
    sender = SenderSettings()
    assert sender.aws_region == "us-east-1"
    assert sender.ses_endpoint_url is None
    assert sender.send_rate_per_second == 5
    assert sender.send_batch_size == 1000
    for name, value in {"PROXY_SHARED_SECRET": "p" * 32, "ADMIN_JWT_SECRET": "a" * 32,
                        "SUPPRESSION_HASH_KEY": "k" * 32, "SES_WEBHOOK_SECRET": "w" * 32}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    ports = (GatewaySettings().gateway_port, EventIngestSettings().event_ingest_port,
             UnsubscribeSettings().unsubscribe_port, sender.sender_port,
             ProjectorSettings().projector_port)  # fmt: skip
    assert ports == (8080, 8081, 8082, 8083, 8084)


def test_each_service_reads_only_its_own_settings(monkeypatch):
    """A service's class declares its own variables: the common part knows no service."""
    clear_environment(monkeypatch)
    common = set(Settings.model_fields)
    assert not {"gateway_port", "sender_port", "admin_jwt_secret", "ses_webhook_secret",
                "send_rate_per_second"} & common  # fmt: skip
    assert "admin_jwt_secret" not in SenderSettings.model_fields
    assert "send_rate_per_second" not in GatewaySettings.model_fields
    assert "ses_webhook_secret" not in GatewaySettings.model_fields


def test_the_environment_sets_values_and_empty_means_unset(monkeypatch):
    monkeypatch.setenv("SES_FROM_EMAIL", "outreach@example.com")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://links.example.com")
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "12.5")
    monkeypatch.setenv("SES_ENDPOINT_URL", "")
    settings = SenderSettings()
    assert settings.send_rate_per_second == 12.5
    assert settings.ses_endpoint_url is None


def gateway_env(monkeypatch) -> None:
    monkeypatch.setenv("SES_FROM_EMAIL", "outreach@example.com")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://links.example.com")
    monkeypatch.setenv("SUPPRESSION_HASH_KEY", "k" * 32)


def test_a_missing_secret_names_the_variable(monkeypatch):
    gateway_env(monkeypatch)
    monkeypatch.delenv("ADMIN_JWT_SECRET", raising=False)
    monkeypatch.setenv("PROXY_SHARED_SECRET", "x" * 32)
    with pytest.raises(ConfigError) as raised:
        load_settings(GatewaySettings, "api-gateway")
    assert str(raised.value.code) == "api-gateway: missing required setting ADMIN_JWT_SECRET"


def test_a_short_secret_is_refused(monkeypatch):
    gateway_env(monkeypatch)
    monkeypatch.setenv("ADMIN_JWT_SECRET", "short")
    monkeypatch.setenv("PROXY_SHARED_SECRET", "x" * 32)
    with pytest.raises(ConfigError, match="invalid setting ADMIN_JWT_SECRET"):
        load_settings(GatewaySettings, "api-gateway")


def test_secrets_never_show_in_a_repr(monkeypatch):
    gateway_env(monkeypatch)
    monkeypatch.setenv("ADMIN_JWT_SECRET", "s3cret-value-0123456789")
    monkeypatch.setenv("PROXY_SHARED_SECRET", "another-secret-0123456789")
    assert "s3cret-value" not in repr(GatewaySettings())


@pytest.mark.parametrize(
    ("module", "variable"),
    [
        ("api_gateway", "PROXY_SHARED_SECRET"),
        ("event_ingest", "SES_WEBHOOK_SECRET"),
        ("sender", "SES_FROM_EMAIL"),
    ],
)
def test_a_service_refuses_to_start_without_its_secret(module, variable):
    env = {"PATH": os.environ["PATH"]}
    result = subprocess.run(
        [sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]


def test_the_import_limit_admits_a_million_row_file(monkeypatch):
    """A 1M-row CSV is about 100 MB (docs/benchmarks.md); the import streams it in flat memory."""
    gateway_env(monkeypatch)
    monkeypatch.setenv("ADMIN_JWT_SECRET", "a" * 32)
    monkeypatch.setenv("PROXY_SHARED_SECRET", "p" * 32)
    monkeypatch.delenv("IMPORT_MAX_BYTES", raising=False)
    assert GatewaySettings().import_max_bytes == 1024**3


@pytest.mark.parametrize(
    ("mode", "endpoint", "refusal"),
    [
        (None, None, None),  # aws by default: Amazon SES in AWS_REGION
        ("aws", None, None),
        ("emulator", "http://127.0.0.1:4566", None),
        (None, "http://127.0.0.1:4566", "SES_ENDPOINT_URL is set but SES_MODE is aws"),  # the old silent trap
        ("emulator", None, "SES_MODE=emulator needs SES_ENDPOINT_URL"),
    ],
)
def test_where_mail_goes_is_said_and_never_silently_wrong(monkeypatch, mode, endpoint, refusal):
    clear_environment(monkeypatch)
    gateway_env(monkeypatch)
    for name, value in (("SES_MODE", mode), ("SES_ENDPOINT_URL", endpoint)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    if refusal is not None:
        with pytest.raises(ConfigError) as raised:
            load_settings(SenderSettings, "sender")
        assert refusal in str(raised.value) and str(raised.value).startswith("sender: ")
        return
    said = load_settings(SenderSettings, "sender").where_mail_goes()
    expected = "the local SES emulator" if mode == "emulator" else "Amazon SES in us-east-1"
    assert expected in said


PRODUCTION_GATEWAY = {
    "OUTREACH_ENV": "production", "SES_FROM_EMAIL": "outreach@example.com",
    "PUBLIC_BASE_URL": "https://links.example.com", "PROXY_SHARED_SECRET": "p" * 32, "ADMIN_JWT_SECRET": "a" * 32,
    "SUPPRESSION_HASH_KEY": "k" * 32, "SENDER_POSTAL_ADDRESS": "Example Ltd | 1 Main Street | Springfield",
}  # fmt: skip


def production_error(monkeypatch, cls, **changes: str) -> str:
    clear_environment(monkeypatch)
    for name, value in {**PRODUCTION_GATEWAY, **changes}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(cls, "svc")
    return str(raised.value)


def test_production_is_the_default_and_takes_real_settings(monkeypatch):
    clear_environment(monkeypatch)
    monkeypatch.delenv("OUTREACH_ENV")
    for name, value in PRODUCTION_GATEWAY.items():
        if name != "OUTREACH_ENV":
            monkeypatch.setenv(name, value)
    assert GatewaySettings().outreach_env == "production"


@pytest.mark.parametrize(
    ("cls", "changes", "named"),
    [
        (GatewaySettings, {"ADMIN_JWT_SECRET": "dev-admin-jwt-secret-change-me-please"},
         "ADMIN_JWT_SECRET is a published example value"),
        (GatewaySettings, {"PROXY_SHARED_SECRET": "p" * 31}, "PROXY_SHARED_SECRET is shorter than 32 characters"),
        (GatewaySettings, {"SUPPRESSION_HASH_KEY": "dev-suppression-hash-key-change-me"},
         "SUPPRESSION_HASH_KEY is a published example value"),
        (GatewaySettings, {"PUBLIC_BASE_URL": "http://links.example.com"}, "PUBLIC_BASE_URL must be https://"),
        (SenderSettings, {"PUBLIC_BASE_URL": "http://links.example.com"}, "PUBLIC_BASE_URL must be https://"),
        (SenderSettings, {"SENDER_POSTAL_ADDRESS": "   "}, "SENDER_POSTAL_ADDRESS is not set"),
        (GatewaySettings, {"SENDER_POSTAL_ADDRESS": "   "}, "SENDER_POSTAL_ADDRESS is not set"),
        (SenderSettings, {"DATABASE_URL": "postgresql://outreach_sender:dev-db-password-change-me@db/outreach"},
         "DATABASE_URL holds a published example password"),
        (EventIngestSettings, {"SES_WEBHOOK_SECRET": "dev-webhook-secret-change-me"},
         "SES_WEBHOOK_SECRET is a published example value"),
    ],
)  # fmt: skip
def test_production_refuses_example_and_short_secrets_and_plain_http(monkeypatch, cls, changes, named):
    message = production_error(monkeypatch, cls, **changes)
    assert message.startswith("svc: OUTREACH_ENV is production: ") and named in message
    assert "\n" not in message
    for value in changes.values():
        assert value not in message or value.startswith("http"), "a secret is never echoed"


def test_development_accepts_what_make_run_uses(monkeypatch):
    clear_environment(monkeypatch)
    for name, value in {**PRODUCTION_GATEWAY, "OUTREACH_ENV": "development",
                        "ADMIN_JWT_SECRET": "dev-admin-jwt-secret-change-me-please",
                        "PUBLIC_BASE_URL": "http://localhost:8082"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert GatewaySettings().outreach_env == "development"


def test_every_published_secret_is_known_as_an_example():
    """.env.example, both Compose files and the Makefile: every secret value they write."""
    root = Path(__file__).resolve().parents[2]
    text = "\n".join((root / name).read_text() for name in
                     (".env.example", "docker-compose.yml", "docker-compose.prod.yml", "Makefile"))  # fmt: skip
    published = set(
        re.findall(r"(?:SECRET|HASH_KEY)[A-Z_]*[=:]\s*(?:\$\{[A-Z_]+:-)?([A-Za-z0-9_-]{8,})", text)
    )
    assert published, "the pattern finds the secrets"
    assert published <= EXAMPLE_SECRETS, published - EXAMPLE_SECRETS


def test_the_operators_commands_run_in_production_and_report_instead(monkeypatch):
    """`outreach doctor` must run to say what is wrong; it lists what a service would refuse."""
    from ops.doctor import environment
    from ops.settings import OperatorSettings

    clear_environment(monkeypatch)
    monkeypatch.setenv("OUTREACH_ENV", "production")
    monkeypatch.setenv("PROXY_SHARED_SECRET", "dev-proxy-secret-change-me")
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://localhost:8082")
    [check] = environment(OperatorSettings())
    assert check.verdict == "FAIL"
    assert (
        "PROXY_SHARED_SECRET is a published example value" in check.detail
        and "PUBLIC_BASE_URL" in check.detail
    )


def test_production_takes_the_identity_providers_keys_over_https_only(monkeypatch):
    message = production_error(
        monkeypatch, GatewaySettings, ADMIN_JWKS_URL="http://idp.example.com/jwks.json"
    )
    assert "ADMIN_JWKS_URL must be https://" in message
