"""The MX check: whether the domain of each prospect takes mail, asked of DNS in the
background (dnspython), a bounded number of lookups at a time, each domain once a month
(shared.lifecycle.domains keeps the verdicts). A domain that takes no mail flags its
prospects `no_mx`, and campaigns leave them out (shared.eligibility): mail to it would
only bounce, and bounces are what SES judges a sender by.

Takes mail: an MX record, or (no MX at all) an A or AAAA record, the implicit MX of
RFC 5321 section 5.1. Takes none: no such domain (NXDOMAIN), a null MX (RFC 7505: one MX
of preference 0 and exchange "."), or neither MX nor address. No answer (a timeout, a
SERVFAIL): unknown, asked again later, never a flag.
"""

from __future__ import annotations

import asyncio

import asyncpg
import dns.asyncresolver
import dns.exception
import dns.resolver

from projector.metrics import MX_CHECKED
from projector.upkeep import every
from shared.lifecycle import domains
from shared.lifecycle import prospect as prospects
from shared.lifecycle.domains import Verdict
from shared.logging import get_logger

log = get_logger(__name__)
ROUND = 200  # domains read at a time


def resolver_for(nameservers: str, timeout: float) -> dns.asyncresolver.Resolver:
    """The system's resolvers, or `host[:port],…` (tests point it at a local server)."""
    if not nameservers.strip():
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        servers = [s.strip() for s in nameservers.split(",") if s.strip()]
        resolver.nameservers = [s.rsplit(":", 1)[0] if ":" in s else s for s in servers]
        ports = {int(s.rsplit(":", 1)[1]) for s in servers if ":" in s}
        if ports:
            resolver.port = ports.pop()
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


async def lookup(resolver: dns.asyncresolver.Resolver, domain: str) -> Verdict:
    try:
        answer = await resolver.resolve(domain, "MX", search=False)
    except dns.resolver.NXDOMAIN:
        return Verdict(domain, False, "no such domain")
    except dns.resolver.NoAnswer:
        return await _implicit_mx(resolver, domain)
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
        return Verdict(domain, None, f"no answer: {type(exc).__name__}")
    records = list(answer)
    if len(records) == 1 and records[0].preference == 0 and records[0].exchange.to_text() == ".":
        return Verdict(domain, False, "null MX (RFC 7505): takes no mail")
    return Verdict(domain, True, f"{len(records)} MX")


async def _implicit_mx(resolver: dns.asyncresolver.Resolver, domain: str) -> Verdict:
    for rdtype in ("A", "AAAA"):
        try:
            await resolver.resolve(domain, rdtype, search=False)
            return Verdict(domain, True, f"no MX; {rdtype} (the implicit MX of RFC 5321)")
        except dns.resolver.NoAnswer:
            continue
        except dns.resolver.NXDOMAIN:
            return Verdict(domain, False, "no such domain")
        except dns.exception.DNSException as exc:
            return Verdict(domain, None, f"no answer: {type(exc).__name__}")
    return Verdict(domain, False, "no MX and no address record")


class MxChecker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        resolver: dns.asyncresolver.Resolver,
        *,
        concurrency: int,
        poll_seconds: float,
    ) -> None:
        self._pool = pool
        self._resolver = resolver
        self._slots = asyncio.Semaphore(concurrency)
        self._poll_seconds = poll_seconds

    async def _one(self, domain: str) -> Verdict:
        async with self._slots:
            return await lookup(self._resolver, domain)

    async def drain(self) -> int:
        """Check every domain due now; the number checked."""
        checked = 0
        while names := await domains.due(self._pool, ROUND):
            verdicts = await asyncio.gather(*(self._one(name) for name in names))
            async with self._pool.acquire() as conn, conn.transaction():
                flipped = await domains.record(conn, verdicts)
                flagged = await prospects.flag_domains(conn, flipped.no_mail, flipped.mail)
            for verdict in verdicts:
                MX_CHECKED.labels(
                    {True: "mail", False: "no_mail", None: "unknown"}[verdict.accepts_mail]
                ).inc()
            if flagged:
                log.info("MX check flagged prospects", domains=len(verdicts), prospects_changed=flagged)
            checked += len(verdicts)
        return checked

    async def run(self) -> None:
        await every(self.drain, seconds=self._poll_seconds, what="MX check", max_backoff=30.0)
