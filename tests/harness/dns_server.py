"""A DNS server on a local UDP port (dnslib) answering from a dict of records, for the MX
check's tests: names it knows answer (an empty answer when the type is missing: NoAnswer),
others are NXDOMAIN, and names in `silent` get no reply at all (a timeout)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer


@dataclass
class Zone:
    records: dict[str, list[str]] = field(default_factory=dict)  # name -> zone-file lines
    silent: set[str] = field(default_factory=set)

    def set(self, name: str, *lines: str) -> None:
        self.records[name.rstrip(".").lower()] = list(lines)


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zone: Zone) -> None:
        self.zone = zone

    def resolve(self, request, handler):
        name = str(request.q.qname).rstrip(".").lower()
        if name in self.zone.silent:
            time.sleep(5)  # longer than the tests' timeout: the client gives up
        reply = request.reply()
        if name not in self.zone.records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        wanted = QTYPE[request.q.qtype]
        for line in self.zone.records[name]:
            for rr in RR.fromZone(line):
                if QTYPE[rr.rtype] == wanted:
                    reply.add_answer(rr)
        return reply


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def dns_server(zone: Zone) -> Iterator[str]:
    """Serve `zone` until the block ends; yields the address for DNS_NAMESERVERS."""
    port = _free_udp_port()
    quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
    server = DNSServer(_Resolver(zone), port=port, address="127.0.0.1", logger=quiet)
    server.start_thread()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()
