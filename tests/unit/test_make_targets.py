"""`make compose-test` cannot run on these machines (no Docker engine): its command lines,
as `make -n` prints them, are checked instead."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e import stack

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = "docker compose -f docker-compose.yml -f docker-compose.ports.yml"


@pytest.fixture(scope="module")
def compose_test() -> list[str]:
    """The recipe's lines, with the install's (-B: as on a fresh clone, nothing installed)."""
    # As from a shell: not as a sub-make of `make test` (which would print its directories).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "compose-test", "COMPOSE=docker compose"], cwd=ROOT,
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    return printed.replace("\\\n", " ").splitlines()


def index(lines: list[str], pattern: str) -> int:
    return next(i for i, line in enumerate(lines) if re.search(pattern, line))


def test_it_installs_the_environment_before_anything_else(compose_test):
    install = index(compose_test, r"pip install .*-r requirements-dev\.lock")
    assert install < index(compose_test, rf"{COMPOSE} up --build -d --wait")


def test_its_only_pytest_run_is_the_e2e_and_fault_suites_against_the_containers(compose_test):
    runs = [line for line in compose_test if "-m pytest" in line]
    assert len(runs) == 1, "no pass that runs the services in-process"
    run = runs[0]
    assert '-m "faults and not run_local" tests/e2e' in run
    assert (
        "E2E_PUBLIC_URL=https://localhost:8443" in run
        and "E2E_CA_FILE=var/compose-test/caddy-root.crt" in run
    )
    source = inspect.getsource(stack.given_stack)
    required = set(re.findall(r'os\.environ\["([A-Z0-9_]+)"\]', source))
    per_service = {f"E2E_{name}_URL" for name in re.findall(r'": "([A-Z]+)"', source)}
    assert {"E2E_PUBLIC_URL", "DATABASE_URL"} <= required and len(per_service) == 5
    for name in required | per_service:
        assert f"{name}=" in run, f"the stack reads {name}"
    assert f'E2E_KILL_COMMAND="{COMPOSE} kill -s KILL {{service}}"' in run


def test_it_trusts_the_front_doors_certificate_and_tears_the_stack_down_whatever_happened(compose_test):
    fetch = index(compose_test, r"exec -T caddy cat /data/caddy/pki/authorities/local/root\.crt")
    assert fetch < index(compose_test, "-m pytest")
    last = compose_test[-1]
    assert "status=$?" in last and last.rstrip().endswith(f"{COMPOSE} down -v; exit $status")
