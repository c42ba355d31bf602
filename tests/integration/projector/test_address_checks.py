"""Address checks: role and disposable addresses flagged as they arrive, the domains
without mail flagged by the projector's MX check against a DNS server (a local one
here), flagged prospects left out of campaigns unless one opts in, and a domain that
takes mail again unflagged."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestServer

from projector.app import create_app as create_projector
from projector.mx_checker import MxChecker, lookup, resolver_for
from projector.settings import ProjectorSettings
from shared import db, eligibility
from shared.lifecycle import prospect as prospects
from tests.harness.dns_server import Zone, dns_server
from tests.harness.gateway import ADMIN, gateway
from tests.harness.roles import as_service
from tests.harness.sending import seed_campaign

pytestmark = pytest.mark.integration

ZONE = {
    "good.example": ["good.example. 60 IN MX 10 mx.good.example."],
    "mx.good.example": ["mx.good.example. 60 IN A 192.0.2.1"],
    "aonly.example": ["aonly.example. 60 IN A 192.0.2.2"],  # no MX: the implicit MX
    "nullmx.example": ["nullmx.example. 60 IN MX 0 ."],  # RFC 7505
    "txtonly.example": ['txtonly.example. 60 IN TXT "v=spf1 -all"'],  # neither MX nor address
    "mailinator.com": ["mailinator.com. 60 IN MX 10 mx.good.example."],  # takes mail, and is disposable
}


def zone() -> Zone:
    z = Zone(silent={"slow.example"})
    for name, lines in ZONE.items():
        z.set(name, *lines)
    return z


async def import_csv(client, text: str) -> dict:
    response = await client.post(
        "/api/prospects/import", data=text.encode(), headers={**ADMIN, "Content-Type": "text/csv"}
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def flags(pool, email: str) -> list[str]:
    return list(await pool.fetchval("SELECT address_flags FROM prospects WHERE email = $1", email))


async def indexed(pool) -> None:
    """The search indexer's pass over everything (it queues imported prospects' domains)."""
    after = prospects.NO_ID
    async with pool.acquire() as conn:
        while (step := await prospects.refresh_search(conn, datetime(2000, 1, 1, tzinfo=UTC), after))[0]:
            after = step[0]


async def eligible(pool, campaign_id) -> set[str]:
    rows = await eligibility.batch(pool, campaign_id, 100, 0)
    return {row["email"] for row in rows}


async def test_lookups_tell_mail_from_no_mail_from_no_answer():
    with dns_server(zone()) as server:
        resolver = resolver_for(server, timeout=0.5)
        verdicts = {d: await lookup(resolver, d) for d in
                    ("good.example", "aonly.example", "nullmx.example", "txtonly.example", "nowhere.example",
                     "slow.example")}  # fmt: skip
    assert {d: v.accepts_mail for d, v in verdicts.items()} == {
        "good.example": True, "aonly.example": True, "nullmx.example": False, "txtonly.example": False,
        "nowhere.example": False, "slow.example": None,
    }  # fmt: skip
    assert verdicts["aonly.example"].detail.startswith("no MX; A")
    assert "RFC 7505" in verdicts["nullmx.example"].detail
    assert verdicts["nowhere.example"].detail == "no such domain"


async def test_flagged_prospects_are_left_out_unless_the_campaign_opts_in(make_database, make_vhost):
    database_url, amqp_url = await make_database(), await make_vhost()
    run = uuid.uuid4().hex[:6]
    people = {
        "ada": f"ada.{run}@good.example", "bo": f"bo.{run}@aonly.example", "cy": f"cy.{run}@nullmx.example",
        "di": f"di.{run}@nowhere.example", "ed": f"ed.{run}@slow.example", "info": f"info+{run}@good.example",
        "temp": f"temp.{run}@mailinator.com",
    }  # fmt: skip
    async with db.pool_context(database_url) as pool, gateway(database_url, amqp_url) as client:
        report = await import_csv(client, "email\n" + "\n".join(people.values()) + "\n")
        assert report["inserted"] == len(people)
        # As they arrive: the address alone.
        assert await flags(pool, people["info"]) == ["role"]
        assert await flags(pool, people["temp"]) == ["disposable"]
        assert await flags(pool, people["ada"]) == []
        await indexed(pool)  # the projector's indexer queues the domains, off the import's path
        queued = await pool.fetchval("SELECT count(*) FROM email_domains WHERE checked_at IS NULL")
        assert queued == 6  # good, aonly, nullmx, nowhere, slow, mailinator.com: each once

        with dns_server(zone()) as server:
            checker = MxChecker(pool, resolver_for(server, timeout=0.5), concurrency=4, poll_seconds=0.1)
            assert await checker.drain() == 6
        assert await flags(pool, people["cy"]) == ["no_mx"]
        assert await flags(pool, people["di"]) == ["no_mx"]
        assert await flags(pool, people["bo"]) == [] and await flags(pool, people["ed"]) == []
        assert await flags(pool, people["temp"]) == ["disposable"]
        slow = await pool.fetchrow("SELECT * FROM email_domains WHERE domain = 'slow.example'")
        assert (
            slow["accepts_mail"] is None and slow["attempts"] == 1 and slow["detail"].startswith("no answer")
        )
        assert await pool.fetchval(
            "SELECT next_check_at > now() FROM email_domains WHERE domain = 'slow.example'"
        )

        left_out = await seed_campaign(pool)
        assert await eligible(pool, left_out) == {people["ada"], people["bo"], people["ed"]}
        opted_in = await seed_campaign(pool)
        await pool.execute("UPDATE email_campaigns SET include_flagged = true WHERE id = $1", opted_in)
        assert await eligible(pool, opted_in) == set(people.values())

        # Someone new at a domain known to take no mail: flagged by the indexer's pass when
        # imported, at once when added alone.
        late, alone = f"late.{run}@nullmx.example", f"alone.{run}@nullmx.example"
        await import_csv(client, f"email\n{late}\n")
        await indexed(pool)
        assert await flags(pool, late) == ["no_mx"]
        created = await client.post("/api/prospects", json={"email": alone}, headers=ADMIN)
        assert (await created.json())["address_flags"] == ["no_mx"]

        # The domain gets a mail server: at its next check its prospects are unflagged.
        fixed = zone()
        fixed.set("nullmx.example", "nullmx.example. 60 IN MX 10 mx.good.example.")
        await pool.execute("UPDATE email_domains SET next_check_at = now() WHERE domain = 'nullmx.example'")
        with dns_server(fixed) as server:
            assert (
                await MxChecker(
                    pool, resolver_for(server, timeout=0.5), concurrency=4, poll_seconds=0.1
                ).drain()
                == 1
            )
        assert (
            await flags(pool, people["cy"]) == []
            and await flags(pool, late) == []
            and await flags(pool, alone) == []
        )

        # The admin finds them by rule, and the answer shows the flags.
        rule = '{"field": "address_flags", "op": "has", "value": "no_mx"}'
        listed = await (await client.get("/api/prospects", params={"rule": rule}, headers=ADMIN)).json()
        assert {p["email"] for p in listed["items"]} == {people["di"]}
        assert listed["items"][0]["address_flags"] == ["no_mx"]


async def test_the_projector_runs_the_check_when_enabled(make_database, make_vhost):
    database_url, amqp_url = await make_database(), await make_vhost()
    async with db.pool_context(database_url) as pool, gateway(database_url, amqp_url) as client:
        created = await client.post("/api/prospects", json={"email": "x@nullmx.example"}, headers=ADMIN)
        assert created.status == 201
        with dns_server(zone()) as server:
            settings = ProjectorSettings(
                database_url=as_service(database_url, "projector"), amqp_url=amqp_url, mx_check_enabled=True,
                dns_nameservers=server, mx_check_timeout_seconds=0.5, mx_check_poll_seconds=0.1,
            )  # fmt: skip
            projector = TestServer(create_projector(settings), host="127.0.0.1")
            await projector.start_server()
            try:
                async with asyncio.timeout(30):
                    while await flags(pool, "x@nullmx.example") != ["no_mx"]:
                        await asyncio.sleep(0.1)
            finally:
                await projector.close()
