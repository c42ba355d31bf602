"""docker-compose.yml is complete and consistent (this machine has no Docker engine;
.ci/run also validates it with `docker-compose config -q`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from api_gateway.settings import GatewaySettings
from event_ingest.settings import EventIngestSettings
from ops.settings import OperatorSettings
from projector.settings import ProjectorSettings
from sender.settings import SenderSettings
from unsubscribe.settings import UnsubscribeSettings

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
    env = services["sender"]["environment"]
    assert "http://ses:5000" in env["SES_ENDPOINT_URL"]


SETTINGS_OF = {
    "api-gateway": GatewaySettings, "event-ingest": EventIngestSettings, "unsubscribe": UnsubscribeSettings,
    "sender": SenderSettings, "projector": ProjectorSettings, "migrate": OperatorSettings,
}  # fmt: skip
AWS_CHAIN = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # read by the SDK, not by our settings


@pytest.mark.parametrize("name", sorted(SETTINGS_OF))
def test_each_service_gets_what_it_requires_and_nothing_it_does_not_read(compose, name):
    settings = SETTINGS_OF[name]
    env = set(compose["services"][name]["environment"])
    names = {field.upper() for field in settings.model_fields}
    required = {field.upper() for field, info in settings.model_fields.items() if info.is_required()}
    assert required <= env, f"{name} lacks {required - env}"
    assert env <= names | AWS_CHAIN, f"{name} gets variables it does not read: {env - names - AWS_CHAIN}"


def test_build_context_and_dockerfile_exist(compose):
    for service in compose["services"].values():
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile
    assert "USER outreach" in dockerfile
