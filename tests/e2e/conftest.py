from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.stack import Stack, given_stack, local_stack


@pytest.fixture(scope="module")
async def stack(make_database, make_vhost, tmp_path_factory) -> AsyncIterator[Stack]:
    """The stack named by E2E_* variables, else `make run` here on a fresh database and vhost
    (one per test module).
    The sender goes one message at a time (SEND_MAX_IN_FLIGHT=1) at 200/s: a kill can then
    leave at most one message in flight."""
    given = given_stack()
    if given is not None:
        await given.ready()
        yield given
        return
    async with local_stack(
        await make_database(), await make_vhost(), tmp_path_factory.mktemp("stack"),
        SEND_RATE_PER_SECOND="200", SEND_MAX_IN_FLIGHT="1",
    ) as started:  # fmt: skip
        yield started
