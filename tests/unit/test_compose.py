"""docker-compose.yml is complete and consistent (this machine has no Docker engine;
.ci/run also validates it with `docker-compose config -q`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from sender.settings import SenderSettings
from shared.settings import Settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "api-gateway": ("outreach-gateway", 8080),
    "event-ingest": ("outreach-event-ingest", 8081),
    "unsubscribe": ("outreach-unsubscribe", 8082),
    "sender": ("outreach-sender", 8083),
    "projector": ("outreach-projector", 8084),
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def console_scripts() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_every_service_runs_its_console_script_on_its_port(compose, console_scripts):
    for name, (script, port) in SERVICES.items():
        service = compose["services"][name]
        assert service["command"] == [script]
        assert script in console_scripts
        assert f"{port}:{port}" in service["ports"]
        assert f":{port}/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_infrastructure_has_the_console_and_the_ses_emulator(compose):
    services = compose["services"]
    assert "15672:15672" in services["rabbitmq"]["ports"]
    assert "management" in services["rabbitmq"]["image"]
    assert services["ses"]["image"].startswith("motoserver/moto:")
    env = services["api-gateway"]["environment"]
    assert "http://ses:5000" in env["SES_ENDPOINT_URL"]


def test_the_services_get_every_setting_they_require(compose):
    env = compose["services"]["sender"]["environment"]
    names = {field.upper() for kind in (Settings, SenderSettings) for field in kind.model_fields}
    required = {
        "DATABASE_URL", "AMQP_URL", "SES_FROM_EMAIL", "PUBLIC_BASE_URL", "SES_WEBHOOK_SECRET",
        "PROXY_SHARED_SECRET", "ADMIN_JWT_SECRET", "SES_ENDPOINT_URL",
    }  # fmt: skip
    assert required <= set(env) <= names | {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def test_build_context_and_dockerfile_exist(compose):
    for service in compose["services"].values():
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile
    assert "USER outreach" in dockerfile
