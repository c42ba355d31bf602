"""Fixtures: a fresh database and RabbitMQ vhost per run, an SES emulator over HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit

import aio_pika
import asyncpg
import pytest

from ops.roles import prepare_database
from shared import db
from tests.harness.backends import Backends, backends
from tests.harness.ses_emulator import SesEmulator, start_ses_emulator
from tests.harness.vhosts import create_vhost, delete_vhost, with_vhost

RUN_ID = uuid.uuid4().hex[:8]
# The SDK reads credentials from the environment; the emulator and the stub accept any.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
# Tests use short made-up secrets and http URLs, as `make run` does; the production rules
# are tested where a test sets OUTREACH_ENV=production itself.
os.environ.setdefault("OUTREACH_ENV", "development")
# Test prospects live at reserved names (example.com, *.example): a real resolver would
# flag them no_mx. The MX check's own tests turn it on against a local DNS server.
os.environ.setdefault("MX_CHECK_ENABLED", "false")
# Test prospects share a domain or two, and a test database is a new sender each time:
# per-domain pacing and the warm-up are off but where a test turns them on.
os.environ.setdefault("DOMAIN_RATE_PER_MINUTE", "0")
os.environ.setdefault("WARMUP_SCHEDULE", "off")


@pytest.fixture(scope="session")
def backend() -> Iterator[Backends]:
    with backends() as found:
        yield found


DatabaseFactory = Callable[[], Awaitable[str]]


@pytest.fixture(scope="session")
async def make_database(backend: Backends) -> AsyncIterator[DatabaseFactory]:
    """Creates migrated databases on demand; drops them all at the end of the run."""
    created: list[str] = []

    async def create() -> str:
        name = f"outreach_test_{RUN_ID}_{len(created)}"
        url = db.with_database(backend.database_url, name)
        created.append(name)
        await prepare_database(url)  # migrated as the owner role, each service role granted its tables
        return url

    yield create
    admin = await asyncpg.connect(backend.database_url)
    try:
        for name in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database_url(make_database: DatabaseFactory) -> str:
    """The run's shared database (tests that count rows make their own)."""
    return await make_database()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with db.pool_context(database_url, min_size=1, max_size=10) as created:
        yield created


VhostFactory = Callable[[], Awaitable[str]]
_live_vhosts: list[str] = []


@pytest.fixture(scope="session")
async def make_vhost(backend: Backends) -> AsyncIterator[VhostFactory]:
    """Creates RabbitMQ vhosts on demand (returns an AMQP URL); none outlives the run."""
    user = urlsplit(backend.amqp_url).username or "guest"
    counter = iter(range(1_000_000))

    async def create() -> str:
        vhost = f"outreach-test-{RUN_ID}-{next(counter)}"
        await create_vhost(backend.management_url, vhost, user)
        _live_vhosts.append(vhost)
        return with_vhost(backend.amqp_url, vhost)

    yield create
    while _live_vhosts:
        await delete_vhost(backend.management_url, _live_vhosts.pop())


@pytest.fixture(autouse=True)
async def _drop_the_tests_vhosts(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """A vhost a test made goes when the test ends: RabbitMQ slows down with hundreds of them."""
    before = len(_live_vhosts)
    yield
    if len(_live_vhosts) > before:
        backend = request.getfixturevalue("backend")
        while len(_live_vhosts) > before:
            await delete_vhost(backend.management_url, _live_vhosts.pop())


@pytest.fixture(scope="session")
async def amqp_url(make_vhost: VhostFactory) -> str:
    return await make_vhost()


@pytest.fixture
async def amqp_connection(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def ses_emulator() -> Iterator[SesEmulator]:
    emulator = start_ses_emulator()
    try:
        yield emulator
    finally:
        emulator.stop()
