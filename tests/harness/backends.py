"""Finding the PostgreSQL and RabbitMQ a test run uses.

Order: TEST_DATABASE_URL / TEST_AMQP_URL; else the local services on
127.0.0.1; else, when a Docker engine answers, testcontainers; else the run
fails with a message that says what is missing. It never skips.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


class BackendUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Backends:
    database_url: str  # points at a maintenance database; tests create their own
    amqp_url: str  # the default vhost; tests create their own
    management_url: str | None  # RabbitMQ management API, when known


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), 2):
            return True
    except OSError:
        return False


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextmanager
def backends() -> Iterator[Backends]:
    with ExitStack() as stack:
        database_url = os.environ.get("TEST_DATABASE_URL") or LOCAL_DATABASE_URL
        amqp_url = os.environ.get("TEST_AMQP_URL") or LOCAL_AMQP_URL
        management_url = os.environ.get("TEST_RABBITMQ_MANAGEMENT_URL")
        need_db = not reachable(database_url, 5432)
        need_amqp = not reachable(amqp_url, 5672)
        if (need_db or need_amqp) and not docker_available():
            missing = [name for name, gone in (("PostgreSQL", need_db), ("RabbitMQ", need_amqp)) if gone]
            raise BackendUnavailable(
                f"{' and '.join(missing)} not reachable ({database_url if need_db else ''} "
                f"{amqp_url if need_amqp else ''}) and no Docker engine for testcontainers: "
                "start the services or set TEST_DATABASE_URL / TEST_AMQP_URL"
            )
        if need_db:
            database_url = stack.enter_context(_postgres_container())
        if need_amqp:
            amqp_url, management_url = stack.enter_context(_rabbitmq_container())
        if management_url is None:
            parts = urlsplit(amqp_url)
            credentials = f"{parts.username or 'guest'}:{parts.password or 'guest'}"
            management_url = f"http://{credentials}@{parts.hostname or '127.0.0.1'}:15672"
        yield Backends(database_url, amqp_url, management_url)


@contextmanager
def _postgres_container() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:15-alpine", driver=None) as container:
        yield container.get_connection_url()


@contextmanager
def _rabbitmq_container() -> Iterator[tuple[str, str]]:
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13-management-alpine") as container:
        host = container.get_container_host_ip()
        amqp = f"amqp://guest:guest@{host}:{container.get_exposed_port(5672)}/"
        management = f"http://guest:guest@{host}:{container.get_exposed_port(15672)}"
        yield amqp, management
